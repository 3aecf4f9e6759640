/**
 * Brute force under every shape, through the whole server over HTTP, on both stores. What counts
 * is how many codes were EVALUATED: with no secret held open between verifies
 * (TOTP_SECRET_CACHE_SIZE=0) the key ring counts every secret it opens (one per code compared), so
 * "no more than TOTP_MAX_FAILURES codes per user per lockout" is measured, not inferred. With the
 * secrets held open (the default), the server marks where every guess matches before the store
 * counts it, so what is measured there is what the store decided: its audit trail holds one
 * ACCEPTED, INVALID_CODE or REPLAYED event per code it looked at, and nothing else depends on the
 * code. The same attacks on the built server as processes on one Redis: test/brute-force.e2e.
 */
import { randomBytes } from 'node:crypto';
import { codeAtStep, normalizeCode, parseBase32Secret } from '@totp-service/core';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { GRAPHQL_LIMITS } from '../src/limits.js';
import { FAIL_FAST } from '../src/store/connect.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { RedisStore } from '../src/store/redis-store.js';
import type { Store } from '../src/store/store.js';
import { ADMIN_TOKEN, startInProcess, type InProcessServer } from './support/in-process.js';
import { tally } from '../../../test/support/tally.js';

const redisUrl = inject('redisUrl');
const MAX_FAILURES = 5;
const CLIENT_LIMIT = 60;

const ENROLL = 'mutation($u: ID!) { enrollTotp(input: { userId: $u }) { secret } }';
const VERIFY = 'mutation($u: ID!, $c: String!, $ip: String) { verifyTotp(userId: $u, code: $c, clientIp: $ip) { outcome remainingAttempts } }';
const STATUS = 'query($u: ID!) { totpStatus(userId: $u) { status failedAttempts } }';


const stores: [string, () => Promise<Store>][] = [
  ['embedded store', async () => new MemoryStore({ auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 })],
];
if (redisUrl) {
  stores.push(['Redis store', async () => {
    const client = new Redis(redisUrl, { ...FAIL_FAST, keyPrefix: `t${randomBytes(4).toString('hex')}:`, lazyConnect: true });
    await client.connect();
    return new RedisStore(client, { auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 });
  }]);
}

describe.each(stores)('brute force, %s', (_name, makeStore) => {
  let s: InProcessServer;
  beforeEach(async () => {
    s = await startInProcess({ store: await makeStore(), policy: { maxFailures: MAX_FAILURES, clientLimit: CLIENT_LIMIT }, secretCache: { size: 0, seconds: 1 } });
  });
  afterEach(() => s.close());

  /** Enroll; returns the secret and codes that are wrong for every step near now. */
  async function enroll(userId: string) {
    const r = await s.gql(ENROLL, { u: userId });
    const secret = parseBase32Secret((r.json!.data!.enrollTotp as { secret: string }).secret);
    const step = Math.floor(Date.now() / 30_000);
    const near = new Set([-3, -2, -1, 0, 1, 2, 3].map((d) => codeAtStep(secret, step + d, { algorithm: 'SHA1', digits: 6, period: 30 })));
    const wrong: string[] = [];
    for (let i = 0; wrong.length < 400; i++) {
      const c = String((i * 7919 + 123) % 1_000_000).padStart(6, '0');
      if (!near.has(c)) wrong.push(c);
    }
    return { secret, wrong, current: () => codeAtStep(secret, Math.floor(Date.now() / 30_000), { algorithm: 'SHA1', digits: 6, period: 30 }) };
  }
  const verify = async (userId: string, code: string, clientIp?: string) =>
    ((await s.gql(VERIFY, { u: userId, c: code, ip: clientIp })).json!.data!.verifyTotp as { outcome: string; remainingAttempts: number | null });
  const failures = async (userId: string) => ((await s.gql(STATUS, { u: userId })).json!.data!.totpStatus as { failedAttempts: number }).failedAttempts;

  it(`evaluates ${MAX_FAILURES} of ${GRAPHQL_LIMITS.maxAliases} aliased guesses in one request, and none of ${GRAPHQL_LIMITS.maxAliases + 1}`, async () => {
    const { wrong } = await enroll('alias-victim');
    const over = wrong.slice(0, GRAPHQL_LIMITS.maxAliases + 1).map((c, i) => `g${i}: verifyTotp(userId: "alias-victim", code: "${c}") { outcome }`);
    const refused = await s.gql(`mutation { ${over.join(' ')} }`);
    expect(refused.json!.errors![0]!.extensions!.code).toBe('QUERY_TOO_COMPLEX');
    expect(s.keyRing.unseals).toBe(0);
    expect(await failures('alias-victim')).toBe(0);

    const r = await s.gql(`mutation { ${over.slice(1).join(' ')} }`);
    const outcomes = Object.values(r.json!.data!).map((v) => (v as { outcome: string }).outcome);
    expect(tally(outcomes)).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: GRAPHQL_LIMITS.maxAliases - MAX_FAILURES });
    expect(s.keyRing.unseals).toBe(MAX_FAILURES);
  });

  it('evaluates no more than the budget of 300 parallel guesses, and of 20 parallel requests of 15 aliases', async () => {
    const { wrong } = await enroll('parallel-victim');
    const answers = await Promise.all(wrong.slice(0, 300).map((c) => verify('parallel-victim', c)));
    expect(tally(answers.map((a) => a.outcome))).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 300 - MAX_FAILURES });
    // exactly one failure spent the budget
    expect(answers.filter((a) => a.outcome === 'INVALID_CODE').map((a) => a.remainingAttempts).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(s.keyRing.unseals).toBe(MAX_FAILURES);

    const { wrong: w2 } = await enroll('alias-parallel');
    const doc = (k: number) => `mutation { ${w2.slice(k * 15, k * 15 + 15).map((c, i) => `g${i}: verifyTotp(userId: "alias-parallel", code: "${c}") { outcome }`).join(' ')} }`;
    const pages = await Promise.all(Array.from({ length: 20 }, (_, k) => s.gql(doc(k))));
    const outcomes = pages.flatMap((p) => Object.values(p.json!.data!).map((v) => (v as { outcome: string }).outcome));
    expect(tally(outcomes)).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 300 - MAX_FAILURES });
    expect(s.keyRing.unseals).toBe(2 * MAX_FAILURES);
  });

  it('holds one client address to its budget across 100 users, each under its own limit', async () => {
    const users = Array.from({ length: 100 }, (_, i) => `spread-${i}`);
    // ten at a time: a hundred QR renderings at once can hold the event loop past the Redis command timeout
    const wrongs: string[][] = [];
    for (let i = 0; i < users.length; i += 10) wrongs.push(...(await Promise.all(users.slice(i, i + 10).map(async (u) => (await enroll(u)).wrong))));
    const answers = await Promise.all(users.map((u, i) => verify(u, wrongs[i]![0]!, '198.51.100.7')));
    expect(tally(answers.map((a) => a.outcome))).toEqual({ INVALID_CODE: CLIENT_LIMIT, RATE_LIMITED: 100 - CLIENT_LIMIT });
    expect(s.keyRing.unseals).toBe(CLIENT_LIMIT);
    // an IPv6 attacker rotating addresses inside one /64 is one budget
    const v6 = await Promise.all(users.map((u, i) => verify(u, wrongs[i]![1]!, `2001:db8:1:2::${(i + 1).toString(16)}`)));
    expect(tally(v6.map((a) => a.outcome)).INVALID_CODE ?? 0).toBeLessThanOrEqual(CLIENT_LIMIT);
    // a refused attempt was never counted against its user
    const counted = await Promise.all(users.map(failures));
    expect(counted.reduce((a, b) => a + b, 0)).toBe(s.keyRing.unseals);
    expect(Math.max(...counted)).toBeLessThanOrEqual(2);
  });

  it('treats code variants as the same code or as MALFORMED, never as another guess', async () => {
    const f = await enroll('variants');
    const fullWidth = (c: string) => [...c].map((d) => String.fromCodePoint(0xff10 + Number(d))).join('');
    const arabic = (c: string) => [...c].map((d) => String.fromCodePoint(0x0660 + Number(d))).join('');
    const variant = fc.oneof(
      fc.constant((c: string) => ` ${c.slice(0, 3)} ${c.slice(3)} `),
      fc.constant((c: string) => c.replace(/^0+/, '') || '0'),
      fc.constant((c: string) => `+${c}`),
      fc.constant((c: string) => `-${c}`),
      fc.constant((c: string) => `${Number(c)}e0`),
      fc.constant((c: string) => `${c[0]}.${c.slice(1)}e5`),
      fc.constant(fullWidth),
      fc.constant(arabic),
      fc.constant((c: string) => `${c.slice(0, 3)}\u00a0${c.slice(3)}`),
      fc.constant((c: string) => `${c}\n`),
      fc.constant((c: string) => `\t${c}`),
      fc.constant((c: string) => `0x${Number(c).toString(16)}`),
      fc.constant((c: string) => `${c}0`),
      fc.constant((c: string) => c.slice(1)),
    );
    let unseals = s.keyRing.unseals;
    let counted = 0;
    await fc.assert(
      fc.asyncProperty(variant, async (make) => {
        const code = f.current();
        const sent = make(code);
        const r = await verify('variants', sent);
        const normal = normalizeCode(sent);
        if (normal === null || normal.length !== code.length) {
          // the wrong shape, or not the enrolled length: refused before the store, never counted
          expect(r.outcome, JSON.stringify(sent)).toBe('MALFORMED');
          expect(s.keyRing.unseals).toBe(unseals);
          return;
        }
        // the same code written differently: checked as that code, replay rules and all
        expect(normal).toBe(code);
        expect(['ACCEPTED', 'REPLAYED']).toContain(r.outcome);
        expect(s.keyRing.unseals).toBe(unseals + 1);
        unseals = s.keyRing.unseals;
        counted += 1;
        // a replay counts as a failure: clear them so that the next variant is checked, not LOCKED
        if (r.outcome === 'REPLAYED') await s.gql('mutation { unlockTotp(userId: "variants") { status } }', {}, ADMIN_TOKEN);
      }),
      { numRuns: 60 },
    );
    // a code of another length is audited as MALFORMED; every other verify was one evaluation
    const verifies = (await s.store.auditEvents({ userId: 'variants', types: ['VERIFY'], first: 1000 })).nodes.filter((e) => e.outcome !== 'MALFORMED');
    expect(verifies).toHaveLength(counted);
    // one acceptance per time step at most (the test spans one or two steps)
    expect(verifies.filter((e) => e.outcome === 'ACCEPTED').length).toBeLessThanOrEqual(2);
    expect(verifies.filter((e) => e.outcome === 'ACCEPTED').length).toBeGreaterThanOrEqual(1);
  });
});

describe.each(stores)('brute force against secrets held open, %s', (_name, makeStore) => {
  let s: InProcessServer;
  beforeEach(async () => {
    s = await startInProcess({ store: await makeStore(), policy: { maxFailures: MAX_FAILURES, clientLimit: CLIENT_LIMIT } });
  });
  afterEach(() => s.close());

  /** Enroll and confirm (which opens the secret and holds it); returns guesses wrong near now. */
  async function activated(userId: string) {
    const r = await s.gql(ENROLL, { u: userId });
    const secret = parseBase32Secret((r.json!.data!.enrollTotp as { secret: string }).secret);
    const params = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
    const step = Math.floor(Date.now() / 30_000);
    expect((await verify(userId, codeAtStep(secret, step, params))).outcome).toBe('ACCEPTED');
    const near = new Set([-3, -2, -1, 0, 1, 2, 3].map((d) => codeAtStep(secret, step + d, params)));
    return Array.from({ length: 400 }, (_, i) => String((i * 7919 + 123) % 1_000_000).padStart(6, '0')).filter((c) => !near.has(c));
  }
  const verify = async (userId: string, code: string) =>
    ((await s.gql(VERIFY, { u: userId, c: code })).json!.data!.verifyTotp as { outcome: string; remainingAttempts: number | null });
  const decided = async (userId: string) =>
    (await s.store.auditEvents({ userId, types: ['VERIFY'], first: 1000 })).nodes.filter((e) => ['ACCEPTED', 'INVALID_CODE', 'REPLAYED'].includes(e.outcome ?? '')).length;

  it('decides no more than the budget of 300 parallel guesses, nor of 15 aliases in one request', async () => {
    const wrong = await activated('held');
    const opened = s.keyRing.unseals;
    const answers = await Promise.all(wrong.slice(0, 300).map((c) => verify('held', c)));
    expect(tally(answers.map((a) => a.outcome))).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 300 - MAX_FAILURES });
    expect(answers.filter((a) => a.outcome === 'INVALID_CODE').map((a) => a.remainingAttempts).sort()).toEqual([0, 1, 2, 3, 4]);
    // the activation and the five guesses the store looked at
    expect(await decided('held')).toBe(1 + MAX_FAILURES);
    // on Redis no secret was opened again (one round trip each); the embedded store opens them for the five
    expect(s.keyRing.unseals - opened).toBe(s.store.attempt ? 0 : MAX_FAILURES);

    const w2 = await activated('held-aliases');
    const doc = `mutation { ${w2.slice(0, GRAPHQL_LIMITS.maxAliases).map((c, i) => `g${i}: verifyTotp(userId: "held-aliases", code: "${c}") { outcome }`).join(' ')} }`;
    const outcomes = Object.values((await s.gql(doc)).json!.data!).map((v) => (v as { outcome: string }).outcome);
    expect(tally(outcomes)).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: GRAPHQL_LIMITS.maxAliases - MAX_FAILURES });
    expect(await decided('held-aliases')).toBe(1 + MAX_FAILURES);
  });
});
