/**
 * What one auditEvents(userId:) costs on Redis, with 100,000 events of other users in the log (half
 * of them in the user's own bucket stream): the commands Redis executes (INFO commandstats deltas,
 * on a redis-server of this test's own) and every command with its keys (MONITOR). The user's
 * query must read the user's own list of event ids, then exactly the user's entries of the bucket
 * stream (one XRANGE id id each), and nothing else but one bound read of the bucket stream.
 */
import { describe, expect, it } from 'vitest';
import { requireTool } from '../../../test/support/tools.js';
import { bucketOf, userKeys } from '../src/store/keys.js';
import { makeHarness } from './contract/harness.js';
import { commandCalls, ownRedisStore } from './own-redis.js';

const hasRedis = requireTool('redis-server') !== null && requireTool('redis-cli') !== null;
const OTHERS = 1000;
const EVENTS_EACH = 100;

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cmd, n] of after) if (n - (before.get(cmd) ?? 0) > 0 && cmd !== 'info') out[cmd] = n - (before.get(cmd) ?? 0);
  return out;
}

describe.skipIf(!hasRedis)('the cost of one user\'s audit query on Redis', () => {
  // a cap high enough to keep all 100,000 events (the default keeps 1,000,000 / 32 a bucket)
  const own = ownRedisStore({ auditMaxEvents: 10_000_000, auditUserMaxEvents: 1000 });

  it('touches only that user\'s entries among 100,000 events of others', async () => {
    const { store, client, admin } = own;
    const h = makeHarness(store, { maxFailures: 1_000_000 });
    const user = 'needle@example.com';
    await h.seed(user, true);
    for (let i = 0; i < 12; i++) await h.verify(user, '000000', '192.0.2.1');
    // 1,000 other users, half of them in the user's bucket, 100 failed verifies each
    const others: string[] = [];
    for (let i = 0, same = 0; others.length < OTHERS; i++) {
      const id = `other-${i}`;
      const inBucket = bucketOf(id) === bucketOf(user);
      if (inBucket ? same < OTHERS / 2 : others.length - same < OTHERS / 2) {
        others.push(id);
        if (inBucket) same++;
      }
    }
    await Promise.all(others.map((id) => h.seed(id, true)));
    const settle = (userId: string) =>
      store.settle({ userId, hold: undefined, settlement: { kind: 'none', outcome: 'INVALID_CODE' }, now: h.clock.now, limits: h.service.limits, actor: { name: 'load' } });
    for (let round = 0; round < EVENTS_EACH; round++) await Promise.all(others.map(settle));
    const bucketLength = await client.xlen(userKeys(user).audit);
    expect(bucketLength).toBeGreaterThanOrEqual((OTHERS / 2) * (EVENTS_EACH + 1));

    const monitor = await admin.duplicate().monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
    await new Promise((r) => setTimeout(r, 100));
    const before = await commandCalls(admin);
    const started = performance.now();
    const page = await store.auditEvents({ userId: user, first: 100 });
    const ms = performance.now() - started;
    const after = await commandCalls(admin);
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();

    expect(page.nodes).toHaveLength(13);
    expect(page.nodes.every((e) => e.userId === user)).toBe(true);
    expect(page.hasNextPage).toBe(false);
    const commands = delta(before, after);
    // one script (a function, FCALL; or EVALSHA where Redis has none) reads the list and the user's 13 entries
    const { eval: evals = 0, evalsha = 0, fcall = 0, fcall_ro: fcallRo = 0, ...rest } = commands;
    expect(evals + evalsha + fcall + fcallRo).toBe(1);
    expect(rest).toEqual({ lrange: 1, xrange: 13 + 1 });
    const k = userKeys(user);
    const ours = seen.filter((args) => /^(lrange|xrange)$/i.test(args[0]!)).map((a) => a.join(' ').toUpperCase());
    const ids = page.nodes.map((e) => e.id.replace(/^\d+-/, ''));
    expect(ours.sort()).toEqual(
      [
        `XRANGE totp:${k.audit} - + COUNT 1`,
        `LRANGE totp:${k.events} 0 63`,
        ...ids.map((id) => `XRANGE totp:${k.audit} ${id} ${id}`),
      ].map((c) => c.toUpperCase()).sort(),
    );
    // entries Redis handed over: the user's 13 (of at most 101 asked for) and the one bound entry
    console.log(
      `one auditEvents(userId:) call costs ${Object.values(commands).reduce((a, b) => a + b, 0)} Redis commands ` +
        `(${JSON.stringify(commands)}), reads ${page.nodes.length} + 1 entries, ${ms.toFixed(1)} ms, ` +
        `with ${bucketLength} events in the user's bucket stream and ${OTHERS * EVENTS_EACH} events of others in all`,
    );

    // for contrast: the same question asked of everyone's log touches every bucket's stream
    const before2 = await commandCalls(admin);
    const everyone = await store.auditEvents({ first: 100 });
    const contrast = delta(before2, await commandCalls(admin));
    expect(everyone.nodes).toHaveLength(100);
    expect(contrast.xrevrange).toBeGreaterThanOrEqual(32);
  });
});
