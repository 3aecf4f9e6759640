/**
 * The codes of the differential test (store-model.test.ts). Secrets are random per store, so a
 * verify is described by an intent ("the code of the second device's newest secret at step now-1",
 * "a wrong code", "the last code that device accepted, again"), and every side computes its own
 * code from its own secrets.
 *
 * A code must mean the same thing on every side: for each side, the secrets of the user (by their
 * place in the enrollment history, the same on every side) and the steps near now whose code it is
 * are listed, and when the lists differ (one chance in a million per step compared that a random
 * secret's code is another's) a wrong code is sent on every side instead. Equal lists are fine: an
 * imported secret is the same on every side, so one secret imported into two devices matches on
 * both everywhere, and the stores must agree on which device takes it.
 */
import { codeAtStep } from '@totp-service/core';
import fc from 'fast-check';
import { wrongCode } from '../contract/harness.js';
import type { Lockstep } from './store-lockstep.js';
import { liveDeviceIds, type Factor, type Side } from './store-sides.js';

/**
 * Which device a code is for: the device of the secret enrolled last ('newest'), or the user's
 * first, second or third device in the order of deviceOrder (the live ones first), the last one
 * when the user has fewer.
 */
export type DevicePick = 'newest' | 0 | 1 | 2;

/** Which code a verify sends: every side computes it from its own secrets. */
export type CodeIntent =
  /** The code of a device's newest secret (back 0) or the one before (back 1: a secret replaced, or still confirmed while its replacement waits) at the current step + offset. */
  | { readonly kind: 'step'; readonly device: DevicePick; readonly back: 0 | 1; readonly offset: number }
  /** The code of a device's newest secret now, with a space inside ("123 456"). */
  | { readonly kind: 'spaced'; readonly device: DevicePick }
  /** The last code that was accepted for the user ('last'), or for one of its devices. */
  | { readonly kind: 'replay'; readonly device: 'last' | 0 | 1 | 2 }
  /** A code of the device's length that matches nothing. */
  | { readonly kind: 'wrong'; readonly device: DevicePick }
  /** The right code with one digit more or one fewer. */
  | { readonly kind: 'length'; readonly device: DevicePick; readonly delta: 1 | -1 }
  /** Not a code at all (never reaches the store). */
  | { readonly kind: 'garbage'; readonly text: string };

/** Steps on each side of now whose codes count as "meaningful" for a secret (window + drift + margin). */
const REACH = 5;

/** A secret and step a code was accepted for: the replay of later commands. */
export interface Accepted {
  readonly factor: Factor;
  readonly step: number;
}

/** Steps away from now: mostly now and its neighbours, sometimes out of the window. */
const offset = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constantFrom(-1, 1) }, { weight: 2, arbitrary: fc.integer({ min: -4, max: 4 }) });
const device = fc.constantFrom<DevicePick>('newest', 'newest', 0, 1, 2);

export const codeIntent: fc.Arbitrary<CodeIntent> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ kind: fc.constant('step' as const), device, back: fc.constantFrom<0 | 1>(0, 0, 0, 1), offset }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('spaced' as const), device }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replay' as const), device: fc.constantFrom<'last' | 0 | 1 | 2>('last', 0, 1, 2) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('wrong' as const), device }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('length' as const), device, delta: fc.constantFrom<1 | -1>(1, -1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), text: fc.constantFrom('', 'abcdef', '１２３４５６', '12345', '123456789') }) },
);

const ORDINAL = ['first', 'second', 'third'];
const deviceLabel = (d: DevicePick | 'last') => (d === 'newest' ? 'the newest device' : d === 'last' ? 'any device' : `the ${ORDINAL[d]} device`);

export function describeIntent(i: CodeIntent): string {
  switch (i.kind) {
    case 'step': {
      const at = i.offset === 0 ? 'now' : `now${i.offset > 0 ? '+' : ''}${i.offset}`;
      return `code of ${deviceLabel(i.device)}'s ${i.back === 0 ? 'newest' : 'previous'} secret at step ${at}`;
    }
    case 'spaced':
      return `code of ${deviceLabel(i.device)}, with a space`;
    case 'replay':
      return `the last code accepted for ${deviceLabel(i.device)} again`;
    case 'wrong':
      return `a wrong code (${deviceLabel(i.device)}'s length)`;
    case 'length':
      return `code of ${deviceLabel(i.device)} with ${i.delta > 0 ? 'a digit more' : 'a digit fewer'}`;
    case 'garbage':
      return `"${i.text}"`;
  }
}

/**
 * The user's device ids in a fixed order, the same on every side: the devices the embedded store
 * holds (read without side effects; the state comparison holds them the same everywhere), then the
 * ones the test remembers that are gone (revoked, lapsed), each group ascending.
 */
export async function deviceOrder(run: Lockstep, userId: string): Promise<string[]> {
  const live = await liveDeviceIds(run.sides[0]!, userId);
  const gone = [...new Set(run.sides[0]!.factorsOf(userId).map((f) => f.deviceId))].filter((id) => !live.includes(id));
  return [...live, ...gone.sort((a, b) => Number(a) - Number(b))];
}

/** The device a pick names (the same id on every side), or undefined when the user has none. */
export function pickDevice(s: Side, userId: string, pick: DevicePick, order: readonly string[]): string | undefined {
  if (pick === 'newest') return s.factorsOf(userId).at(-1)?.deviceId;
  return order[pick] ?? order.at(-1);
}

function factorOf(s: Side, userId: string, deviceId: string | undefined, back: 0 | 1): Factor | undefined {
  const list = s.factorsOf(userId).filter((f) => f.deviceId === deviceId);
  return list[list.length - 1 - back] ?? list.at(-1) ?? s.factorsOf(userId).at(-1);
}

/** Each secret of the user (by its place in the history) and step near now whose code `code` is. */
export function matchesOf(s: Side, userId: string, code: string): { index: number; factor: Factor; step: number }[] {
  const out: { index: number; factor: Factor; step: number }[] = [];
  s.factorsOf(userId).forEach((f, index) => {
    if (f.params.digits !== code.length) return;
    const now = s.clock.step(f.params.period);
    for (let step = now - REACH; step <= now + REACH; step++) if (codeAtStep(f.secret, step, f.params) === code) out.push({ index, factor: f, step });
  });
  return out;
}

/** What a code means on a side, comparable across sides: which secret (by place) at which step from now. */
const meaning = (s: Side, userId: string, code: string) =>
  JSON.stringify(matchesOf(s, userId, code).map((m) => [m.index, m.step - s.clock.step(m.factor.params.period)]));

/**
 * Resolve a code intent on every side: the code each sends. A code whose meaning differs between
 * sides (a chance collision with another step or secret) becomes a wrong code on every side.
 */
export async function codesFor(run: Lockstep, userId: string, intent: CodeIntent): Promise<string[]> {
  if (intent.kind === 'garbage') return run.sides.map(() => intent.text);
  const order = await deviceOrder(run, userId);
  const codes = run.sides.map((s) => resolve(s, userId, intent, order));
  const meanings = run.sides.map((s, i) => meaning(s, userId, codes[i]!.replaceAll(' ', '')));
  if (meanings.every((m) => m === meanings[0])) return codes;
  const pick = intent.kind === 'replay' ? 'newest' : intent.device;
  return run.sides.map((s) => wrongFor(s, userId, factorOf(s, userId, pickDevice(s, userId, pick, order), 0)));
}

function resolve(s: Side, userId: string, intent: Exclude<CodeIntent, { kind: 'garbage' }>, order: readonly string[]): string {
  if (intent.kind === 'replay') {
    const history = s.accepted.get(userId) ?? [];
    const id = intent.device === 'last' ? undefined : (order[intent.device] ?? order.at(-1));
    const a = id === undefined ? history.at(-1) : history.findLast((x) => x.factor.deviceId === id);
    return a ? codeAtStep(a.factor.secret, a.step, a.factor.params) : wrongFor(s, userId, s.factorsOf(userId).at(-1));
  }
  const f = factorOf(s, userId, pickDevice(s, userId, intent.device, order), intent.kind === 'step' ? intent.back : 0);
  if (!f) return '123456';
  if (intent.kind === 'wrong') return wrongFor(s, userId, f);
  const offset = intent.kind === 'step' ? intent.offset : 0;
  const step = s.clock.step(f.params.period) + offset;
  const code = codeAtStep(f.secret, step, f.params);
  if (intent.kind === 'length') return intent.delta > 0 ? `${code}${step % 10}` : code.slice(1);
  if (intent.kind === 'spaced') return `${code.slice(0, 3)} ${code.slice(3)}`;
  return code;
}

/** A code of the secret's length that is no code of the user's near now: deterministic per side and step. */
function wrongFor(s: Side, userId: string, f: Factor | undefined): string {
  const digits = f?.params.digits ?? 6;
  let code = wrongCode(f ? codeAtStep(f.secret, s.clock.step(f.params.period), f.params) : '0'.repeat(digits));
  while (matchesOf(s, userId, code).length > 0) code = String((Number(code) + 1) % 10 ** digits).padStart(digits, '0');
  return code;
}

/** What an accepted code was: of the secrets it is the code of, one of the device that took it (the intended one first). */
export function acceptedAs(s: Side, userId: string, code: string, deviceId: string | null): Accepted | undefined {
  const mine = matchesOf(s, userId, code.replaceAll(' ', '')).filter((m) => m.factor.deviceId === deviceId);
  const m = mine.at(-1);
  return m && { factor: m.factor, step: m.step };
}
