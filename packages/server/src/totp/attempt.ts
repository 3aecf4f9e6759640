import { SealError, lockoutLevels, type Policy, type VerifyOutcome } from '@totp-service/core';
import type { Actor, AttemptHold, AttemptLimits, OpenMatch, Reservation, Settlement, SettleResult, Store } from '../store/store.js';

/**
 * One verify attempt, for TOTP and recovery codes alike: its limits, its sequence (reserve, check,
 * settle, or all three in one round trip for secrets held open) and its answer. See
 * docs/architecture.md, "The verify path".
 */

/** The answer of verifyTotp and verifyRecoveryCode (VerifyTotpResult). */
export interface VerifyResult {
  readonly valid: boolean;
  readonly outcome: VerifyOutcome;
  readonly activated: boolean;
  readonly retryAfterSeconds: number | null;
  readonly remainingAttempts: number | null;
  readonly driftSteps: number | null;
  /** With ACCEPTED for a TOTP code: the device that matched. */
  readonly deviceId: string | null;
  readonly deviceName: string | null;
}

/** What the store enforces for a policy: the failure budget, the lockout lengths, the client budget. */
export function attemptLimits(policy: Policy): AttemptLimits {
  return Object.freeze({
    maxFailures: policy.maxFailures,
    lockoutMillis: lockoutLevels(policy),
    clientLimit: policy.clientLimit,
    clientWindowMillis: 60_000,
  });
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export function verifyResult(outcome: VerifyOutcome, extra: Partial<VerifyResult> = {}): VerifyResult {
  return {
    valid: outcome === 'ACCEPTED',
    outcome,
    activated: false,
    retryAfterSeconds: null,
    remainingAttempts: null,
    driftSteps: null,
    deviceId: null,
    deviceName: null,
    ...extra,
  };
}

export function settledResult(
  r: Reservation,
  s: { outcome: VerifyOutcome | null; activated: boolean; device: { id: string; name: string } | null },
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
    deviceId: outcome === 'ACCEPTED' ? (s.device?.id ?? null) : null,
    deviceName: outcome === 'ACCEPTED' ? (s.device?.name ?? null) : null,
  });
}

export interface AttemptDeps {
  readonly store: Store;
  readonly limits: AttemptLimits;
  readonly clock: () => number;
  readonly onLockout?: () => void;
}

export interface AttemptRequest {
  readonly userId: string;
  /** What the client-address budget counts (see checkClientIp). */
  readonly clientBudgetKey?: string | undefined;
  readonly actor: Actor;
  /** The code's length; 0 for a recovery code. */
  readonly codeLength: number;
  readonly recovery?: boolean;
}

/** What checking the code in process decided. */
export interface Checked {
  readonly settlement: Settlement;
  readonly driftSteps?: number | null;
}

/**
 * One verify attempt: round trip 1 reserves the attempt, `check` compares the code in process,
 * round trip 2 settles.
 * A refusal is settled as one (a reservation that the client budget refused is given back); a
 * sealed value that cannot be opened gives the attempt back, and then its error is thrown.
 */
export async function runAttempt(
  deps: AttemptDeps,
  req: AttemptRequest,
  check: (reserved: Extract<Reservation, { kind: 'reserved' }>, now: number) => Checked,
): Promise<VerifyResult> {
  const { store, limits } = deps;
  const now = deps.clock();
  const reservation = await store.reserve({ userId: req.userId, clientIp: req.clientBudgetKey, codeLength: req.codeLength, now, limits });
  let checked: Checked;
  let fault: SealError | null = null;
  if (reservation.kind === 'refused') {
    const { outcome, hold } = reservation;
    checked = { settlement: hold ? { kind: 'release', outcome } : { kind: 'none', outcome } };
  } else {
    try {
      checked = check(reservation, now);
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      // the attempt is given back: a key missing from the ring is the operator's fault, not the user's
      fault = err;
      checked = { settlement: { kind: 'release', outcome: null, detail: err.message } };
    }
  }
  const hold = reservation.hold;
  const settled = await store.settle({
    userId: req.userId,
    hold,
    settlement: checked.settlement,
    now,
    limits,
    actor: req.actor,
    recovery: req.recovery,
  });
  if (fault) throw fault;
  if (startedLockout(hold, settled)) deps.onLockout?.();
  return settledResult(reservation, settled, checked.driftSteps ?? null, limits.maxFailures);
}

/** This attempt spent the budget and its lockout stands. */
function startedLockout(hold: AttemptHold | undefined, settled: SettleResult): boolean {
  return !!hold && hold.armedUntil > 0 && settled.lockedUntil === hold.armedUntil && settled.outcome !== 'RATE_LIMITED';
}

/** The user's secrets a server holds open, as where a code matches them at a moment. */
export interface OpenCheck {
  readonly window: number;
  readonly driftBound: number;
  readonly matches: (now: number) => OpenMatch[];
}

/**
 * The same attempt in one round trip (Store.attempt): the matches are marked first, and the store
 * reserves, decides and settles in one atomic step. When the store did nothing (the secrets are
 * stale, or it cannot), the caller runs runAttempt, which reads the user again.
 */
export async function runOpenAttempt(deps: AttemptDeps, req: AttemptRequest, open: OpenCheck): Promise<VerifyResult | 'stale' | 'unsupported'> {
  const { store, limits } = deps;
  if (!store.attempt) return 'unsupported';
  const now = deps.clock();
  const done = await store.attempt({
    userId: req.userId,
    clientIp: req.clientBudgetKey,
    codeLength: req.codeLength,
    now,
    limits,
    actor: req.actor,
    window: open.window,
    driftBound: open.driftBound,
    checked: open.matches(now),
  });
  if (done.kind !== 'done') return done.kind;
  if (startedLockout(done.reservation.hold, done.settled)) deps.onLockout?.();
  return settledResult(done.reservation, done.settled, done.driftSteps, limits.maxFailures);
}
