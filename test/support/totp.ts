/**
 * What the end-to-end tests send: the GraphQL documents of the API, and TOTP codes computed with
 * the core's RFC 6238 implementation (cross-checked against oathtool and pyotp in the core's own
 * tests), fast enough for load tests where spawning oathtool per request is not.
 */
import { codeAtStep, parseBase32Secret } from '@totp-service/core';
import type { ServerProcess } from './server.js';
import { APP_TOKEN } from './server.js';

export const ENROLL = `mutation Enroll($input: EnrollTotpInput!) { enrollTotp(input: $input) { userId status secret } }`;
export const VERIFY = `mutation Verify($userId: ID!, $code: String!, $clientIp: String) {
  verifyTotp(userId: $userId, code: $code, clientIp: $clientIp) { valid outcome activated retryAfterSeconds remainingAttempts } }`;
export const STATUS = `query Status($userId: ID!) { totpStatus(userId: $userId) { status failedAttempts lockedUntil lastVerifiedAt } }`;
export const UNLOCK = `mutation Unlock($userId: ID!) { unlockTotp(userId: $userId) { status } }`;
export const REVOKE = `mutation Revoke($userId: ID!) { revokeTotp(userId: $userId) { revoked } }`;

export interface VerifyResult {
  valid: boolean;
  outcome: string;
  activated: boolean;
  retryAfterSeconds: number | null;
  remainingAttempts: number | null;
}

/** The time step of `at` (epoch ms) for a 30 s period. */
export const stepOf = (at = Date.now()) => Math.floor(at / 30_000);

/** The code of a base32 secret at a step (SHA1, 6 digits, 30 s). */
export function codeAt(secret: string, step = stepOf()): string {
  return codeAtStep(parseBase32Secret(secret), step, { algorithm: 'SHA1', digits: 6, period: 30 });
}

/** A code of the same length that is not `code`. */
export function wrong(code: string): string {
  return code.split('').map((d) => String((Number(d) + 5) % 10)).join('');
}

/** Enroll and activate a user on a server; returns the secret and the step its first code used. */
export async function activeUser(server: ServerProcess, userId: string): Promise<{ secret: string; step: number }> {
  const e = await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, { input: { userId } }, APP_TOKEN);
  if (!e.data) throw new Error(`enroll ${userId}: ${JSON.stringify(e.errors)}`);
  const secret = e.data.enrollTotp.secret;
  const step = stepOf();
  const v = await server.gql<{ verifyTotp: VerifyResult }>(VERIFY, { userId, code: codeAt(secret, step) }, APP_TOKEN);
  if (v.data?.verifyTotp.outcome !== 'ACCEPTED') throw new Error(`activate ${userId}: ${JSON.stringify(v)}`);
  return { secret, step };
}

/** Wait until `probe` is true, polling every `everyMs`; resolves with the time it took (ms). */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await probe().catch(() => false)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

/** The HTTP status of GET /readyz (0 when it cannot be reached). */
export async function readyz(server: ServerProcess): Promise<number> {
  return fetch(`${server.base}/readyz`).then((r) => r.status, () => 0);
}
