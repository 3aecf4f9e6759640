import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { clusterOptions } from '../../src/store/connect.js';
import { RedisStore } from '../../src/store/redis-store.js';
import type { StoreOptions } from '../../src/store/store.js';

/**
 * A store on the test Redis Cluster (inject('redisClusterNodes')) with its own key prefix: no
 * FLUSHALL, no interference between tests; `options` as a contract test asks (small audit caps).
 */
export async function clusterStore(seeds: string, options: Partial<StoreOptions> = {}) {
  const prefix = `c${randomBytes(4).toString('hex')}:`;
  const nodes = seeds.split(',').map((s) => ({ host: s.split(':')[0]!, port: Number(s.split(':')[1]) }));
  const client = new Cluster(nodes, clusterOptions(prefix));
  client.on('error', () => {});
  await client.connect();
  const store = new RedisStore(client, { auditMaxEvents: 10_000, auditUserMaxEvents: 1000, ...options });
  await store.ping();
  return { store, client, prefix, dispose: () => store.close() };
}
