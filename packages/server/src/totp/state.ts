import type { Algorithm } from '@totp-service/core';
import type { StoredDevice, StoredFactor, UserRecord } from '../store/store.js';

/** One of a user's devices as totpStatus shows it (TotpDevice). */
export interface TotpDeviceView {
  readonly id: string;
  readonly name: string;
  readonly status: 'PENDING' | 'ACTIVE';
  readonly algorithm: Algorithm;
  readonly digits: number;
  readonly period: number;
  readonly issuer: string;
  readonly accountName: string;
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
  /** Start of the last accepted time step: that step and every earlier one are used. */
  readonly lastUsedAt: Date | null;
  readonly pendingExpiresAt: Date | null;
}

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
  /** Every device, oldest first. */
  readonly devices: readonly TotpDeviceView[];
}

/** The context a sealed secret is bound to: its owner (a value copied to another user does not open). */
export const secretContext = (userId: string) => `totp-secret:${userId}`;

const params = (f: StoredFactor) => ({ algorithm: f.algorithm, digits: f.digits, period: f.period, issuer: f.issuer, accountName: f.accountName });

export function toDeviceView(d: StoredDevice): TotpDeviceView {
  const f = (d.active ?? d.pending)!;
  return {
    id: d.id,
    name: d.name,
    status: d.active ? 'ACTIVE' : 'PENDING',
    ...params(f),
    createdAt: new Date(f.createdAt),
    activatedAt: d.active ? new Date(d.active.activatedAt) : null,
    lastUsedAt: d.active?.lastStepAt != null ? new Date(d.active.lastStepAt * 1000) : null,
    pendingExpiresAt: d.pending ? new Date(d.pending.expiresAt) : null,
  };
}

/**
 * The version 1 fields describe the user's oldest ACTIVE device, or (none being ACTIVE) the
 * oldest pending one; `status` is ACTIVE when any device is.
 */
export function toState(r: UserRecord): TotpState {
  const main = r.devices.find((d) => d.active) ?? r.devices[0]!;
  const f = (main.active ?? main.pending)!;
  return {
    userId: r.userId,
    status: main.active ? 'ACTIVE' : 'PENDING',
    ...params(f),
    createdAt: new Date(f.createdAt),
    activatedAt: main.active ? new Date(main.active.activatedAt) : null,
    lastVerifiedAt: r.lastVerifiedAt === null ? null : new Date(r.lastVerifiedAt),
    failedAttempts: r.failures,
    lockedUntil: r.lockedUntil > 0 ? new Date(r.lockedUntil) : null,
    recoveryCodesRemaining: r.recoveryCodesRemaining,
    pendingExpiresAt: main.pending ? new Date(main.pending.expiresAt) : null,
    devices: r.devices.map(toDeviceView),
  };
}
