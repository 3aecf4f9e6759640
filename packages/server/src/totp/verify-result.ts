import type { VerifyOutcome } from '@totp-service/core';
import type { Reservation } from '../store/store.js';
import type { VerifyResult } from './totp.service.js';

/**
 * The answer of verifyTotp and verifyRecoveryCode, shaped the same way from what the two round
 * trips returned.
 */
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export function verifyResult(outcome: VerifyOutcome, extra: Partial<VerifyResult> = {}): VerifyResult {
  return {
    valid: outcome === 'ACCEPTED',
    outcome,
    activated: false,
    retryAfterSeconds: null,
    remainingAttempts: null,
    driftSteps: null,
    ...extra,
  };
}

export function settledResult(
  r: Reservation,
  s: { outcome: VerifyOutcome | null; activated: boolean },
  driftSteps: number | null,
  maxFailures: number,
): VerifyResult {
  const outcome = s.outcome ?? 'INVALID_CODE';
  if (r.kind === 'refused') {
    const retry = r.retryAfterMillis !== undefined ? seconds(r.retryAfterMillis) : null;
    return verifyResult(r.outcome, { retryAfterSeconds: retry, remainingAttempts: r.outcome === 'LOCKED' ? 0 : null });
  }
  // per attempt: the failures counted up to this one (its reservation), so in a burst exactly
  // one failure is the one that spends the budget
  const remainingAttempts = outcome === 'ACCEPTED' ? maxFailures : Math.max(0, maxFailures - r.hold.failures);
  return verifyResult(outcome, {
    activated: s.activated,
    remainingAttempts,
    driftSteps: outcome === 'ACCEPTED' ? driftSteps : null,
  });
}
