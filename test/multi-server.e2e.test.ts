/**
 * Several servers, one truth: two server processes on one Redis behave as one service. A code
 * accepted by one is REPLAYED on the other, the same code sent to both at once is accepted once,
 * and failure budgets, lockouts and client-address budgets are shared.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { ENROLL, STATUS, VERIFY, activeUser, codeAt, stepOf, wrong, type VerifyResult } from './support/totp.js';

const redisUrl = inject('redisUrl');

describe.skipIf(!redisUrl)('two servers on one Redis', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  beforeAll(async () => {
    const env = {
      REDIS_URL: redisUrl!,
      TOTP_ENCRYPTION_KEYS: encryptionKey(),
      TOTP_KEY_PREFIX: `two${randomBytes(3).toString('hex')}:`,
      TOTP_CLIENT_LIMIT: '6',
      // codes of the steps around an activation stay valid for the whole file, across step boundaries
      TOTP_WINDOW: '3',
    };
    [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  });
  afterAll(async () => {
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
  });

  const verify = async (server: ServerProcess, userId: string, code: string, clientIp?: string) => {
    const r = await server.gql<{ verifyTotp: VerifyResult }>(VERIFY, { userId, code, clientIp }, APP_TOKEN);
    if (!r.data) throw new Error(JSON.stringify(r.errors));
    return r.data.verifyTotp;
  };

  it('refuses on one server the code the other accepted', async () => {
    const { secret, step } = await activeUser(a, 'replay');
    expect((await verify(b, 'replay', codeAt(secret, step))).outcome).toBe('REPLAYED');
    // a step the first server accepted also closes every earlier step on the second
    expect((await verify(b, 'replay', codeAt(secret, step - 1))).outcome).toBe('REPLAYED');
    // the next step's code (inside the window) is new: accepted by the second, then refused by the first
    const next = codeAt(secret, step + 1);
    expect((await verify(b, 'replay', next)).outcome).toBe('ACCEPTED');
    expect((await verify(a, 'replay', next)).outcome).toBe('REPLAYED');
  });

  it('accepts exactly once the same code sent to both servers at the same instant', async () => {
    const { secret, step } = await activeUser(a, 'race');
    const code = codeAt(secret, step + 1);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => verify(i % 2 ? a : b, 'race', code)));
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'ACCEPTED')).toHaveLength(1);
    // the others are replays (each a failure), and LOCKED once those spent the budget
    expect(outcomes.filter((o) => o !== 'ACCEPTED' && o !== 'REPLAYED' && o !== 'LOCKED')).toEqual([]);
  });

  it('shares the failure budget and the lockout', async () => {
    const { secret } = await activeUser(b, 'lock');
    const bad = wrong(codeAt(secret));
    const remaining: (number | null)[] = [];
    for (let i = 0; i < 5; i++) remaining.push((await verify(i % 2 ? a : b, 'lock', bad)).remainingAttempts);
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const onA = await verify(a, 'lock', codeAt(secret));
    const onB = await verify(b, 'lock', codeAt(secret));
    expect([onA.outcome, onB.outcome]).toEqual(['LOCKED', 'LOCKED']);
    expect(onA.retryAfterSeconds).toBeGreaterThan(50);
    const status = await a.gql<{ totpStatus: { failedAttempts: number; lockedUntil: string | null } }>(STATUS, { userId: 'lock' });
    expect(status.data?.totpStatus.lockedUntil).not.toBeNull();
  });

  it('a server holding a user\'s secrets open follows a replacement confirmed on the other', async () => {
    const cacheCount = async (result: string) => {
      const text = await (await fetch(`${a.base}/metrics`)).text();
      return Number(new RegExp(`^totp_secret_cache_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    };
    const { secret: old } = await activeUser(a, 'moved');
    const [hits, stale] = [await cacheCount('hit'), await cacheCount('stale')];
    // the activation opened the secret on a: its next verify takes one round trip
    expect((await verify(a, 'moved', wrong(codeAt(old)))).outcome).toBe('INVALID_CODE');
    expect(await cacheCount('hit')).toBe(hits + 1);
    const e = await b.gql<{ enrollTotp: { secret: string } }>(ENROLL, { input: { userId: 'moved', replace: true } }, APP_TOKEN);
    const fresh = e.data!.enrollTotp.secret;
    expect(await verify(b, 'moved', codeAt(fresh))).toMatchObject({ outcome: 'ACCEPTED', activated: true });
    // a finds what it holds stale, reads the user again: the old phone's code is refused, the new one's accepted
    expect((await verify(a, 'moved', codeAt(old, stepOf() + 1))).outcome).toBe('INVALID_CODE');
    expect(await cacheCount('stale')).toBe(stale + 1);
    expect(await verify(a, 'moved', codeAt(fresh, stepOf() + 1))).toMatchObject({ outcome: 'ACCEPTED', remainingAttempts: 5 });
    expect(await cacheCount('hit')).toBe(hits + 2);
  });

  it('shares the budget of a client address across servers and users', async () => {
    const ip = '198.51.100.23';
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) outcomes.push((await verify(i % 2 ? a : b, `nobody-${i}`, '123456', ip)).outcome);
    // six attempts in the minute (TOTP_CLIENT_LIMIT=6), wherever they arrive; then refused on both
    expect(outcomes.slice(0, 6)).toEqual(Array(6).fill('NOT_ENROLLED'));
    expect(outcomes.slice(6)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
  });
});
