import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, inject } from 'vitest';
import { FAIL_FAST } from '../src/store/connect.js';
import { RedisStore } from '../src/store/redis-store.js';
import type { StoreOptions } from '../src/store/store.js';
import { storeContract } from './contract/index.js';

const redisUrl = inject('redisUrl');
if (!redisUrl) console.warn('skipping the Redis store tests: no redis-server (apt-get install redis-server)');

/** Each test gets its own key prefix on the shared test Redis: no FLUSHALL, no interference. */
export async function redisStore(url: string, options: Partial<StoreOptions> = {}): Promise<{ store: RedisStore; client: Redis; prefix: string; dispose: () => Promise<void> }> {
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const client = new Redis(url, { ...FAIL_FAST, keyPrefix: prefix, lazyConnect: true });
  await client.connect();
  const store = new RedisStore(client, { auditMaxEvents: 10_000, auditUserMaxEvents: 1000, ...options });
  await store.ping();
  return { store, client, prefix, dispose: () => store.close() };
}

describe.skipIf(!redisUrl)('redis store', () => {
  storeContract((options) => redisStore(redisUrl!, options));
});
