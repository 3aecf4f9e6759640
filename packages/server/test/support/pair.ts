/**
 * Two whole servers in this process on one store, for attacks on the verify paths: the store
 * opened twice (two connections to one Redis, or the same embedded store), one key ring that
 * counts what it opens by purpose, one clock the test moves; and users enrolled, confirmed and
 * given recovery codes over GraphQL, with guesses of both kinds known to be wrong.
 */
import { randomBytes } from 'node:crypto';
import { codeAtStep, parseBase32Secret } from '@totp-service/core';
import { Redis } from 'ioredis';
import { expect, inject } from 'vitest';
import { FAIL_FAST } from '../../src/store/connect.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { generateRecoveryCodes } from '../../src/totp/recovery-codes.js';
import { CountingKeyRing } from '../contract/harness.js';
import { startInProcess, type InProcessServer } from './in-process.js';
import { tally } from '../../../../test/support/tally.js';

export { tally };

const redisUrl = inject('redisUrl');
export const MAX_FAILURES = 5;

const RECOVER = 'mutation($u: ID!, $c: String!, $ip: String) { verifyRecoveryCode(userId: $u, code: $c, clientIp: $ip) { outcome remainingAttempts retryAfterSeconds } }';
const VERIFY = 'mutation($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome remainingAttempts retryAfterSeconds } }';
const STATUS = 'query($u: ID!) { totpStatus(userId: $u) { failedAttempts recoveryCodesRemaining lockedUntil } }';

export type Answer = { outcome: string; remainingAttempts: number | null; retryAfterSeconds: number | null };

/** Counts what it opens by purpose: TOTP secrets, and recovery keys (one per recovery code checked). */
export class KindCountingKeyRing extends CountingKeyRing {
  secrets = 0;
  recoveryKeys = 0;
  override unseal(sealed: Uint8Array, context: string): Uint8Array {
    if (context.startsWith('totp-recovery:')) this.recoveryKeys += 1;
    else this.secrets += 1;
    return super.unseal(sealed, context);
  }
}

/** One store, opened twice (two servers' connections to one Redis; the same embedded store). */
export const storePairs: [string, () => Promise<[Store, Store]>][] = [
  ['embedded store', async () => {
    const store = new MemoryStore({ auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 });
    return [store, store];
  }],
];
if (redisUrl) {
  storePairs.push(['Redis store', async () => {
    const keyPrefix = `t${randomBytes(4).toString('hex')}:`;
    const open = async () => {
      const client = new Redis(redisUrl, { ...FAIL_FAST, keyPrefix, lazyConnect: true });
      await client.connect();
      return new RedisStore(client, { auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 });
    };
    return [await open(), await open()];
  }]);
}

/** Two servers on one store, one key ring, one clock the test moves. */
export async function startPair(open: () => Promise<[Store, Store]>, policy: Record<string, number> = {}) {
  const clock = { now: Date.now() };
  const keyRing = new KindCountingKeyRing([{ id: 'k1', key: Buffer.alloc(32, 9) }]);
  const [sa, sb] = await open();
  // no secret held open between verifies: every code compared opens its secret, so the key ring
  // counts what was evaluated (brute-force.test.ts measures the other way)
  const secretCache = { size: 0, seconds: 1 };
  const opts = { keyRing, clock: () => clock.now, policy: { maxFailures: MAX_FAILURES, ...policy }, secretCache };
  const a = await startInProcess({ ...opts, store: sa });
  const b = await startInProcess({ ...opts, store: sb });
  return { a, b, keyRing, clock, close: async () => void (await Promise.all([a.close(), b.close()])) };
}

/** Enroll, confirm, make recovery codes; plus guesses of both kinds that are wrong. */
export async function activate(s: InProcessServer, now: number, userId: string) {
  const e = await s.gql('mutation($u: ID!) { enrollTotp(input: { userId: $u }) { secret } }', { u: userId });
  const secret = parseBase32Secret((e.json!.data!.enrollTotp as { secret: string }).secret);
  const step = Math.floor(now / 30_000);
  const params = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
  const ok = await s.gql(VERIFY, { u: userId, c: codeAtStep(secret, step, params) });
  expect((ok.json!.data!.verifyTotp as Answer).outcome).toBe('ACCEPTED');
  const made = await s.gql('mutation($u: ID!) { generateRecoveryCodes(userId: $u) { codes } }', { u: userId });
  const codes = (made.json!.data!.generateRecoveryCodes as { codes: string[] }).codes;
  // wrong TOTP codes: none of the codes of the steps around now, or of the next few lockouts
  const near = new Set(Array.from({ length: 21 }, (_, d) => codeAtStep(secret, step - 3 + d, params)));
  const wrongTotp = Array.from({ length: 1000 }, (_, i) => String((i * 7919 + 123) % 1_000_000).padStart(6, '0')).filter((c) => !near.has(c));
  const wrongRecovery = generateRecoveryCodes(1000).filter((c) => !codes.includes(c));
  return { secret, codes, wrongTotp, wrongRecovery, totpAt: (ms: number) => codeAtStep(secret, Math.floor(ms / 30_000), params) };
}

export const recover = async (s: InProcessServer, userId: string, code: string, ip?: string) =>
  (await s.gql(RECOVER, { u: userId, c: code, ip })).json!.data!.verifyRecoveryCode as Answer;
export const verify = async (s: InProcessServer, userId: string, code: string) =>
  (await s.gql(VERIFY, { u: userId, c: code })).json!.data!.verifyTotp as Answer;
export const status = async (s: InProcessServer, userId: string) =>
  (await s.gql(STATUS, { u: userId })).json!.data!.totpStatus as { failedAttempts: number; recoveryCodesRemaining: number; lockedUntil: string | null };

/** Codes compared, as the audit trail tells: verifies and recovery attempts that checked a code. */
export async function evaluated(store: Store, userId: string, types: ('VERIFY' | 'RECOVERY_CODE_USED')[] = ['VERIFY', 'RECOVERY_CODE_USED']) {
  let count = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.auditEvents({ userId, types, first: 1000, after });
    count += page.nodes.filter((e) => ['ACCEPTED', 'INVALID_CODE', 'REPLAYED'].includes(e.outcome ?? '')).length;
    if (!page.hasNextPage) return count;
    after = page.endCursor!;
  }
}
