/**
 * verifyRecoveryCode under every brute-force shape, through two whole servers in this process on
 * one store (both stores): aliases, hundreds of parallel requests split between the servers, and
 * recovery guesses mixed with verifyTotp guesses on the same user. The budget and the lockout are
 * shared: never more than TOTP_MAX_FAILURES codes of either kind are evaluated per user per
 * lockout. "Evaluated" is measured three ways: the key ring counts every recovery key and secret
 * it opens (a recovery verify opens the user's recovery key), the audit trail holds one evaluated
 * event per code compared, and /metrics counts them. The same attacks on built processes:
 * test/brute-force-recovery.e2e.test.ts; code variants: recovery-variants.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { counter } from '../../../test/support/inspect.js';
import { GRAPHQL_LIMITS } from '../src/limits.js';
import type { InProcessServer } from './support/in-process.js';
import { MAX_FAILURES, activate, evaluated, recover, startPair, status, storePairs, tally, verify, type Answer } from './support/pair.js';

const MAX_ALIASES = GRAPHQL_LIMITS.maxAliases;

/** INVALID_CODE answers counted by both servers' /metrics, for one kind. */
const invalidMetric = async (servers: InProcessServer[], kind: 'totp' | 'recovery') =>
  (await Promise.all(servers.map((s) => counter(s.base, 'totp_verify_total', { outcome: 'INVALID_CODE', kind })))).reduce((x, y) => x + y, 0);

describe.each(storePairs)('recovery codes under brute force, %s', (_name, open) => {
  let p: Awaited<ReturnType<typeof startPair>>;
  beforeEach(async () => {
    p = await startPair(open);
  });
  afterEach(() => p.close());

  const doc = (userId: string, codes: readonly string[]) =>
    `mutation { ${codes.map((c, i) => `g${i}: verifyRecoveryCode(userId: "${userId}", code: "${c}") { outcome remainingAttempts }`).join(' ')} }`;

  it(`evaluates ${MAX_FAILURES} of ${MAX_ALIASES} aliased guesses in one request, and none of ${MAX_ALIASES + 1}`, async () => {
    const u = await activate(p.a, p.clock.now, 'aliases');
    const before = p.keyRing.unseals;
    const refused = await p.a.gql(doc('aliases', u.wrongRecovery.slice(0, MAX_ALIASES + 1)));
    expect(refused.status).toBe(400);
    expect(refused.json!.errors!.map((e) => e.extensions)).toEqual([{ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' }]);
    expect(p.keyRing.unseals).toBe(before);
    expect(await evaluated(p.a.store, 'aliases', ['RECOVERY_CODE_USED'])).toBe(0);

    // mutations run one after another: five failures, then the lockout, which holds the right code too
    const r = await p.b.gql(doc('aliases', [...u.wrongRecovery.slice(0, MAX_ALIASES - 1), u.codes[0]!]));
    expect(Object.values(r.json!.data!)).toEqual([
      ...[4, 3, 2, 1, 0].map((left) => ({ outcome: 'INVALID_CODE', remainingAttempts: left })),
      ...Array.from({ length: MAX_ALIASES - MAX_FAILURES }, () => ({ outcome: 'LOCKED', remainingAttempts: 0 })),
    ]);
    expect(p.keyRing.recoveryKeys).toBe(MAX_FAILURES);
    expect(p.keyRing.unseals - before).toBe(MAX_FAILURES);
    expect(await evaluated(p.a.store, 'aliases')).toBe(1 + MAX_FAILURES);
    expect(await invalidMetric([p.a, p.b], 'recovery')).toBe(MAX_FAILURES);
    expect(await status(p.a, 'aliases')).toMatchObject({ failedAttempts: MAX_FAILURES, recoveryCodesRemaining: 10 });
  });

  it('evaluates the budget of 300 parallel guesses split between two servers, and of 20 parallel requests of 15 aliases', async () => {
    const u = await activate(p.a, p.clock.now, 'parallel');
    const answers = await Promise.all(u.wrongRecovery.slice(0, 300).map((c, i) => recover(i % 2 ? p.b : p.a, 'parallel', c)));
    expect(tally(answers.map((x) => x.outcome))).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 300 - MAX_FAILURES });
    expect(answers.filter((x) => x.outcome === 'INVALID_CODE').map((x) => x.remainingAttempts).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(p.keyRing.recoveryKeys).toBe(MAX_FAILURES);
    expect(await evaluated(p.a.store, 'parallel', ['RECOVERY_CODE_USED'])).toBe(MAX_FAILURES);
    expect((await p.b.store.auditEvents({ userId: 'parallel', types: ['LOCKED'], first: 10 })).nodes).toHaveLength(1);

    const w = await activate(p.b, p.clock.now, 'alias-parallel');
    const pages = await Promise.all(Array.from({ length: 20 }, (_, k) => (k % 2 ? p.a : p.b).gql(doc('alias-parallel', w.wrongRecovery.slice(k * 15, k * 15 + 15)))));
    const outcomes = pages.flatMap((r) => Object.values(r.json!.data!).map((v) => (v as Answer).outcome));
    expect(tally(outcomes)).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 300 - MAX_FAILURES });
    expect(p.keyRing.recoveryKeys).toBe(2 * MAX_FAILURES);
    expect(await invalidMetric([p.a, p.b], 'recovery')).toBe(2 * MAX_FAILURES);
  });

  it('shares one budget and one lockout between verifyTotp and verifyRecoveryCode, lockout after lockout', async () => {
    const u = await activate(p.a, p.clock.now, 'mixed');
    const secretsBefore = p.keyRing.secrets;
    for (const [round, lockout] of [[0, 60], [1, 120], [2, 240]] as const) {
      // 400 guesses at once, TOTP and recovery alternating, over both servers
      const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => {
        const server = i % 4 < 2 ? p.a : p.b;
        const k = round * 200 + (i >> 1);
        return i % 2 ? recover(server, 'mixed', u.wrongRecovery[k]!) : verify(server, 'mixed', u.wrongTotp[k]!);
      }));
      expect(tally(answers.map((x) => x.outcome))).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 400 - MAX_FAILURES });
      expect(p.keyRing.secrets - secretsBefore + p.keyRing.recoveryKeys).toBe((round + 1) * MAX_FAILURES);
      expect(await evaluated(p.b.store, 'mixed')).toBe(1 + (round + 1) * MAX_FAILURES);
      // locked for both kinds, right codes included, and no recovery code was spent
      expect(await recover(p.a, 'mixed', u.codes[0]!)).toMatchObject({ outcome: 'LOCKED', retryAfterSeconds: lockout });
      expect(await verify(p.b, 'mixed', u.totpAt(p.clock.now))).toMatchObject({ outcome: 'LOCKED', retryAfterSeconds: lockout });
      expect(await status(p.a, 'mixed')).toMatchObject({ failedAttempts: MAX_FAILURES, recoveryCodesRemaining: 10 });
      // each lockout is twice the one before; when it is over, a fresh budget
      p.clock.now += lockout * 1000;
    }
    expect((await recover(p.b, 'mixed', u.codes[0]!)).outcome).toBe('ACCEPTED');
    expect(await status(p.a, 'mixed')).toMatchObject({ failedAttempts: 0, recoveryCodesRemaining: 9, lockedUntil: null });
    expect((await invalidMetric([p.a, p.b], 'recovery')) + (await invalidMetric([p.a, p.b], 'totp'))).toBe(3 * MAX_FAILURES);
    expect((await p.a.store.auditEvents({ userId: 'mixed', types: ['LOCKED'], first: 10 })).nodes.map((e) => e.detail)).toEqual(
      [240, 120, 60].map((s) => `locked for ${s}s after ${MAX_FAILURES} failures`),
    );
  });

  it('accepts one of two concurrent uses of one code on two servers, for every code, and one of twenty', async () => {
    const u = await activate(p.a, p.clock.now, 'race');
    for (const code of u.codes.slice(0, 9)) {
      const pair = await Promise.all([recover(p.a, 'race', code), recover(p.b, 'race', code)]);
      expect(pair.map((x) => x.outcome).sort()).toEqual(['ACCEPTED', 'INVALID_CODE']);
    }
    const last = u.codes[9]!;
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => recover(i % 2 ? p.b : p.a, 'race', last)));
    expect(many.filter((x) => x.outcome === 'ACCEPTED')).toHaveLength(1);
    // those reserved after the last code was used find none left: NOT_ENROLLED
    expect(many.every((x) => ['ACCEPTED', 'INVALID_CODE', 'LOCKED', 'NOT_ENROLLED'].includes(x.outcome))).toBe(true);
    expect((await status(p.b, 'race')).recoveryCodesRemaining).toBe(0);
    const accepted = (await p.a.store.auditEvents({ userId: 'race', types: ['RECOVERY_CODE_USED'], first: 100 })).nodes.filter((e) => e.outcome === 'ACCEPTED');
    expect(accepted).toHaveLength(10);
  });

  it('never counts a malformed code: a thousand evaluate nothing and leave the budget whole', async () => {
    const u = await activate(p.a, p.clock.now, 'garbage');
    const code = u.codes[0]!;
    const malformed = ['', ' ', '-', code.slice(0, -1), `${code}a`, code.replace(/[0-9a-z]$/, 'u'), `${code} ${' '.repeat(60)}`, 'x'.repeat(65),
      code.replace('-', '\u00a0'), `${code}\n`, code.replace(/[a-z]/, (c) => String.fromCodePoint(0xff41 + c.charCodeAt(0) - 97)), '\u212a'.repeat(12)];
    const before = p.keyRing.unseals;
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => recover(i % 2 ? p.b : p.a, 'garbage', malformed[i % malformed.length]!, '192.0.2.50')));
    expect(tally(answers.map((x) => x.outcome))).toEqual({ MALFORMED: 1000 });
    expect(answers.every((x) => x.remainingAttempts === null)).toBe(true);
    expect(p.keyRing.unseals).toBe(before);
    expect((await p.a.store.auditEvents({ userId: 'garbage', types: ['RECOVERY_CODE_USED'], first: 10 })).nodes).toHaveLength(0);
    expect(await status(p.b, 'garbage')).toMatchObject({ failedAttempts: 0, recoveryCodesRemaining: 10 });
    // the budget is whole: five wrong codes are evaluated, then the lockout; the client address's
    // budget was not touched either (the sixth is LOCKED, not RATE_LIMITED)
    const wrong = await Promise.all(u.wrongRecovery.slice(0, 6).map((c) => recover(p.a, 'garbage', c, '192.0.2.50')));
    expect(tally(wrong.map((x) => x.outcome))).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 1 });
    expect(p.keyRing.unseals - before).toBe(MAX_FAILURES);
  });
});

describe('recovery codes across users, one client address', () => {
  it.each(storePairs)('holds the address to its budget across 100 users, %s', async (_name, open) => {
    const p = await startPair(open, { clientLimit: 60 });
    try {
      const users = Array.from({ length: 100 }, (_, i) => `spread-${i}`);
      const guesses: string[] = [];
      for (let i = 0; i < users.length; i += 10) {
        for (const u of await Promise.all(users.slice(i, i + 10).map((id) => activate(p.a, p.clock.now, id)))) guesses.push(u.wrongRecovery[0]!);
      }
      const answers = await Promise.all(users.map((id, i) => recover(i % 2 ? p.b : p.a, id, guesses[i]!, '198.51.100.23')));
      expect(tally(answers.map((x) => x.outcome))).toEqual({ INVALID_CODE: 60, RATE_LIMITED: 40 });
      expect(p.keyRing.recoveryKeys).toBe(60);
      // a refused attempt was not counted against its user
      const failures = await Promise.all(users.map(async (id) => (await status(p.a, id)).failedAttempts));
      expect(failures.reduce((x, y) => x + y, 0)).toBe(60);
      expect(await invalidMetric([p.a, p.b], 'recovery')).toBe(60);
    } finally {
      await p.close();
    }
  });
});
