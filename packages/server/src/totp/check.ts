import { clampDrift, matchCode, type KeyRing, type Policy } from '@totp-service/core';
import type { CandidateFactor } from '../store/store.js';
import type { Checked } from './attempt.js';
import { secretContext } from './state.js';

/**
 * A TOTP code against every secret of every device of a user, all of them every time (no early
 * exit: how long this takes says nothing about which secret matched, or whether one did). Each
 * secret is compared over its window in constant time (core's matchCode).
 *
 * When more than one secret matches (two devices given the same imported secret), a match that
 * its secret has not used yet beats a replay, then the latest step wins: the store decides
 * REPLAYED or ACCEPTED by compare-and-set either way.
 */
export function checkCode(
  deps: { readonly keyRing: KeyRing; readonly policy: Policy },
  userId: string,
  candidates: readonly CandidateFactor[],
  code: string,
  now: number,
): Checked {
  type Best = { c: CandidateFactor; stepAt: number; driftSteps: number; fresh: boolean };
  let best: Best | null = null;
  for (const c of candidates) {
    if (c.digits !== code.length) continue;
    const secret = deps.keyRing.unseal(c.sealed, secretContext(userId));
    const m = matchCode({ secret, params: c, code, epochSeconds: now / 1000, window: deps.policy.window, drift: c.drift });
    secret.fill(0);
    if (!m) continue;
    const stepAt = m.step * c.period;
    const found: Best = { c, stepAt, driftSteps: m.driftSteps, fresh: c.lastStepAt === null || stepAt > c.lastStepAt };
    if (!best || (found.fresh && !best.fresh) || (found.fresh === best.fresh && stepAt > best.stepAt)) best = found;
  }
  if (!best) return { settlement: { kind: 'miss' } };
  const { c } = best;
  return {
    settlement: {
      kind: 'match',
      deviceId: c.deviceId,
      slot: c.slot,
      generation: c.generation,
      stepAt: best.stepAt,
      drift: clampDrift(deps.policy, best.driftSteps),
    },
    driftSteps: best.driftSteps,
  };
}
