// Values the vitest globalSetup (global-setup.ts) provides to every test file through inject().
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test Redis (redis://127.0.0.1:<port>), or null when there is no redis-server. */
    redisUrl: string | null;
    /** Seeds of the test Redis Cluster (`127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`), or null. */
    redisClusterNodes: string | null;
  }
}
