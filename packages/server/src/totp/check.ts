import { clampDrift, matchCode, matchSteps, StepCodes, type KeyRing, type Policy } from '@totp-service/core';
import type { CandidateFactor, OpenMatch } from '../store/store.js';
import type { Checked } from './attempt.js';
import type { OpenSecret } from './secret-cache.js';
import { secretContext } from './state.js';

/**
 * Checking a TOTP code in process: against every secret of every device of a user, all of them
 * every time (no early exit: how long this takes says nothing about which secret matched, or
 * whether one did); each secret over its window in constant time (core).
 */

export type OpenCandidate = CandidateFactor & { readonly secret: Uint8Array };

/** Open every candidate's secret; the caller zeroes them or hands them to the secret cache. */
export function openCandidates(keyRing: KeyRing, userId: string, candidates: readonly CandidateFactor[]): OpenCandidate[] {
  const out: OpenCandidate[] = [];
  try {
    for (const c of candidates) out.push({ ...c, secret: keyRing.unseal(c.sealed, secretContext(userId)) });
  } catch (err) {
    for (const o of out) o.secret.fill(0);
    throw err;
  }
  return out;
}

/**
 * Round trip 1 handed back the candidates with their history: decide here. With `memos` (the
 * StepCodes holdOpen made for the same candidates, in the same order), the codes computed here are
 * kept for the user's next verify, which then computes none of them again. When more than one
 * secret matches (two devices given the same imported secret), a match that its secret has not
 * used yet beats a replay, then the latest step wins: the store decides REPLAYED or ACCEPTED by
 * compare-and-set either way.
 */
export function checkCode(policy: Policy, candidates: readonly OpenCandidate[], code: string, now: number, memos?: readonly StepCodes[]): Checked {
  type Best = { c: OpenCandidate; stepAt: number; driftSteps: number; fresh: boolean };
  let best: Best | null = null;
  for (const [i, c] of candidates.entries()) {
    if (c.digits !== code.length) continue;
    const codes = memos?.[i];
    const m = matchCode({ secret: c.secret, params: c, code, epochSeconds: now / 1000, window: policy.window, drift: c.drift, ...(codes ? { codes } : {}) });
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
      drift: clampDrift(policy, best.driftSteps),
    },
    driftSteps: best.driftSteps,
  };
}

/**
 * For one round trip (Store.attempt): where the code matches each secret held open, over the
 * window around the drift the device had learned when its secret was opened or last accepted a
 * code here (held with the secret). The store holds the drift and the last accepted step: it
 * refuses marks made around another drift (the verify then reads the user again) and applies the
 * rules of checkCode. Every step of the window is compared, and the marks are as long whatever
 * the code: 2 × window + 1 codes a secret, not the 2 × (window + drift bound) + 1 that marks
 * around every drift the bound allows would take; a code an earlier verify computed is taken from
 * the secret's memo (holdOpen).
 */
export function markMatches(policy: Policy, secrets: readonly OpenSecret[], code: string, now: number): OpenMatch[] {
  const span = policy.window;
  return secrets.map((s) => {
    const hits = Array<string>(2 * span + 1).fill('0');
    for (const m of matchSteps({ secret: s.secret, params: s, code, epochSeconds: now / 1000, span, drift: s.drift, codes: s.codes })) {
      hits[m.driftSteps - s.drift + span] = '1';
    }
    return { secret: `${s.deviceId}:${s.generation}:${s.drift}`, hits: hits.join('') };
  });
}

/**
 * What the secret cache holds of an opened candidate: the secret (the cache owns its bytes from
 * now on), the device's learned drift, and a memo of its codes large enough for two windows side
 * by side (a verify one step after another shares all but one of its codes).
 */
export function holdOpen(policy: Policy, open: readonly OpenCandidate[]): OpenSecret[] {
  return open.map(({ deviceId, generation, drift, secret, algorithm, digits, period }) => ({
    deviceId,
    generation,
    drift,
    secret,
    codes: new StepCodes(secret, { algorithm, digits, period }, 2 * policy.window + 2),
    algorithm,
    digits,
    period,
  }));
}
