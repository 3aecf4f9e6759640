import { ErrorCode, TotpError, type KeyRing, type VerifyOutcome } from '@totp-service/core';
import type { Actor, AttemptLimits, Store } from '../store/store.js';
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  newRecoveryKey,
  normalizeRecoveryCode,
  recoveryKeyContext,
} from './recovery-codes.js';
import { checkClientIp, checkUserId } from './validate.js';
import { runAttempt, verifyResult, type VerifyResult } from './attempt.js';

/**
 * Recovery codes: generateRecoveryCodes and verifyRecoveryCode. A recovery code is verified on
 * the same two round trips as a TOTP code, under the same failure budget and lockout (the
 * reservation counts the attempt before the check), and consumed atomically by the settlement
 * (HDEL of its keyed hash: of two concurrent uses of one code, exactly one is ACCEPTED).
 */

export interface RecoveryServiceDeps {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly clock: () => number;
  readonly limits: AttemptLimits;
  readonly onVerify?: (outcome: VerifyOutcome, kind: 'totp' | 'recovery') => void;
  readonly onLockout?: () => void;
}

export interface RecoveryCodeSet {
  readonly codes: readonly string[];
  readonly generatedAt: Date;
}

export class RecoveryService {
  constructor(private readonly deps: RecoveryServiceDeps) {}

  /**
   * Ten new codes, shown this once; any earlier set stops working. For an ACTIVE user, or during a
   * PENDING enrollment (codes shown at set-up, usable once it is confirmed, gone if it lapses).
   */
  async generate(actor: Actor, rawUserId: string): Promise<RecoveryCodeSet> {
    const userId = checkUserId(rawUserId);
    const codes = generateRecoveryCodes();
    const key = newRecoveryKey();
    const hashes = codes.map((c) => hashRecoveryCode(key, normalizeRecoveryCode(c)!));
    const sealedKey = this.deps.keyRing.seal(key, recoveryKeyContext(userId));
    key.fill(0);
    const now = this.deps.clock();
    const result = await this.deps.store.setRecoveryCodes({ userId, sealedKey, hashes, now, actor });
    if (!result.ok) {
      throw new TotpError(ErrorCode.NOT_ENROLLED, 'nothing is enrolled for this user: enroll first, then make recovery codes');
    }
    return { codes, generatedAt: new Date(now) };
  }

  async verify(actor: Actor, rawUserId: string, rawCode: string, rawClientIp?: string | null): Promise<VerifyResult> {
    const userId = checkUserId(rawUserId);
    const client = checkClientIp(rawClientIp);
    const who: Actor = { name: actor.name, clientIp: client?.ip ?? actor.clientIp };
    const code = normalizeRecoveryCode(rawCode);
    if (code === null) return this.observe(verifyResult('MALFORMED'));

    const result = await runAttempt(
      this.deps,
      { userId, clientBudgetKey: client?.budgetKey, actor: who, codeLength: 0, recovery: true },
      (r) => {
        if (!r.recoveryKey) return { settlement: { kind: 'miss' } };
        const key = this.deps.keyRing.unseal(r.recoveryKey, recoveryKeyContext(userId));
        const hash = hashRecoveryCode(key, code);
        key.fill(0);
        return { settlement: { kind: 'recovery', hash } };
      },
    );
    return this.observe(result);
  }

  private observe(result: VerifyResult): VerifyResult {
    this.deps.onVerify?.(result.outcome, 'recovery');
    return result;
  }
}
