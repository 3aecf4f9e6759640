import type { Algorithm, Digits, Period } from '@totp-service/core';
import type { StoredFactor, UserRecord } from './store.js';

/**
 * The stored form of a user's record: short field names (memory per user matters), the factor's
 * parameters packed as "ALGORITHM:digits:period". Shared by both stores so they hold the same thing.
 *
 *   s m i n g c v        active: sealed secret, meta, issuer, account, generation, created, activated
 *   ps pm pi pn pg pc pe pending: the same, and its expiry
 *   ls dr                last accepted step, learned drift
 *   f lu lc              failures, locked until (ms), lockouts so far
 *   lv                   last verified (ms)
 *   rk                   sealed recovery-code key
 *
 * What most users hold is not stored (memory per user matters, see bench/): an account name equal
 * to the user id (the default) leaves n / pn out, and failures, lockout and lockouts at zero (a user
 * after an accepted code) leave f, lu and lc out. An absent field reads as that default.
 */

/** A user's hash as read from either store. */
export type RawRecord = Readonly<Record<string, Buffer | string | undefined>>;

export function packMeta(p: { algorithm: Algorithm; digits: Digits; period: Period }): string {
  return `${p.algorithm}:${p.digits}:${p.period}`;
}

export function unpackMeta(meta: string): { algorithm: Algorithm; digits: Digits; period: Period } {
  const [algorithm, digits, period] = meta.split(':');
  return { algorithm: algorithm as Algorithm, digits: Number(digits) as Digits, period: Number(period) as Period };
}

const text = (v: Buffer | string | undefined): string | undefined => (v === undefined ? undefined : v.toString());
const num = (v: Buffer | string | undefined): number | undefined => (v === undefined ? undefined : Number(v.toString()));
const buf = (v: Buffer | string | undefined): Buffer => (typeof v === 'string' ? Buffer.from(v, 'latin1') : v!);

/** The account name as stored: nothing when it is the user id. */
export function storedAccountName(accountName: string, userId: string): string {
  return accountName === userId ? '' : accountName;
}

/** A field of the embedded store's record that holds its default ('' or absent) is not stored. */
export function setOrDelete(h: Record<string, Buffer | string>, field: string, value: Buffer | string | undefined): void {
  if (value === undefined || value === '') delete h[field];
  else h[field] = value;
}

/** Failures, lockout and lockouts at zero: not stored. */
export function clearCounters(h: Record<string, Buffer | string>): void {
  delete h.f;
  delete h.lu;
  delete h.lc;
}

function factor(r: RawRecord, p: '' | 'p', userId: string): StoredFactor | null {
  const sealed = r[`${p}s`];
  const meta = text(r[`${p}m`]);
  if (sealed === undefined || meta === undefined) return null;
  return {
    sealed: buf(sealed),
    ...unpackMeta(meta),
    issuer: text(r[`${p}i`]) ?? '',
    accountName: text(r[`${p}n`]) || userId,
    generation: text(r[`${p}g`]) ?? '',
    createdAt: num(r[`${p}c`]) ?? 0,
  };
}

/** A record as read, or null when nothing (or only a lapsed pending factor) is enrolled. */
export function decodeRecord(userId: string, r: RawRecord, recoveryCodes: number, now: number): UserRecord | null {
  const active = factor(r, '', userId);
  let pending = factor(r, 'p', userId);
  const expiresAt = num(r.pe) ?? 0;
  if (pending && expiresAt <= now) pending = null;
  if (!active && !pending) return null;
  const lockedUntil = num(r.lu) ?? 0;
  return {
    userId,
    active: active && { ...active, activatedAt: num(r.v) ?? active.createdAt },
    pending: pending && { ...pending, expiresAt },
    lastStepAt: num(r.ls) ?? null,
    drift: num(r.dr) ?? 0,
    // a lockout that has run out leaves a fresh budget (reserve writes that back lazily)
    failures: lockedUntil > 0 && lockedUntil <= now ? 0 : (num(r.f) ?? 0),
    lockedUntil: lockedUntil > now ? lockedUntil : 0,
    lockouts: num(r.lc) ?? 0,
    lastVerifiedAt: num(r.lv) ?? null,
    recoveryCodesRemaining: recoveryCodes,
  };
}
