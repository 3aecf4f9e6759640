/**
 * A redis-server of one test file's own, so that its INFO counters count that file's commands
 * alone: started before the file's tests, stopped after. A RedisStore on it (key prefix `totp:`)
 * and a connection without the prefix for INFO, CONFIG and MONITOR.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisProcess } from '../../../test/support/redis.js';
import { FAIL_FAST } from '../src/store/connect.js';
import { RedisStore } from '../src/store/redis-store.js';
import type { StoreOptions } from '../src/store/store.js';

export interface OwnRedis {
  readonly store: RedisStore;
  /** The store's connection (key prefix `totp:`). */
  readonly client: Redis;
  /** No key prefix. */
  readonly admin: Redis;
}

export function ownRedisStore(options: StoreOptions): OwnRedis {
  let redis: RedisProcess | undefined;
  const own: { store?: RedisStore; client?: Redis; admin?: Redis } = {};
  beforeAll(async () => {
    redis = await startRedis();
    own.client = new Redis(redis.url, { ...FAIL_FAST, commandTimeout: 30_000, keyPrefix: 'totp:', lazyConnect: true });
    own.admin = new Redis(redis.url, { lazyConnect: true });
    await Promise.all([own.client.connect(), own.admin.connect()]);
    own.store = new RedisStore(own.client, options);
  });
  afterAll(async () => {
    await own.store?.close();
    own.admin?.disconnect();
    await redis?.stop(true);
    redis?.cleanup();
  });
  return {
    get store() {
      return own.store!;
    },
    get client() {
      return own.client!;
    },
    get admin() {
      return own.admin!;
    },
  };
}

/** Calls per command since the server started (or its last CONFIG RESETSTAT), from INFO commandstats. */
export async function commandCalls(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}
