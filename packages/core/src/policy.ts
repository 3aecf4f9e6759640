/** The algorithms of RFC 6238 section 1.2, named as in the Key URI Format. */
export const ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];
export const DIGITS = [6, 7, 8] as const;
export type Digits = (typeof DIGITS)[number];
export const PERIODS = [30, 60] as const;
export type Period = (typeof PERIODS)[number];

/** Secret length per algorithm: the HMAC's block-free key size, RFC 4226 section 4 R6 and RFC 6238 appendix A. */
export const SECRET_BYTES: Readonly<Record<Algorithm, number>> = Object.freeze({
  SHA1: 20,
  SHA256: 32,
  SHA512: 64,
});

/** Imported secrets must carry at least 128 bits (RFC 4226 section 4, R6). */
export const MIN_SECRET_BYTES = 16;
/** Longest secret accepted on import (an HMAC-SHA512 block). */
export const MAX_SECRET_BYTES = 128;

/** How the service decides outcomes; every number has an environment variable in the server. */
export interface Policy {
  /** Accepted steps on each side of the (drift-corrected) current step. */
  readonly window: number;
  /** Largest learned clock drift, in steps, that shifts the window. */
  readonly maxDriftSteps: number;
  /** Consecutive failures that start a lockout. */
  readonly maxFailures: number;
  /** First lockout, in seconds; each further lockout doubles it. */
  readonly lockoutSeconds: number;
  /** Cap of the doubling. */
  readonly lockoutMaxSeconds: number;
  /** Attempts per client address per minute, across users. */
  readonly clientLimit: number;
  /** Life of an enrollment that was never confirmed. */
  readonly pendingTtlSeconds: number;
  /** Devices a user may hold, pending ones included. */
  readonly maxDevices: number;
}

export const DEFAULT_POLICY: Policy = Object.freeze({
  window: 1,
  maxDriftSteps: 1,
  maxFailures: 5,
  lockoutSeconds: 60,
  lockoutMaxSeconds: 3600,
  clientLimit: 60,
  pendingTtlSeconds: 900,
  maxDevices: 5,
});

/** Length of the lockout that starts after `priorLockouts` earlier ones, in milliseconds. */
export function lockoutMillis(policy: Policy, priorLockouts: number): number {
  const doublings = Math.min(Math.max(priorLockouts, 0), 30);
  return Math.min(policy.lockoutSeconds * 2 ** doublings, policy.lockoutMaxSeconds) * 1000;
}

/**
 * The lockout lengths in milliseconds for the 1st, 2nd, … lockout, doubling up to the cap; the
 * last entry repeats for every later lockout (the store gets this list, and only counts).
 */
export function lockoutLevels(policy: Policy): number[] {
  const levels = [lockoutMillis(policy, 0)];
  while (levels.at(-1)! < policy.lockoutMaxSeconds * 1000 && levels.length <= 30) levels.push(lockoutMillis(policy, levels.length));
  return levels;
}

/** Clamp a learned drift to the policy's bound. */
export function clampDrift(policy: Policy, drift: number): number {
  return Math.max(-policy.maxDriftSteps, Math.min(policy.maxDriftSteps, Math.trunc(drift)));
}
