import { randomBytes } from 'node:crypto';
import type { Algorithm, Digits, Period } from '@totp-service/core';
import type { SealedValues, StoredDevice, StoredFactor, UserRecord } from './store.js';

/**
 * The stored form of a user's record, one hash per user in both stores: short field names (memory
 * per user matters), the factor's parameters packed as "ALGORITHM:digits:period".
 *
 * The user's own fields:
 *   f lu lc              failures, locked until (ms), lockouts so far
 *   lv                   last verified (ms)
 *   rk                   sealed recovery-code key
 *   nd                   the next device id (absent: 1)
 * Each device's fields, under the device id as a prefix ('1s', '1m', … for device 1; none for
 * device 0, so a version 1 record is, unchanged, a user with one device, 0):
 *   s m i n g c v        its secret: sealed, meta, issuer, account, generation, created, activated
 *   ps pm pi pn pg pc pe its pending secret (a new device, or a replacement): the same, and expiry
 *   ls dr                last accepted step of its secret (epoch s), learned drift (steps)
 *   nm                   its name
 *
 * What most users hold is not stored (memory per user matters, see bench/): an account name equal
 * to the user id (the default) leaves n / pn out, the name 'default' leaves nm out, a drift of 0
 * leaves dr out, failures, lockout and lockouts at zero (a user after an accepted code) leave f,
 * lu and lc out, and the usual parameters (SHA1, 6 digits, 30 s) and the issuer 'TOTP Service'
 * leave m / pm and i / pi out. An absent field reads as that default. scripts/_user.lua reads the
 * same layout.
 */

/**
 * What an absent m / pm and i / pi read as. Stored meanings, fixed here rather than taken from the
 * configuration: a record written under one TOTP_ISSUER must read the same under another. Never
 * change them. (Leaving both out takes a user's hash from 160 bytes to 128: bench/README.md.)
 */
export const IMPLICIT_META = 'SHA1:6:30';
export const IMPLICIT_ISSUER = 'TOTP Service';

/**
 * A new secret's generation: 62 random bits written as a decimal number of 19 digits (2^62 to
 * 2^63 - 1). Only its equality matters (a secret replaced meanwhile, a secret held open gone
 * stale), but Redis keeps a field that reads as a 64-bit integer as one: 10 bytes of the user's
 * listpack instead of the 18 that the 16 hex digits of earlier versions take (they read as before).
 */
export function newGeneration(): string {
  return (BigInt.asUintN(62, randomBytes(8).readBigUInt64BE()) | (1n << 62n)).toString();
}

/** A user's hash as read from either store. */
export type RawRecord = Readonly<Record<string, Buffer | string | undefined>>;

export const DEVICE_FIELDS = ['s', 'm', 'i', 'n', 'g', 'c', 'v', 'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe', 'ls', 'dr', 'nm'] as const;
export const PENDING_FIELDS = ['ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe'] as const;
const IS_DEVICE_FIELD: ReadonlySet<string> = new Set(DEVICE_FIELDS);

/** The name of a device's field in the hash: device 0's fields carry no prefix. */
export const fieldOf = (deviceId: string, field: string): string => (deviceId === '0' ? field : `${deviceId}${field}`);

/** Which device a field belongs to, and its name there; null for a field of the user's own. */
export function deviceFieldOf(key: string): { deviceId: string; field: string } | null {
  const m = /^(\d+)([a-z]+)$/.exec(key);
  if (m) return { deviceId: m[1]!, field: m[2]! };
  return IS_DEVICE_FIELD.has(key) ? { deviceId: '0', field: key } : null;
}

/** A hash split into the user's own fields and each device's, device ids ascending (readUser in _user.lua). */
export function splitRecord(r: RawRecord): { user: RawRecord; devices: Map<string, Record<string, Buffer | string | undefined>> } {
  const user: Record<string, Buffer | string | undefined> = {};
  const devices = new Map<string, Record<string, Buffer | string | undefined>>();
  for (const [key, value] of Object.entries(r)) {
    const at = deviceFieldOf(key);
    if (!at) {
      user[key] = value;
      continue;
    }
    let d = devices.get(at.deviceId);
    if (!d) devices.set(at.deviceId, (d = {}));
    d[at.field] = value;
  }
  const ids = [...devices.keys()].sort((a, b) => Number(a) - Number(b));
  return { user, devices: new Map(ids.map((id) => [id, devices.get(id)!])) };
}

export function packMeta(p: { algorithm: Algorithm; digits: Digits; period: Period }): string {
  return `${p.algorithm}:${p.digits}:${p.period}`;
}

/** A factor's parameters as stored: nothing ('') for the usual ones. */
export function storedMeta(p: { algorithm: Algorithm; digits: Digits; period: Period }): string {
  const meta = packMeta(p);
  return meta === IMPLICIT_META ? '' : meta;
}

/** An issuer as stored: nothing ('') for IMPLICIT_ISSUER (an issuer is never empty: validate.ts). */
export function storedIssuer(issuer: string): string {
  return issuer === IMPLICIT_ISSUER ? '' : issuer;
}

/** Stored parameters read back; absent or '' is IMPLICIT_META. */
export function unpackMeta(meta: string | undefined): { algorithm: Algorithm; digits: Digits; period: Period } {
  const [algorithm, digits, period] = (meta || IMPLICIT_META).split(':');
  return { algorithm: algorithm as Algorithm, digits: Number(digits) as Digits, period: Number(period) as Period };
}

export const text = (v: Buffer | string | undefined): string | undefined => (v === undefined ? undefined : v.toString());
export const num = (v: Buffer | string | undefined): number | undefined => (v === undefined ? undefined : Number(v.toString()));
const buf = (v: Buffer | string | undefined): Buffer => (typeof v === 'string' ? Buffer.from(v, 'latin1') : v!);

/** The account name as stored: nothing when it is the user id. */
export function storedAccountName(accountName: string, userId: string): string {
  return accountName === userId ? '' : accountName;
}

/** A device's name as stored: nothing when it is 'default'. */
export function storedDeviceName(name: string): string {
  return name === 'default' ? '' : name;
}

/** A device's pending secret lapsed unconfirmed (it is then gone, and so is a device that had nothing else). */
export function pendingLapsed(d: RawRecord, now: number): boolean {
  return d.ps !== undefined && !((num(d.pe) ?? 0) > now);
}

function factor(d: RawRecord, p: '' | 'p', userId: string): StoredFactor | null {
  const sealed = d[`${p}s`];
  if (sealed === undefined) return null;
  return {
    sealed: buf(sealed),
    ...unpackMeta(text(d[`${p}m`])),
    issuer: text(d[`${p}i`]) ?? IMPLICIT_ISSUER,
    accountName: text(d[`${p}n`]) || userId,
    generation: text(d[`${p}g`]) ?? '',
    createdAt: num(d[`${p}c`]) ?? 0,
  };
}

function decodeDevice(id: string, d: RawRecord, userId: string, now: number): StoredDevice | null {
  const active = factor(d, '', userId);
  const pending = pendingLapsed(d, now) ? null : factor(d, 'p', userId);
  if (!active && !pending) return null;
  return {
    id,
    name: text(d.nm) ?? 'default',
    active: active && { ...active, activatedAt: num(d.v) ?? active.createdAt, lastStepAt: num(d.ls) ?? null },
    pending: pending && { ...pending, expiresAt: num(d.pe) ?? 0 },
  };
}

/** Whether a field of the hash holds a sealed value: a device's secret or pending secret, or the recovery key. */
export const isSealedField = (key: string): boolean => key === 'rk' || /^\d*p?s$/.test(key);

/** Where a device's pending secret (`<id>ps`) goes when the device is confirmed (`<id>s`); null for any other field. */
export function confirmedFieldOf(field: string): string | null {
  const device = /^(\d*)ps$/.exec(field);
  return device ? `${device[1]}s` : null;
}

/** The sealed values of a user's hash, by field (null when it holds none), for rekeyTotp. */
export function sealedOf(r: Readonly<Record<string, Buffer | string | undefined>>): SealedValues | null {
  const out: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(r)) if (value !== undefined && isSealedField(key)) out[key] = buf(value);
  return Object.keys(out).length > 0 ? out : null;
}

/** The key id that sealed a value (core's seal format: version, kid length, kid, …). */
export const kidOf = (sealed: Buffer): string => sealed.subarray(2, 2 + (sealed[1] ?? 0)).toString('latin1');

/** What a record's sealed values add to the key counts: nothing while it has no confirmed device (_user.lua). */
export function contributionOf(r: RawRecord): Map<string, number> {
  const out = new Map<string, number>();
  const { devices } = splitRecord(r);
  if (![...devices.values()].some((d) => d.s !== undefined)) return out;
  for (const [key, value] of Object.entries(r)) {
    if (value !== undefined && isSealedField(key)) out.set(kidOf(buf(value)), (out.get(kidOf(buf(value))) ?? 0) + 1);
  }
  return out;
}

/** The buckets' count hashes summed; counted only when every bucket has been. */
export function sumKeyCounts(hashes: readonly Readonly<Record<string, string>>[]): { counts: Record<string, number>; counted: boolean } {
  const counts: Record<string, number> = {};
  let counted = true;
  for (const h of hashes) {
    if (h['#counted'] === undefined) counted = false;
    for (const [kid, n] of Object.entries(h)) if (kid !== '#counted' && Number(n) !== 0) counts[kid] = (counts[kid] ?? 0) + Number(n);
  }
  return { counts, counted };
}

/** A record as read, or null when no device is left (nothing enrolled, or only lapsed pending ones). */
export function decodeRecord(userId: string, r: RawRecord, recoveryCodes: number, now: number): UserRecord | null {
  const { user, devices } = splitRecord(r);
  const live = [...devices].map(([id, d]) => decodeDevice(id, d, userId, now)).filter((d) => d !== null);
  if (live.length === 0) return null;
  const lockedUntil = num(user.lu) ?? 0;
  return {
    userId,
    devices: live,
    // a lockout that has run out leaves a fresh budget (reserve writes that back lazily)
    failures: lockedUntil > 0 && lockedUntil <= now ? 0 : (num(user.f) ?? 0),
    lockedUntil: lockedUntil > now ? lockedUntil : 0,
    lockouts: num(user.lc) ?? 0,
    lastVerifiedAt: num(user.lv) ?? null,
    recoveryCodesRemaining: recoveryCodes,
  };
}
