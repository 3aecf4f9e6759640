import { timingSafeEqual } from 'node:crypto';
import { createGuardrails } from '@otplib/core';
import { generateSync } from '@otplib/hotp';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { type Algorithm, type Digits, MAX_SECRET_BYTES, type Period } from './policy.js';

const crypto = new NodeCryptoPlugin();
// otplib refuses secrets over 64 bytes by default (its own limit, not the RFCs'), while an
// import may bring up to MAX_SECRET_BYTES; without this, such a secret would be accepted at
// import and then make every verify throw.
const guardrails = createGuardrails({ MAX_SECRET_BYTES });

/** The outcomes of a verify (docs/api.md `VerifyOutcome`): values, never exceptions. */
export const VerifyOutcome = {
  ACCEPTED: 'ACCEPTED',
  INVALID_CODE: 'INVALID_CODE',
  REPLAYED: 'REPLAYED',
  LOCKED: 'LOCKED',
  RATE_LIMITED: 'RATE_LIMITED',
  NOT_ENROLLED: 'NOT_ENROLLED',
  MALFORMED: 'MALFORMED',
} as const;
export type VerifyOutcome = (typeof VerifyOutcome)[keyof typeof VerifyOutcome];

export interface TotpParams {
  readonly algorithm: Algorithm;
  readonly digits: Digits;
  readonly period: Period;
}

const MAX_CODE_INPUT = 64;
const CODE_SHAPE = /^[0-9]{6,8}$/;

/**
 * Normalise a code as typed: ASCII spaces anywhere are dropped; what is left must be 6 to 8 ASCII
 * digits. Anything else (other characters, other scripts' digits, signs, exponents, the empty
 * string) is `null`, which the caller answers as MALFORMED. Leading zeros are significant.
 */
export function normalizeCode(raw: string): string | null {
  if (raw.length > MAX_CODE_INPUT) return null;
  const code = raw.replaceAll(' ', '');
  return CODE_SHAPE.test(code) ? code : null;
}

/** The RFC 6238 section 4.2 time-step number T = floor((now - T0) / X), with T0 = 0. */
export function timeStep(epochSeconds: number, period: number): number {
  return Math.floor(epochSeconds / period);
}

/** The code of one time step: HOTP(K, T) of RFC 4226 section 5.3, via otplib. */
export function codeAtStep(secret: Uint8Array, step: number, params: TotpParams): string {
  return generateSync({
    secret,
    counter: step,
    crypto,
    guardrails,
    algorithm: params.algorithm.toLowerCase() as 'sha1' | 'sha256' | 'sha512',
    digits: params.digits,
  });
}

/** The TOTP code at a moment (RFC 6238 section 4). */
export function codeAt(secret: Uint8Array, epochSeconds: number, params: TotpParams): string {
  return codeAtStep(secret, timeStep(epochSeconds, params.period), params);
}

export interface MatchInput {
  readonly secret: Uint8Array;
  readonly params: TotpParams;
  /** A normalised code (see normalizeCode). */
  readonly code: string;
  readonly epochSeconds: number;
  /** Steps accepted on each side of the centre. */
  readonly window: number;
  /** Learned clock drift in steps; the window is centred on now + drift (RFC 6238 section 6). */
  readonly drift?: number;
}

export interface CodeMatch {
  /** The matched time step. */
  readonly step: number;
  /** The matched step minus the current step. */
  readonly driftSteps: number;
}

/**
 * Compare `code` with every code of the window, in constant time and without stopping early, and
 * return the latest matching step (if two steps share a code, the later one is the one that can
 * still be unused). Replay is not decided here: the caller holds the last accepted step and
 * accepts only a later one. With `codes` (the same secret's StepCodes), the codes are taken from
 * there, and those computed stay there for a later check.
 */
export function matchCode(input: MatchInput & { readonly codes?: StepCodes }): CodeMatch | null {
  const now = timeStep(input.epochSeconds, input.params.period);
  return stepsMatching(input, now, now + (input.drift ?? 0), input.window).at(-1) ?? null;
}

/**
 * Every step within `span` of the current one (of the current one + `drift`, when given) whose code
 * is `code`, compared in constant time and without stopping early. For a check decided elsewhere:
 * the caller lists the matches around the learned drift it believes the store holds, and the
 * store, which holds the drift, decides (and refuses the list when the drift it holds differs).
 * With `codes` (the same secret's StepCodes), a step's code computed for an earlier check is
 * taken from there instead of being computed again.
 */
export function matchSteps(
  input: Omit<MatchInput, 'window' | 'drift'> & { readonly span: number; readonly drift?: number; readonly codes?: StepCodes },
): CodeMatch[] {
  const now = timeStep(input.epochSeconds, input.params.period);
  return stepsMatching(input, now, now + (input.drift ?? 0), input.span);
}

/**
 * The codes of one secret's latest time steps, each computed once: the checks of one device
 * within a minute or so (a retry, a mistyped code, a script guessing codes for a user, locked out
 * or not) share two or three of the window's steps, and an HMAC is most of what a check costs.
 * Holds `capacity` codes, the oldest computed making way; knows only codes the secret gives
 * anyway, is as sensitive as the secret for the steps it holds and useless after them. `wipe`
 * zeroes them (with the secret, when its holder lets it go).
 */
export class StepCodes {
  // the step of each slot (-1: none), as long as it will ever be: an array grown from empty
  // takes room for 17 (about 120 bytes more for each secret held, measured)
  private steps: number[] | undefined;
  // allocated at the first code (a holder may never check a second one), from Node's shared pool
  // rather than as an ArrayBuffer of its own (about 70 bytes less for each secret held, measured)
  private bytes: Buffer | undefined;
  private next = 0;
  /** Codes computed rather than found here (what the memo saves shows against the checks). */
  computed = 0;

  constructor(
    private readonly secret: Uint8Array,
    private readonly params: TotpParams,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a memo of codes holds at least one (given ${capacity})`);
  }

  /** The code of `step` as ASCII digits: a view into the memo, to compare, not to keep. */
  code(step: number): Buffer {
    const d = this.params.digits;
    // unset bytes are never read: a slot is written before its step is listed
    this.bytes ??= Buffer.allocUnsafe(this.capacity * d);
    this.steps ??= Array<number>(this.capacity).fill(-1);
    let i = this.steps.indexOf(step);
    if (i < 0) {
      i = this.next;
      this.next = (i + 1) % this.capacity;
      this.bytes.write(codeAtStep(this.secret, step, this.params), i * d, d, 'ascii');
      this.steps[i] = step;
      this.computed++;
    }
    return this.bytes.subarray(i * d, i * d + d);
  }

  wipe(): void {
    this.bytes?.fill(0);
    this.steps?.fill(-1);
    this.next = 0;
  }
}

/**
 * The one place codes are compared: every step of centre ± radius, each in constant time, none
 * skipped when one matched, so the time taken tells nothing about which step (if any) matched.
 * (With a memo it does tell which codes an earlier check had computed: when checks came, not what
 * they held.)
 */
function stepsMatching(
  input: Pick<MatchInput, 'secret' | 'params' | 'code'> & { readonly codes?: StepCodes },
  now: number,
  centre: number,
  radius: number,
): CodeMatch[] {
  const { secret, params, code, codes } = input;
  if (code.length !== params.digits) return [];
  const given = Buffer.from(code, 'ascii');
  const out: CodeMatch[] = [];
  for (let step = centre - radius; step <= centre + radius; step++) {
    if (step < 0) continue;
    const candidate = codes ? codes.code(step) : Buffer.from(codeAtStep(secret, step, params), 'ascii');
    if (timingSafeEqual(candidate, given)) out.push({ step, driftSteps: step - now });
  }
  return out;
}
