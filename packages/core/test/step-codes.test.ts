import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS, codeAtStep, DIGITS, matchSteps, StepCodes, type TotpParams } from '../src/index.js';
import { RFC6238_SEEDS, RFC6238_VECTORS } from './fixtures/rfc-vectors.js';

/** core's memo of a secret's latest codes (verify.ts StepCodes): the same codes, each computed once. */

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));
const params: TotpParams = { algorithm: 'SHA1', digits: 6, period: 30 };
const STEP = 56666666;

describe('StepCodes', () => {
  it('gives the codes of RFC 6238 appendix B, for each algorithm', () => {
    for (const algorithm of ALGORITHMS) {
      const p = { algorithm, digits: 8, period: 30 } as const;
      const memo = new StepCodes(ascii(RFC6238_SEEDS[algorithm]), p, 4);
      for (const v of RFC6238_VECTORS) expect(memo.code(v.step).toString('ascii')).toBe(v.codes[algorithm]);
    }
  });

  it('computes a step once while it holds it, and the oldest computed makes way', () => {
    const secret = ascii('12345678901234567890');
    const memo = new StepCodes(secret, params, 4);
    for (let round = 0; round < 3; round++) for (const s of [STEP - 1, STEP, STEP + 1]) memo.code(s);
    expect(memo.computed).toBe(3);
    memo.code(STEP + 2); // a window one step later shares all but one
    memo.code(STEP + 3); // past capacity: STEP - 1 (the oldest computed) goes
    expect(memo.computed).toBe(5);
    memo.code(STEP);
    expect(memo.computed).toBe(5);
    memo.code(STEP - 1);
    expect(memo.computed).toBe(6);
    for (const s of [STEP - 1, STEP + 1, STEP + 2, STEP + 3]) expect(memo.code(s).toString('ascii')).toBe(codeAtStep(secret, s, params));
  });

  it('agrees with codeAtStep for any secret, digits and steps asked in any order', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.constantFrom(...ALGORITHMS),
        fc.constantFrom(...DIGITS),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 40 }),
        (secret, algorithm, digits, capacity, offsets) => {
          const p = { algorithm, digits, period: 30 } as const;
          const memo = new StepCodes(secret, p, capacity);
          for (const o of offsets) expect(memo.code(STEP + o).toString('ascii')).toBe(codeAtStep(secret, STEP + o, p));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('zeroes what it holds when wiped, and computes afresh after', () => {
    const secret = ascii('12345678901234567890');
    const memo = new StepCodes(secret, params, 2);
    const view = memo.code(STEP);
    const code = view.toString('ascii');
    memo.wipe();
    expect(view.every((b) => b === 0)).toBe(true);
    expect(memo.code(STEP).toString('ascii')).toBe(code);
    expect(memo.computed).toBe(2);
  });

  it('refuses a capacity under one', () => {
    for (const c of [0, -1, 1.5, Number.NaN]) expect(() => new StepCodes(ascii('12345678901234567890'), params, c)).toThrow(RangeError);
  });
});

describe('matchSteps with a memo', () => {
  it('answers as without one, over steps the memo holds and steps it does not', () => {
    const secret = ascii('12345678901234567890');
    const memo = new StepCodes(secret, params, 4);
    const at = (step: number) => step * 30 + 7;
    for (const [now, offset] of [[STEP, 0], [STEP, 1], [STEP, -1], [STEP + 1, 0], [STEP + 1, 2], [STEP + 5, 0], [STEP + 5, -2]] as const) {
      for (const drift of [0, 1, -1]) {
        const code = codeAtStep(secret, now + offset, params);
        const input = { secret, params, code, epochSeconds: at(now), span: 1, drift };
        expect(matchSteps({ ...input, codes: memo })).toEqual(matchSteps(input));
      }
    }
    // a wrong code: no match either way
    expect(matchSteps({ secret, params, code: '000000', epochSeconds: at(STEP), span: 1, codes: memo })).toEqual(
      matchSteps({ secret, params, code: '000000', epochSeconds: at(STEP), span: 1 }),
    );
  });
});
