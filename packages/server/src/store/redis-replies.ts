import { auditFields } from './audit-codes.js';
import { unpackMeta } from './codec.js';
import type { RawEntry } from './audit-query.js';
import type { AttemptReply, SettleReply } from './scripts.js';
import type { AttemptOutcome, CandidateFactor, Reservation, SettleResult } from './store.js';
import type { VerifyOutcome } from '@totp-service/core';

/** The Redis store's replies, read into the store port's types (pure: no Redis here). */

/** A reply value as text: Redis answers strings, buffers (…Buffer commands) or integers. */
const str = (v: unknown): string | null =>
  typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString() : typeof v === 'number' ? String(v) : null;

/** reserve.lua's reply (see its header). */
export function parseReservation(reply: unknown[]): Reservation {
  const status = str(reply[0]);
  if (status === 'N') return { kind: 'refused', outcome: 'NOT_ENROLLED' };
  if (status === 'M') return { kind: 'refused', outcome: 'MALFORMED' };
  if (status === 'L') return { kind: 'refused', outcome: 'LOCKED', retryAfterMillis: Number(reply[1]) };
  const [, failures, armedUntil, rk] = reply;
  const candidates: CandidateFactor[] = [];
  for (let i = 4; i + 6 < reply.length; i += 7) {
    const [deviceId, slot, sealed, meta, generation, lastStep, drift] = reply.slice(i, i + 7).map((v, j) => (j === 2 ? v : str(v)));
    candidates.push({
      deviceId: deviceId as string,
      slot: slot as 'active' | 'pending',
      sealed: sealed as Buffer,
      generation: generation as string,
      ...unpackMeta(meta as string),
      lastStepAt: lastStep ? Number(lastStep) : null,
      drift: Number(drift || 0),
    });
  }
  return {
    kind: 'reserved',
    hold: { failures: Number(failures), armedUntil: Number(armedUntil) },
    candidates,
    ...(Buffer.isBuffer(rk) ? { recoveryKey: rk } : {}),
  };
}

/** settle.lua's reply (see its header). */
export function parseSettlement(reply: SettleReply, recovery: boolean): SettleResult {
  const [outcome, activated, failures, lockedUntil, left, deviceId, deviceName] = reply;
  return {
    outcome: (outcome || null) as VerifyOutcome | null,
    activated: activated === 1,
    failures,
    lockedUntil,
    ...(recovery ? { recoveryCodesRemaining: left } : {}),
    device: deviceId ? { id: String(deviceId), name: String(deviceName) } : null,
  };
}

/** attempt.lua's reply (see its header): the reservation as reserve would have answered, and the settlement. */
export function parseAttempt(reply: AttemptReply): AttemptOutcome {
  if (reply[0] === 'S') return { kind: 'stale' };
  const [, status, failures, armedUntil, retryAfter, drift, ...settle] = reply;
  const settled = parseSettlement(settle, false);
  const hold = { failures: Number(failures), armedUntil: Number(armedUntil) };
  let reservation: Reservation;
  if (settled.outcome === 'RATE_LIMITED') {
    reservation = { kind: 'refused', outcome: 'RATE_LIMITED', retryAfterMillis: Number(retryAfter), ...(status === 'R' ? { hold } : {}) };
  } else if (status === 'R') {
    reservation = { kind: 'reserved', hold, candidates: [] };
  } else if (status === 'L') {
    reservation = { kind: 'refused', outcome: 'LOCKED', retryAfterMillis: Number(retryAfter) };
  } else {
    reservation = { kind: 'refused', outcome: status === 'M' ? 'MALFORMED' : 'NOT_ENROLLED' };
  }
  return { kind: 'done', reservation, settled, driftSteps: drift === '' ? null : Number(drift) };
}

/** An XRANGE-shaped entry ([id, [field, value, …]]) as the audit query reads it. */
export function toRawEntry([id, flat]: [string, string[]]): RawEntry {
  return { id, fields: auditFields(flat) };
}
