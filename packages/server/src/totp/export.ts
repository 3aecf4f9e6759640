import { Encrypter, armor } from 'age-encryption';
import { ErrorCode, TotpError, encodeBase32, type KeyRing } from '@totp-service/core';
import type { EnrollmentStatus, StoredDevice, StoredFactor, UserRecord } from '../store/store.js';
import { secretContext } from './state.js';

/**
 * exportTotp: the factors of a page of users, as one JSON document encrypted on the server to the
 * age recipients of TOTP_EXPORT_RECIPIENTS (https://age-encryption.org), ASCII-armored. The
 * plaintext exists only in this process, for the time it takes to encrypt it: it is never logged,
 * stored or returned, so an admin token alone (without an age identity) reveals no secret.
 */

/** What an export page's plaintext holds for one device (docs/api.md "Moving factors out and in"). */
export interface ExportedFactor {
  readonly userId: string;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly status: EnrollmentStatus;
  readonly secret: string;
  readonly algorithm: string;
  readonly digits: number;
  readonly period: number;
  readonly issuer: string;
  readonly accountName: string;
  /** Start of the last accepted step (ISO-8601), or null: what importTotp's lastUsedAt takes back. */
  readonly lastUsedAt: string | null;
  readonly createdAt: string;
  readonly activatedAt: string | null;
}

/** Each recipient must be one age accepts; the Encrypter is made once and reused for every page. */
export function makeEncrypter(recipients: readonly string[]): Encrypter | null {
  if (recipients.length === 0) return null;
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e;
}

function entry(ring: KeyRing, userId: string, d: StoredDevice, f: StoredFactor): ExportedFactor {
  const secret = ring.unseal(f.sealed, secretContext(userId));
  const base32 = encodeBase32(secret);
  secret.fill(0);
  const lastStep = d.active?.lastStepAt;
  return {
    userId,
    deviceId: d.id,
    deviceName: d.name,
    status: d.active ? 'ACTIVE' : 'PENDING',
    secret: base32,
    algorithm: f.algorithm,
    digits: f.digits,
    period: f.period,
    issuer: f.issuer,
    accountName: f.accountName,
    lastUsedAt: lastStep === null || lastStep === undefined ? null : new Date(lastStep * 1000).toISOString(),
    createdAt: new Date(f.createdAt).toISOString(),
    activatedAt: d.active ? new Date(d.active.activatedAt).toISOString() : null,
  };
}

/**
 * One entry per device of these users (of `status` only, when given): a confirmed device's
 * secret, or a pending device's (a replacement waiting on a confirmed device is not exported:
 * the confirmed secret is the one that works).
 */
export function exportedFactors(ring: KeyRing, records: readonly UserRecord[], status: EnrollmentStatus | null): ExportedFactor[] {
  const out: ExportedFactor[] = [];
  for (const r of records) {
    for (const d of r.devices) {
      const f = d.active ?? d.pending;
      if (!f || (status !== null && (d.active ? 'ACTIVE' : 'PENDING') !== status)) continue;
      out.push(entry(ring, r.userId, d, f));
    }
  }
  return out;
}

/** The page's plaintext, encrypted and armored: `-----BEGIN AGE ENCRYPTED FILE-----` … */
export async function sealPage(encrypter: Encrypter | null, factors: readonly ExportedFactor[]): Promise<string> {
  if (!encrypter) throw new TotpError(ErrorCode.EXPORT_DISABLED, 'export is off: set TOTP_EXPORT_RECIPIENTS to the age recipients (age1…) that may read exports');
  const plaintext = Buffer.from(JSON.stringify({ version: 1, factors }), 'utf8');
  try {
    return armor.encode(await encrypter.encrypt(plaintext));
  } finally {
    plaintext.fill(0);
  }
}
