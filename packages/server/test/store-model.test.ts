/**
 * The mirror checked by a machine: memory-store.ts is a hand port of the Lua scripts, so the same
 * random sequences of operations run on the embedded store, on a real Redis and on a Redis
 * Cluster (model-based testing with fast-check's fc.commands), through the services, at the same
 * test time, and every answer and the state it leaves must be the same as the embedded store's:
 * each VerifyTotpResult (deviceId and deviceName included), each thrown error (code, argument,
 * message), each TotpState with its devices, each renamed TotpDevice, each record (the stored
 * fields of every device, what is left of the record's life, the recovery codes left), each page
 * of totpEnrollments and auditEvents, and after every command each user's audit events (deviceId
 * included) and what each key seals (store.keyUsage(), the counts Redis keeps script by script).
 *
 * Devices (version 2): users enroll devices by a few names (a new device, a pending one's secret
 * replaced, an active one's with replace, TOO_MANY_DEVICES past a small TOTP_MAX_DEVICES), import
 * into them (with lastUsedAt before, at or after now), verify the codes of each device (right,
 * stale, replayed per device, a pending device's), rename them (to a free name, to their own, to
 * another's, of a device gone) and revoke one device or all of them.
 *
 * Secrets are random per store, so each side computes its codes from its own secrets by the
 * same intent ("the code of the second device's newest secret at step now-1", "a wrong code", "the
 * last code that device accepted, again"…: support/store-codes.ts). Sealed values are compared by the key that sealed them
 * and random generations by presence. Everything else is compared as is, audit event ids
 * included: an id is `<bucket stream>-<ms>-<seq>`, which both stores derive from the same test
 * time and the same order of events in the bucket (two of the users share one), so an id that
 * differs is an event recorded in another place or order, not a legitimate difference. The
 * state compared after every command is read without side effects (the embedded store's maps
 * and the Redis hashes as stored, support/store-sides.ts), so a command's effects are not masked
 * by the reads that check them; a device's pending secret that lapsed is left out of that
 * comparison (both stores ignore it and drop it lazily; the embedded store also in its sweeper).
 *
 * Several commands model the operator: a new active key, the retired key dropped from the ring
 * (values it sealed can no longer be opened) or put back, the key counts made again from the
 * records (recountKeys), a restart with another policy (a lower TOTP_MAX_FAILURES than a user's
 * failures, fewer devices allowed than a user holds, another window). Not modelled: concurrent
 * requests (the contract's races suite), a clock that goes back, trimming the bucket's audit stream
 * (Redis trims approximately, by design), and the webhook outbox's retries (due by real time). The
 * outbox's servers taking new events and acknowledging them are modelled (support/store-operator.ts).
 *
 * Each run also draws a policy (window, drift, failures before a lockout, lockouts, client budget,
 * pending life, devices per user) small enough that lockouts, the client budget, lapsed
 * enrollments and TOO_MANY_DEVICES happen within a few dozen commands. Redis's TTLs are moved with the test clock (support/store-sides.ts).
 *
 * Settings (environment):
 *   FC_RUNS      runs (command sequences); default 50. Hunt with e.g. FC_RUNS=500.
 *   FC_SEED      the seed; default a fixed one, so the normal run is reproducible.
 *   FC_COMMANDS  the most commands in a sequence; default 40.
 *   FC_PATH, FC_REPLAY  replay one failure: the path and replayPath fast-check printed (with its FC_SEED).
 *   FC_TALLY     print how often each answer came (the coverage of the run).
 * A failure prints the shrunk sequence, one command a line, with the difference found.
 */
import { DEFAULT_POLICY, codeAt, encodeBase32, parseBase32Secret, type Policy } from '@totp-service/core';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { bucketOf } from '../src/store/keys.js';
import { ADMIN, APP, TestClock } from './contract/harness.js';
import { CLIENT_IPS, commandArbitrary } from './support/store-commands.js';
import { Lockstep, plain } from './support/store-lockstep.js';
import { openStore, RedisTime, Side, type SideName } from './support/store-sides.js';

const urls = { redis: inject('redisUrl'), cluster: inject('redisClusterNodes') };
const number = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const RUNS = number('FC_RUNS', 50);
const SEED = number('FC_SEED', 20_240_611);
const MAX_COMMANDS = number('FC_COMMANDS', 40);

/** Three users, two of them sharing a bucket (one audit stream, one index): ids interleave there. */
const ALICE = 'alice';
const PEER = (() => {
  for (let i = 0; ; i++) if (bucketOf(`peer-${i}`) === bucketOf(ALICE)) return `peer-${i}`;
})();
const USERS = [ALICE, PEER, '{用户}:42'];

const policy: fc.Arbitrary<Policy> = fc
  .record({
    window: fc.constantFrom(0, 1, 2),
    maxDriftSteps: fc.constantFrom(0, 1),
    maxFailures: fc.constantFrom(2, 2, 3, 5),
    lockoutSeconds: fc.constantFrom(30, 60),
    lockoutMaxSeconds: fc.constantFrom(60, 120, 3600),
    clientLimit: fc.constantFrom(3, 4, 6, 60),
    pendingTtlSeconds: fc.constantFrom(60, 150, 900),
    maxDevices: fc.constantFrom(1, 2, 2, 3, 3, 5),
  })
  .map((p) => Object.freeze({ ...DEFAULT_POLICY, ...p }));

async function openRun(kinds: readonly SideName[], p: Policy, tally?: Map<string, number>): Promise<{ run: Lockstep; close: () => Promise<void> }> {
  const clock = new TestClock();
  const opened = await Promise.all(kinds.map((k) => openStore(k, urls)));
  const sides = opened.map((o, i) => new Side(kinds[i]!, o.store, clock, p, o.redis));
  const times = opened.map((o) => (o.redis ? new RedisTime(o.redis, USERS, CLIENT_IPS) : null));
  const run = new Lockstep(sides, times, clock, p, USERS, tally);
  const close = async () => {
    await Promise.all(times.map((t) => t?.cleanup() ?? Promise.resolve()));
    await Promise.all(opened.map((o) => o.store.close()));
  };
  return { run, close };
}

const kinds: SideName[] = ['embedded'];
if (urls.redis) kinds.push('redis');
if (urls.cluster) kinds.push('cluster');

/**
 * What the default run must reach (its seed is fixed, so this holds or fails for good): a change
 * of the generators that stops reaching a lockout, the client budget or a key that is gone would
 * otherwise leave a test that compares only easy answers.
 */
const REACHED = [
  'verifyTotp: ACCEPTED', 'verifyTotp: activated', 'verifyTotp: INVALID_CODE', 'verifyTotp: REPLAYED', 'verifyTotp: LOCKED',
  'verifyTotp: RATE_LIMITED', 'verifyTotp: NOT_ENROLLED', 'verifyTotp: MALFORMED', 'verifyTotp: SealError',
  'verifyRecoveryCode: ACCEPTED', 'verifyRecoveryCode: INVALID_CODE', 'verifyRecoveryCode: NOT_ENROLLED', 'verifyRecoveryCode: LOCKED',
  'verifyRecoveryCode: RATE_LIMITED', 'enrollTotp: ALREADY_ENROLLED', 'importTotp: ALREADY_ENROLLED', 'generateRecoveryCodes: NOT_ENROLLED',
  'rekeyTotp: rekeyed some',
  // devices
  'enrollTotp: TOO_MANY_DEVICES', 'importTotp: TOO_MANY_DEVICES', 'verifyTotp: ACCEPTED by a device other than the first',
  'verifyTotp: activated a device other than the first', 'revokeTotp of a device: true', 'revokeTotp of a device: false',
  'renameTotpDevice: answered', 'renameTotpDevice: NOT_ENROLLED', 'renameTotpDevice: BAD_USER_INPUT',
  'outbox.take: answered', 'outbox.backlog: answered',
];

describe.skipIf(kinds.length < 2)(`the embedded store answers like ${kinds.slice(1).join(' and ')}`, () => {
  it(`on ${RUNS} random sequences of up to ${MAX_COMMANDS} commands (seed ${SEED})`, { timeout: 600_000 }, async () => {
    const tally = new Map<string, number>();
    const commands = fc.commands([commandArbitrary(USERS, policy)], {
      maxCommands: MAX_COMMANDS,
      size: 'max',
      ...(process.env.FC_REPLAY ? { replayPath: process.env.FC_REPLAY } : {}),
    });
    const property = fc.asyncProperty(policy, commands, async (p, sequence) => {
      const { run, close } = await openRun(kinds, p, tally);
      try {
        await fc.asyncModelRun(() => ({ model: {}, real: run }), sequence);
        // everyone's events: those of no user (rekeys) and of ids with nothing enrolled included
        await run.step('(end) audit of everyone', async (q) => q.same('auditEvents', await q.each((s) => s.admin.auditEvents({ first: 1000 }))));
      } catch (err) {
        const steps = run.log.map((l, i) => `  ${String(i + 1).padStart(2)}. ${l}`).join('\n');
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`with policy ${JSON.stringify(p)}, after\n${steps}\n${message}`, { cause: err });
      } finally {
        await close();
      }
    });
    await fc.assert(property, { numRuns: RUNS, seed: SEED, ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}) });
    if (process.env.FC_TALLY) console.log([...tally].sort().map(([k, n]) => `${String(n).padStart(6)}  ${k}`).join('\n'));
    if (!process.env.FC_SEED && !process.env.FC_PATH && RUNS >= 50) {
      expect(REACHED.filter((k) => !tally.has(k)), 'answers the default run no longer reaches').toEqual([]);
    }
  });
});

/** Counterexamples the property found, kept as plain tests on every store. */
describe('what the differential test found', () => {
  const SHORT = Object.freeze({ ...DEFAULT_POLICY, pendingTtlSeconds: 60 });
  const enroll = (run: Lockstep, more: { replace?: boolean } = {}) =>
    run.step('enroll alice', async (q) => q.same('enrollTotp', (await q.each((s) => s.service.enroll(APP, { userId: ALICE, ...more }))).map((a) => 'ok' in a)));
  /** Enroll alice and confirm the enrollment with each side's own code. */
  const activate = async (run: Lockstep) => {
    const answers = await run.each((s) => s.service.enroll(APP, { userId: ALICE }));
    const codes = answers.map((a) => ('ok' in a ? codeAt(parseBase32Secret(a.ok.secret), run.clock.now / 1000, { algorithm: 'SHA1', digits: 6, period: 30 }) : ''));
    const verified = await run.each((s, i) => s.service.verify(APP, ALICE, codes[i]!));
    expect(verified.map((v) => ('ok' in v ? v.ok.outcome : v))).toEqual(kinds.map(() => 'ACCEPTED'));
  };
  const newKeyWithoutTheOld = (run: Lockstep) => {
    for (const s of run.sides) s.rotateKey();
    for (const s of run.sides) s.dropRetiredKey(true);
  };
  const rekey = async (run: Lockstep) => (await run.each((s) => s.admin.rekey(ADMIN))).map(plain);
  const withRun = async (test: (run: Lockstep) => Promise<void>) => {
    const { run, close } = await openRun(kinds, SHORT);
    try {
      await test(run);
    } finally {
      await close();
    }
  };

  it('a rekey re-seals nothing of a pending enrollment that has lapsed (the embedded store re-sealed and counted it)', () =>
    withRun(async (run) => {
      await enroll(run);
      await run.advance(60_000);
      for (const s of run.sides) s.rotateKey();
      expect(await rekey(run)).toEqual(kinds.map(() => ({ ok: { rekeyed: 0, activeKeyId: 'k2' } })));
    }));

  it('a lapsed pending enrollment sealed with a key no longer in the ring fails no rekey (it failed on the embedded store)', () =>
    withRun(async (run) => {
      await enroll(run);
      await run.advance(60_000);
      newKeyWithoutTheOld(run);
      expect(await rekey(run)).toEqual(kinds.map(() => ({ ok: { rekeyed: 0, activeKeyId: 'k2' } })));
    }));

  it.each([
    ['right after it lapsed', false],
    ['after a rekey that had nothing to re-seal (the embedded store then said 1, Redis 2)', true],
  ])('a lapsed replacement sealed with a key no longer in the ring is not counted as a value that cannot be opened: %s', (_, rekeyFirst) =>
    withRun(async (run) => {
      await activate(run);
      await enroll(run, { replace: true });
      await run.advance(60_000);
      if (rekeyFirst) expect(await rekey(run)).toEqual(kinds.map(() => ({ ok: { rekeyed: 0, activeKeyId: 'k1' } })));
      newKeyWithoutTheOld(run);
      // the active secret alone cannot be opened
      for (const answer of await rekey(run)) {
        expect(answer).toHaveProperty('error.name', 'SealError');
        expect(String((answer as { error: { message: string } }).error.message)).toMatch(/^1 sealed value could not be opened \(1 sealed with key "k1"/);
      }
    }));

  it('a rekey with nothing to re-seal leaves the key counts alone (the embedded store dropped a lapsed device and its count, Redis sends no script)', () =>
    withRun(async (run) => {
      await enroll(run);
      const secret = encodeBase32(Buffer.alloc(20, 1));
      await run.step('import alice device "phone"', async (q) => q.same('importTotp', await q.each((s) => s.admin.importTotp(ADMIN, { userId: ALICE, secret, deviceName: 'phone' }))));
      await run.advance(60_000);
      // the pending device 'default' has lapsed: its sealed secret waits for alice's next operation
      await run.step('rekey', async (q) => q.same('rekeyTotp', await q.each((s) => s.admin.rekey(ADMIN))));
      const usage = await Promise.all(run.sides.map((s) => s.store.keyUsage()));
      expect(usage).toEqual(kinds.map(() => ({ counts: { k1: 2 }, counted: true })));
    }));

  it('the webhook outbox hands out the events recorded after it started (on Redis, with a key prefix, it answered NOGROUP)', () =>
    withRun(async (run) => {
      const take = () => run.each(async (s) => (await s.store.outbox.take('a', 100)).map((e) => [e.event.type, e.event.userId, e.deliveries]));
      await run.each((s) => s.store.outbox.start());
      expect((await take()).map(plain)).toEqual(kinds.map(() => ({ ok: [] })));
      await enroll(run);
      expect((await take()).map(plain)).toEqual(kinds.map(() => ({ ok: [['ENROLLED', ALICE, 1]] })));
      expect((await run.each((s) => s.store.outbox.backlog())).map(plain)).toEqual(kinds.map(() => ({ ok: { pending: 1, waiting: 0 } })));
    }));
});
