/**
 * The codes of the differential test (store-model.test.ts). Secrets are random per store, so a
 * verify is described by an intent ("the code of the newest secret at step now-1", "a wrong code",
 * "the last accepted code again"), and every side computes its own code from its own secrets. A
 * code that would also be the code of another step or secret of the user on some side (one chance
 * in a million per step compared) is sent as a wrong code on every side instead, so that no side
 * can match by chance where another does not.
 */
import { codeAtStep } from '@totp-service/core';
import fc from 'fast-check';
import { wrongCode } from '../contract/harness.js';
import type { Lockstep } from './store-lockstep.js';
import type { Factor, Side } from './store-sides.js';

/** Which code a verify sends: every side computes it from its own secrets. */
export type CodeIntent =
  /** The code of a factor (0: the newest enrolled, 1: the one before) at the current step + offset. */
  | { readonly kind: 'step'; readonly factor: 0 | 1; readonly offset: number }
  /** The same, with a space inside ("123 456"). */
  | { readonly kind: 'spaced'; readonly factor: 0 | 1 }
  /** The last code that was accepted. */
  | { readonly kind: 'replay' }
  /** A code of the factor's length that matches nothing. */
  | { readonly kind: 'wrong'; readonly factor: 0 | 1 }
  /** The right code with one digit more or one fewer. */
  | { readonly kind: 'length'; readonly factor: 0 | 1; readonly delta: 1 | -1 }
  /** Not a code at all (never reaches the store). */
  | { readonly kind: 'garbage'; readonly text: string };

/** Steps on each side of now whose codes count as "meaningful" for a factor (window + drift + margin). */
const REACH = 5;

interface Resolved {
  readonly code: string;
  /** The factor and step the code was made from (null for codes that should match nothing). */
  readonly intended: { factor: Factor; step: number } | null;
}

/** Steps away from now: mostly now and its neighbours, sometimes out of the window. */
const offset = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constantFrom(-1, 1) }, { weight: 2, arbitrary: fc.integer({ min: -4, max: 4 }) });

export const codeIntent: fc.Arbitrary<CodeIntent> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('step' as const), factor: fc.constantFrom<0 | 1>(0, 0, 1), offset }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('spaced' as const), factor: fc.constant<0 | 1>(0) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('wrong' as const), factor: fc.constantFrom<0 | 1>(0, 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('length' as const), factor: fc.constantFrom<0 | 1>(0, 1), delta: fc.constantFrom<1 | -1>(1, -1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), text: fc.constantFrom('', 'abcdef', '１２３４５６', '12345', '123456789') }) },
);

export function describeIntent(i: CodeIntent): string {
  const which = 'factor' in i ? (i.factor === 0 ? 'newest' : 'previous') : '';
  switch (i.kind) {
    case 'step':
      return `code of the ${which} secret at step ${i.offset === 0 ? 'now' : `now${i.offset > 0 ? '+' : ''}${i.offset}`}`;
    case 'spaced':
      return `code of the ${which} secret, with a space`;
    case 'replay':
      return 'the last accepted code again';
    case 'wrong':
      return `a wrong code (${which} secret's length)`;
    case 'length':
      return `code of the ${which} secret with ${i.delta > 0 ? 'a digit more' : 'a digit fewer'}`;
    case 'garbage':
      return `"${i.text}"`;
  }
}

/**
 * Resolve a code intent on every side: the code each sends, and the factor and step it was made
 * from (to remember an accepted one). A code that could also mean something else on any side
 * (another step or factor with the same code) becomes a wrong code on every side.
 */
export function codesFor(run: Lockstep, userId: string, intent: CodeIntent): { sent: string[]; intended: Resolved['intended'][] } {
  if (intent.kind === 'garbage') return { sent: run.sides.map(() => intent.text), intended: run.sides.map(() => null) };
  const resolved = run.sides.map((s) => resolve(s, userId, intent));
  const ambiguous = resolved.some((r, i) => collides(run.sides[i]!, userId, r.code.replaceAll(' ', ''), r.intended));
  if (!ambiguous) return { sent: resolved.map((r) => r.code), intended: resolved.map((r) => r.intended) };
  const factor = 'factor' in intent ? intent.factor : 0;
  return { sent: run.sides.map((s) => wrongFor(s, userId, pick(s, userId, factor))), intended: run.sides.map(() => null) };
}

function resolve(s: Side, userId: string, intent: Exclude<CodeIntent, { kind: 'garbage' }>): Resolved {
  if (intent.kind === 'replay') {
    const a = s.accepted.get(userId);
    return a ? { code: codeAtStep(a.factor.secret, a.step, a.factor.params), intended: a } : { code: wrongFor(s, userId, pick(s, userId, 0)), intended: null };
  }
  const f = pick(s, userId, intent.factor);
  if (!f) return { code: '123456', intended: null };
  if (intent.kind === 'wrong') return { code: wrongFor(s, userId, f), intended: null };
  const offset = intent.kind === 'step' ? intent.offset : 0;
  const step = s.clock.step(f.params.period) + offset;
  const code = codeAtStep(f.secret, step, f.params);
  if (intent.kind === 'length') return { code: intent.delta > 0 ? `${code}${step % 10}` : code.slice(1), intended: null };
  if (intent.kind === 'spaced') return { code: `${code.slice(0, 3)} ${code.slice(3)}`, intended: { factor: f, step } };
  return { code, intended: { factor: f, step } };
}

function pick(s: Side, userId: string, back: 0 | 1): Factor | undefined {
  const list = s.factorsOf(userId);
  return list[list.length - 1 - back] ?? list.at(-1);
}

/** Does `code` equal the code of any factor of the user at any step near now, other than the intended one? */
function collides(s: Side, userId: string, code: string, intended: Resolved['intended']): boolean {
  for (const f of s.factorsOf(userId)) {
    if (f.params.digits !== code.length) continue;
    const now = s.clock.step(f.params.period);
    for (let step = now - REACH; step <= now + REACH; step++) {
      if (intended && intended.factor === f && intended.step === step) continue;
      if (codeAtStep(f.secret, step, f.params) === code) return true;
    }
  }
  return false;
}

/** A code of the factor's length that is no code of the user's near now: deterministic per side and step. */
function wrongFor(s: Side, userId: string, f: Factor | undefined): string {
  const digits = f?.params.digits ?? 6;
  let code = wrongCode(f ? codeAtStep(f.secret, s.clock.step(f.params.period), f.params) : '0'.repeat(digits));
  while (collides(s, userId, code, null)) code = String((Number(code) + 1) % 10 ** digits).padStart(digits, '0');
  return code;
}
