import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { FAIL_FAST } from '../../src/store/connect.js';
import { RedisStore } from '../../src/store/redis-store.js';
import type { StoreOptions } from '../../src/store/store.js';

/**
 * A store on the test Redis (inject('redisUrl')) with its own key prefix: no FLUSHALL, no
 * interference between tests; `options` as a contract test asks (small audit caps).
 */
export async function redisStore(url: string, options: Partial<StoreOptions> = {}): Promise<{ store: RedisStore; client: Redis; prefix: string; dispose: () => Promise<void> }> {
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const client = new Redis(url, { ...FAIL_FAST, keyPrefix: prefix, lazyConnect: true });
  await client.connect();
  const store = new RedisStore(client, { auditMaxEvents: 10_000, auditUserMaxEvents: 1000, ...options });
  await store.ping();
  return { store, client, prefix, dispose: () => store.close() };
}
