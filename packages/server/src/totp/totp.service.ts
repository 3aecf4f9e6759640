import { randomBytes } from 'node:crypto';
import {
  ErrorCode,
  TotpError,
  buildKeyUri,
  clampDrift,
  encodeBase32,
  generateSecret,
  matchCode,
  normalizeCode,
  renderQr,
  type Algorithm,
  type KeyRing,
  type Policy,
  type VerifyOutcome,
} from '@totp-service/core';
import type { AttemptLimits, Actor, Reservation, Store } from '../store/store.js';
import { attemptLimits, runAttempt, verifyResult, type AttemptDeps, type Checked, type VerifyResult } from './attempt.js';
import { secretContext, toState, type TotpState } from './state.js';
import { checkClientIp, checkCodeShape, checkLabel, checkNote, checkUserId } from './validate.js';

/**
 * The TOTP use cases: enroll, verify, revoke, status, unlock. Resolvers adapt GraphQL to these;
 * the store keeps state; the core computes. Expected outcomes (a wrong or replayed code, a lockout)
 * are values; only bad input, misconfiguration and a failing store throw.
 */

export interface TotpServiceDeps {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly policy: Policy;
  readonly issuer: string;
  /** Epoch ms. */
  readonly clock: () => number;
  /** Observers, for metrics. */
  readonly onVerify?: (outcome: VerifyOutcome, kind: 'totp' | 'recovery') => void;
  readonly onLockout?: () => void;
  readonly onEnroll?: () => void;
  readonly onRevoke?: (revoked: boolean) => void;
  /** Renders the QR images of an otpauth URI; in this thread unless the server gives a pool. */
  readonly renderQr?: (uri: string) => Promise<{ dataUrl: string; svg: string }>;
}

export interface EnrollInput {
  readonly userId: string;
  readonly accountName?: string | null;
  readonly issuer?: string | null;
  readonly algorithm?: Algorithm | null;
  readonly digits?: number | null;
  readonly period?: number | null;
  readonly replace?: boolean | null;
}

export interface Enrollment {
  readonly userId: string;
  readonly status: 'PENDING';
  readonly secret: string;
  readonly otpauthUri: string;
  readonly qrCodeDataUrl: string;
  readonly qrCodeSvg: string;
  readonly algorithm: Algorithm;
  readonly digits: number;
  readonly period: number;
  readonly issuer: string;
  readonly accountName: string;
  readonly expiresAt: Date;
}

export class TotpService {
  readonly limits: AttemptLimits;
  private readonly attempts: AttemptDeps;

  constructor(private readonly deps: TotpServiceDeps) {
    this.limits = attemptLimits(deps.policy);
    this.attempts = { store: deps.store, limits: this.limits, clock: deps.clock, onLockout: deps.onLockout };
  }

  async enroll(actor: Actor, input: EnrollInput): Promise<Enrollment> {
    const userId = checkUserId(input.userId);
    const algorithm = input.algorithm ?? 'SHA1';
    const { digits, period } = checkCodeShape(input.digits ?? 6, input.period ?? 30);
    const issuer = checkLabel(input.issuer ?? this.deps.issuer, 'issuer');
    const accountName = checkLabel(input.accountName ?? userId, 'accountName');

    const secret = generateSecret(algorithm);
    const now = this.deps.clock();
    const expiresAt = now + this.deps.policy.pendingTtlSeconds * 1000;
    const result = await this.deps.store.enroll({
      userId,
      factor: {
        sealed: this.deps.keyRing.seal(secret, secretContext(userId)),
        generation: randomBytes(8).toString('hex'),
        createdAt: now,
        algorithm,
        digits,
        period,
        issuer,
        accountName,
      },
      replace: input.replace ?? false,
      now,
      expiresAt,
      actor,
    });
    if (!result.ok) {
      throw new TotpError(ErrorCode.ALREADY_ENROLLED, `${describe(userId)} already has an active factor; pass replace: true to re-enroll`);
    }
    this.deps.onEnroll?.();
    const base32 = encodeBase32(secret);
    secret.fill(0);
    const otpauthUri = buildKeyUri({ secret: base32, issuer, accountName, algorithm, digits, period });
    const { dataUrl: qrCodeDataUrl, svg: qrCodeSvg } = await (this.deps.renderQr ?? renderQr)(otpauthUri);
    return {
      userId,
      status: 'PENDING',
      secret: base32,
      otpauthUri,
      qrCodeDataUrl,
      qrCodeSvg,
      algorithm,
      digits,
      period,
      issuer,
      accountName,
      expiresAt: new Date(expiresAt),
    };
  }

  /** The verify path of docs/architecture.md: shape check, reserve, compare in process, settle. */
  async verify(actor: Actor, rawUserId: string, rawCode: string, rawClientIp?: string | null): Promise<VerifyResult> {
    const userId = checkUserId(rawUserId);
    const client = checkClientIp(rawClientIp);
    const who: Actor = { name: actor.name, clientIp: client?.ip ?? actor.clientIp };
    const code = normalizeCode(rawCode);
    if (code === null) return this.result('MALFORMED');

    const result = await runAttempt(
      this.attempts,
      { userId, clientBudgetKey: client?.budgetKey, actor: who, codeLength: code.length },
      (r, now) => this.check(r, userId, code, now),
    );
    this.deps.onVerify?.(result.outcome, 'totp');
    return result;
  }

  /** The code against every candidate secret of the window: the latest matching step wins. */
  private check(r: Extract<Reservation, { kind: 'reserved' }>, userId: string, code: string, now: number): Checked {
    let best: { slot: 'active' | 'pending'; generation: string; stepAt: number; driftSteps: number } | null = null;
    for (const c of r.candidates) {
      if (c.digits !== code.length) continue;
      const secret = this.deps.keyRing.unseal(c.sealed, secretContext(userId));
      const m = matchCode({
        secret,
        params: c,
        code,
        epochSeconds: now / 1000,
        window: this.deps.policy.window,
        drift: c.slot === 'active' ? r.drift : 0,
      });
      secret.fill(0);
      if (m && (!best || m.step * c.period > best.stepAt)) {
        best = { slot: c.slot, generation: c.generation, stepAt: m.step * c.period, driftSteps: m.driftSteps };
      }
    }
    if (!best) return { settlement: { kind: 'miss' } };
    return {
      settlement: {
        kind: 'match',
        slot: best.slot,
        generation: best.generation,
        stepAt: best.stepAt,
        drift: clampDrift(this.deps.policy, best.driftSteps),
      },
      driftSteps: best.driftSteps,
    };
  }

  private result(outcome: VerifyOutcome): VerifyResult {
    this.deps.onVerify?.(outcome, 'totp');
    return verifyResult(outcome);
  }

  async revoke(actor: Actor, rawUserId: string, rawReason?: string | null): Promise<boolean> {
    const userId = checkUserId(rawUserId);
    const reason = checkNote(rawReason, 'reason');
    const revoked = await this.deps.store.revoke({ userId, now: this.deps.clock(), actor, reason });
    this.deps.onRevoke?.(revoked);
    return revoked;
  }

  async status(rawUserId: string): Promise<TotpState | null> {
    const userId = checkUserId(rawUserId);
    const record = await this.deps.store.getUser(userId, this.deps.clock());
    return record && toState(record);
  }

  async unlock(actor: Actor, rawUserId: string): Promise<TotpState | null> {
    const userId = checkUserId(rawUserId);
    const record = await this.deps.store.unlock({ userId, now: this.deps.clock(), actor });
    return record && toState(record);
  }
}

/** A user id for a message: quoted, shortened. */
function describe(userId: string): string {
  return `user "${userId.length > 64 ? `${userId.slice(0, 61)}...` : userId}"`;
}
