/**
 * What one verify runs inside Redis when the server holds the user's secrets open (one round trip,
 * scripts/attempt.lua), counted by INFO commandstats on a redis-server of this test's own: the
 * reservation's counters are written by the same script only when the code is not accepted (an
 * accepted code removes them), so an accepted code writes the hash once, with one HDEL when the
 * hash held counters (a failure before) and none on the usual login.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { requireTool } from '../../../test/support/tools.js';
import { userKeys } from '../src/store/keys.js';
import { makeHarness, wrongCode } from './contract/harness.js';
import { commandCalls, ownRedisStore } from './own-redis.js';

const hasRedis = requireTool('redis-server') !== null;

/** The commands Redis ran for `act`, by name (INFO and CONFIG apart). */
async function commandsOf(admin: Redis, act: () => Promise<unknown>): Promise<Record<string, number>> {
  await admin.config('RESETSTAT');
  await act();
  const out: Record<string, number> = {};
  for (const [name, n] of await commandCalls(admin)) if (name !== 'info' && !name.startsWith('config')) out[name] = n;
  return out;
}

describe.skipIf(!hasRedis)('the commands of one verify on Redis', () => {
  const own = ownRedisStore({ auditMaxEvents: 10_000, auditUserMaxEvents: 1000 });

  it('an accepted code writes the hash once (removing counters only when there are some); a wrong one writes the counters once', async () => {
    const { store, client, admin } = own;
    const h = makeHarness(store);
    const f = await h.activate('u');
    // held open since the activation: one FCALL each; the client address's counter is new (PEXPIRE)
    const wrong = await commandsOf(admin, async () => expect((await h.verify('u', wrongCode(h.code(f)), '192.0.2.1')).outcome).toBe('INVALID_CODE'));
    expect(wrong).toEqual({ fcall: 1, hgetall: 1, incr: 1, pexpire: 1, hset: 1, xadd: 1, lpush: 1 });
    expect(await client.hget(userKeys('u').user, 'f')).toBe('1');
    // an accepted code after a failure removes the counters with one HDEL and writes the hash once
    h.clock.advance(30_000);
    const accepted = await commandsOf(admin, async () => expect(await h.verify('u', h.code(f), '192.0.2.1')).toMatchObject({ outcome: 'ACCEPTED', remainingAttempts: 5 }));
    expect(accepted).toEqual({ fcall: 1, hgetall: 1, incr: 1, hdel: 1, hset: 1, xadd: 1, lpush: 1 });
    expect(await client.hmget(userKeys('u').user, 'f', 'lu', 'lc')).toEqual([null, null, null]);
    // the usual login, no failure stored: nothing to remove, no HDEL
    h.clock.advance(30_000);
    const usual = await commandsOf(admin, () => h.verify('u', h.code(f), '192.0.2.1'));
    expect(usual).toEqual({ fcall: 1, hgetall: 1, incr: 1, hset: 1, xadd: 1, lpush: 1 });
  });
});
