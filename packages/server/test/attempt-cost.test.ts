/**
 * What one verify runs inside Redis when the server holds the user's secrets open (one round trip,
 * scripts/attempt.lua), counted by INFO commandstats on a redis-server of this test's own: the
 * reservation's counters are written by the same script only when the code is not accepted (an
 * accepted code removes them), so an accepted code writes the hash once, with one HDEL.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../../../test/support/redis.js';
import { requireTool } from '../../../test/support/tools.js';
import { FAIL_FAST } from '../src/store/connect.js';
import { userKeys } from '../src/store/keys.js';
import { RedisStore } from '../src/store/redis-store.js';
import { makeHarness, wrongCode } from './contract/harness.js';

const hasRedis = requireTool('redis-server') !== null;

describe.skipIf(!hasRedis)('the commands of one verify on Redis', () => {
  let redis: RedisProcess;
  let client: Redis;
  let admin: Redis;
  let store: RedisStore;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { ...FAIL_FAST, keyPrefix: 'totp:', lazyConnect: true });
    admin = new Redis(redis.url, { lazyConnect: true });
    await Promise.all([client.connect(), admin.connect()]);
    store = new RedisStore(client, { auditMaxEvents: 10_000, auditUserMaxEvents: 1000 });
  });
  afterAll(async () => {
    await store?.close();
    admin?.disconnect();
    await redis?.stop(true);
    redis?.cleanup();
  });

  /** The commands Redis ran for `act`, by name (INFO and CONFIG apart). */
  async function commandsOf(act: () => Promise<unknown>): Promise<Record<string, number>> {
    await admin.config('RESETSTAT');
    await act();
    const info = await admin.info('commandstats');
    const out: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (m[1] !== 'info' && !m[1]!.startsWith('config')) out[m[1]!] = Number(m[2]);
    return out;
  }

  it('an accepted code writes the hash once; a wrong one writes the counters once', async () => {
    const h = makeHarness(store);
    const f = await h.activate('u');
    // held open since the activation: one FCALL each; the client address's counter is new (PEXPIRE)
    const wrong = await commandsOf(async () => expect((await h.verify('u', wrongCode(h.code(f)), '192.0.2.1')).outcome).toBe('INVALID_CODE'));
    expect(wrong).toEqual({ fcall: 1, hgetall: 1, incr: 1, pexpire: 1, hset: 1, xadd: 1, lpush: 1 });
    expect(await client.hget(userKeys('u').user, 'f')).toBe('1');
    // an accepted code after a failure removes the counters with one HDEL and writes the hash once
    h.clock.advance(30_000);
    const accepted = await commandsOf(async () => expect(await h.verify('u', h.code(f), '192.0.2.1')).toMatchObject({ outcome: 'ACCEPTED', remainingAttempts: 5 }));
    expect(accepted).toEqual({ fcall: 1, hgetall: 1, incr: 1, hdel: 1, hset: 1, xadd: 1, lpush: 1 });
    expect(await client.hmget(userKeys('u').user, 'f', 'lu', 'lc')).toEqual([null, null, null]);
    h.clock.advance(30_000);
    expect(await commandsOf(() => h.verify('u', h.code(f), '192.0.2.1'))).toEqual(accepted);
  });
});
