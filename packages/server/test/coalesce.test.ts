/**
 * The script calls of one turn of the event loop leave in one socket write (store/coalesce.ts),
 * counted by Redis itself (INFO stats total_reads_processed) on a redis-server of this file's own;
 * calls on a connection that breaks before the write fail, and nothing of them is counted.
 */
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { requireTool } from '../../../test/support/tools.js';
import { makeHarness, wrongCode } from './contract/harness.js';
import { ownRedisStore } from './own-redis.js';

const hasRedis = requireTool('redis-server') !== null;

/** Redis's socket reads so far, and the bytes they read. */
async function reads(admin: Redis): Promise<{ reads: number; bytes: number }> {
  const info = await admin.info('stats');
  const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1]);
  return { reads: field('total_reads_processed'), bytes: field('total_net_input_bytes') };
}

// Redis reads a client's socket 16 KB at a time (PROTO_IOBUF_LEN)
const READ_CHUNK = 16 * 1024;

describe.skipIf(!hasRedis)('script calls coalesced per turn', () => {
  const own = ownRedisStore({ auditMaxEvents: 10_000, auditUserMaxEvents: 1000 });
  const USERS = 20;

  it('twenty verifies started in one turn reach Redis in as few reads as their size allows, each answered as its own', async () => {
    const h = makeHarness(own.store);
    const ids = Array.from({ length: USERS }, (_, i) => `c${i}`);
    const factors = await Promise.all(ids.map((id) => h.activate(id)));
    // each activation moved the test clock a step on, past the first users' secrets' time in the
    // server's memory: a first wrong code each opens them again, at the same moment for all
    const wrong = () => Promise.all(ids.map((id, i) => h.verify(id, wrongCode(h.code(factors[i]!)), `192.0.2.${i + 1}`)));
    await wrong();
    const before = await reads(own.admin);
    // one call each, all made before anything is awaited
    const results = await wrong();
    const after = await reads(own.admin);
    expect(results.map((r) => r.outcome)).toEqual(ids.map(() => 'INVALID_CODE'));
    expect(results.map((r) => r.remainingAttempts)).toEqual(ids.map(() => 3));
    // the batch as few reads as its size allows, and the INFO that counted it; one write a call
    // would have been twenty reads
    const batch = after.bytes - before.bytes;
    expect(after.reads - before.reads).toBeLessThanOrEqual(Math.ceil(batch / READ_CHUNK) + 1);
    expect(Math.ceil(batch / READ_CHUNK) + 1).toBeLessThan(USERS / 4);
  });

  it('a call on its own is not held for others: it is answered within 250 ms', async () => {
    const h = makeHarness(own.store);
    const f = await h.activate('alone');
    const started = performance.now();
    expect((await h.verify('alone', wrongCode(h.code(f)))).outcome).toBe('INVALID_CODE');
    expect(performance.now() - started).toBeLessThan(250);
  });

  it('calls whose connection breaks before their write fail at once, none hangs and none is counted', async () => {
    const h = makeHarness(own.store);
    const f = await h.activate('breaking');
    const pending = [0, 1, 2].map(() => h.verify('breaking', wrongCode(h.code(f))).then(() => 'answered', (err: Error) => err.message));
    // the calls sit in the corked socket: it breaks before the turn's write
    own.client.stream.destroy();
    const outcomes = await Promise.all(pending);
    expect(outcomes.filter((o) => o === 'answered')).toEqual([]);
    await once(own.client, 'ready');
    // Redis never saw them: the next wrong code is the first failure
    expect(await h.verify('breaking', wrongCode(h.code(f)))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 4 });
  });
});
