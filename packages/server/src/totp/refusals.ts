import { ErrorCode, TotpError } from '@totp-service/core';
import type { EnrollResult } from '../store/store.js';

/** The errors a refused operation answers with, worded once for every service that can meet them. */

/** The error for an enrollment the store refused. */
export function refusal(r: Extract<EnrollResult, { ok: false }>, userId: string, deviceName: string, maxDevices: number): TotpError {
  if (r.reason === 'TOO_MANY_DEVICES') {
    return new TotpError(ErrorCode.TOO_MANY_DEVICES, `${describe(userId)} already has ${maxDevices} devices (TOTP_MAX_DEVICES); revoke one first`);
  }
  const which = deviceName === 'default' ? 'an active factor' : `an active device named "${deviceName}"`;
  return new TotpError(ErrorCode.ALREADY_ENROLLED, `${describe(userId)} already has ${which}; pass replace: true to re-enroll`);
}

/** A user id for a message: quoted, shortened. */
export function describe(userId: string): string {
  return `user "${userId.length > 64 ? `${userId.slice(0, 61)}...` : userId}"`;
}
