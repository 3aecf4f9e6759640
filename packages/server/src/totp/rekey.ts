import { SealError, type KeyRing } from '@totp-service/core';
import type { SealSwap, SealedField, SealedValues, Store } from '../store/store.js';
import { recoveryKeyContext } from './recovery-codes.js';
import { secretContext } from './state.js';

/**
 * rekeyTotp: re-seal every sealed value (active and pending secrets, recovery-code keys) that the
 * active key (the first of TOTP_ENCRYPTION_KEYS) did not seal. Users are walked bucket by bucket
 * through the enrollment indexes, a batch at a time; each user's new values are written with a
 * compare-and-set (reseal), so verifies, enrollments and revocations may run meanwhile and none
 * of their writes is lost. A value that changed under the walk is read again (a few times); one
 * that is still left over, or one written meanwhile by a server that does not know the new key
 * yet, is picked up by the next run: running it again is always safe, and rewrites only what
 * still needs it.
 */

/** Users read and re-sealed per round. */
export const REKEY_BATCH = 100;
const ATTEMPTS = 3;

/** What a sealed value is bound to: the recovery key (rk) to its own context, every device's secret to the secret's. */
const contextOf = (field: SealedField, userId: string): string => (field === 'rk' ? recoveryKeyContext(userId) : secretContext(userId));

export interface RekeyFailure {
  readonly userId: string;
  readonly field: SealedField;
  readonly error: SealError;
}

export interface RekeyReport {
  /** Sealed values rewritten with the active key. */
  readonly rewritten: number;
  /** Values that could not be opened (a key missing from the ring, or tampered). */
  readonly failures: readonly RekeyFailure[];
}

/** New values for what the active key did not seal; failures are collected, not thrown. */
function swapsFor(ring: KeyRing, userId: string, values: SealedValues, failures: Map<string, RekeyFailure>): SealSwap[] {
  const swaps: SealSwap[] = [];
  for (const [field, from] of Object.entries(values)) {
    const context = contextOf(field, userId);
    try {
      if (!ring.needsRekey(from)) continue;
      const plain = ring.unseal(from, context);
      swaps.push({ field, from, to: ring.seal(plain, context) });
      plain.fill(0);
      failures.delete(`${userId}\0${field}`);
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      failures.set(`${userId}\0${field}`, { userId, field, error: err });
    }
  }
  return swaps;
}

async function rekeyUsers(store: Store, ring: KeyRing, userIds: readonly string[], failures: Map<string, RekeyFailure>, now: () => number): Promise<number> {
  let rewritten = 0;
  let todo: readonly string[] = userIds;
  for (let attempt = 0; attempt < ATTEMPTS && todo.length > 0; attempt++) {
    const values = await store.sealedValues(todo);
    const results = await Promise.all(
      todo.map(async (userId, i) => {
        const v = values[i];
        if (!v) return { userId, conflicts: 0 };
        const r = await store.reseal({ userId, swaps: swapsFor(ring, userId, v, failures), now: now() });
        rewritten += r.rewritten;
        return { userId, conflicts: r.conflicts };
      }),
    );
    todo = results.filter((r) => r.conflicts > 0).map((r) => r.userId);
  }
  return rewritten;
}

/**
 * Failures of values the user no longer holds are no loss: a pending secret (a new device or a
 * replacement) that lapsed unconfirmed is gone even while its sealed bytes wait to be dropped (by a
 * TTL, the next verify, the embedded store's sweeper), so a key missing for it alone is no reason to
 * fail the rekey. Checked against each such user's record at one time; nothing to do when all went well.
 */
async function dropGone(store: Store, failures: Map<string, RekeyFailure>, now: number): Promise<void> {
  const userIds = [...new Set([...failures.values()].map((f) => f.userId))];
  const records = await Promise.all(userIds.map((userId) => store.getUser(userId, now)));
  userIds.forEach((userId, i) => {
    const r = records[i];
    for (const [key, f] of failures) {
      if (f.userId !== userId) continue;
      const pending = /^(\d*)ps$/.exec(f.field);
      const device = pending && r?.devices.find((d) => d.id === (pending[1] || '0'));
      if (!r || (pending && !device?.pending)) failures.delete(key);
    }
  });
}

export async function rekeyAll(store: Store, ring: KeyRing, now: () => number, batch = REKEY_BATCH): Promise<RekeyReport> {
  const failures = new Map<string, RekeyFailure>();
  let rewritten = 0;
  for await (const userIds of store.userIds(batch)) rewritten += await rekeyUsers(store, ring, userIds, failures, now);
  if (failures.size > 0) await dropGone(store, failures, now());
  return { rewritten, failures: [...failures.values()] };
}
