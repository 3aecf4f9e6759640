import { unpackMeta } from './codec.js';
import type { RawEntry } from './audit-query.js';
import type { CandidateFactor, Reservation, SettleResult } from './store.js';
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
  const [, failures, armedUntil, lastStep, drift, s, m, g, ps, pm, pg, rk] = reply;
  const candidates: CandidateFactor[] = [];
  const add = (slot: 'active' | 'pending', sealed: unknown, meta: unknown, generation: unknown) => {
    if (!Buffer.isBuffer(sealed)) return;
    candidates.push({ slot, sealed, generation: str(generation)!, ...unpackMeta(str(meta)!) });
  };
  add('active', s, m, g);
  add('pending', ps, pm, pg);
  return {
    kind: 'reserved',
    hold: { failures: Number(failures), armedUntil: Number(armedUntil) },
    candidates,
    lastStepAt: lastStep === null ? null : Number(str(lastStep)),
    drift: Number(drift),
    ...(Buffer.isBuffer(rk) ? { recoveryKey: rk } : {}),
  };
}


/** settle.lua's reply (see its header). */
export function parseSettlement(reply: [string, number, number, number, number], recovery: boolean): SettleResult {
  const [outcome, activated, failures, lockedUntil, left] = reply;
  return {
    outcome: (outcome || null) as VerifyOutcome | null,
    activated: activated === 1,
    failures,
    lockedUntil,
    ...(recovery ? { recoveryCodesRemaining: left } : {}),
  };
}

/** An XRANGE-shaped entry ([id, [field, value, …]]) as the audit query reads it. */
export function toRawEntry([id, flat]: [string, string[]]): RawEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return { id, fields };
}
