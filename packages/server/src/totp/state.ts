import type { Algorithm } from '@totp-service/core';
import type { UserRecord } from '../store/store.js';

/** A user's second factor as totpStatus shows it (TotpState), made from the stored record. */
export interface TotpState {
  readonly userId: string;
  readonly status: 'PENDING' | 'ACTIVE';
  readonly algorithm: Algorithm;
  readonly digits: number;
  readonly period: number;
  readonly issuer: string;
  readonly accountName: string;
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
  readonly lastVerifiedAt: Date | null;
  readonly failedAttempts: number;
  readonly lockedUntil: Date | null;
  readonly recoveryCodesRemaining: number;
  readonly pendingExpiresAt: Date | null;
}

/** The context a sealed secret is bound to: its owner (a value copied to another user does not open). */
export const secretContext = (userId: string) => `totp-secret:${userId}`;

export function toState(r: UserRecord): TotpState {
  const f = (r.active ?? r.pending)!;
  return {
    userId: r.userId,
    status: r.active ? 'ACTIVE' : 'PENDING',
    algorithm: f.algorithm,
    digits: f.digits,
    period: f.period,
    issuer: f.issuer,
    accountName: f.accountName,
    createdAt: new Date(f.createdAt),
    activatedAt: r.active ? new Date(r.active.activatedAt) : null,
    lastVerifiedAt: r.lastVerifiedAt === null ? null : new Date(r.lastVerifiedAt),
    failedAttempts: r.failures,
    lockedUntil: r.lockedUntil > 0 ? new Date(r.lockedUntil) : null,
    recoveryCodesRemaining: r.recoveryCodesRemaining,
    pendingExpiresAt: r.pending ? new Date(r.pending.expiresAt) : null,
  };
}
