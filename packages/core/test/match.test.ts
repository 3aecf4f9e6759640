import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  codeAtStep,
  encodeBase32,
  matchCode,
  type MatchInput,
  MAX_SECRET_BYTES,
  parseBase32Secret,
  type TotpParams,
} from '../src/index.js';
import { RFC4226_SECRET, SHA1_6_DIGIT_COLLISIONS } from './fixtures/rfc-vectors.js';

const secret = new Uint8Array(Buffer.from(RFC4226_SECRET, 'ascii'));
const params: TotpParams = { algorithm: 'SHA1', digits: 6, period: 30 };
const NOW_STEP = 56666666; // 2023-11-14, 30 s steps
const NOW = NOW_STEP * 30 + 17; // somewhere inside the step

const codeOf = (step: number, p: TotpParams = params, s: Uint8Array = secret) => codeAtStep(s, step, p);
const match = (code: string, extra: Partial<MatchInput> = {}) =>
  matchCode({ secret, params, code, epochSeconds: NOW, window: 1, ...extra });

describe('matchCode', () => {
  it('has distinct codes around now (a precondition of the window tests)', () => {
    const codes = [-3, -2, -1, 0, 1, 2, 3].map((d) => codeOf(NOW_STEP + d));
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('accepts the current step and every step within the window, reporting the drift', () => {
    for (const window of [0, 1, 2]) {
      for (let d = 0 - window; d <= window; d++) { // 0 - window: never -0
        expect(match(codeOf(NOW_STEP + d), { window })).toEqual({ step: NOW_STEP + d, driftSteps: d });
      }
    }
  });

  it('refuses steps beyond the window', () => {
    expect(match(codeOf(NOW_STEP + 1), { window: 0 })).toBeNull();
    expect(match(codeOf(NOW_STEP - 1), { window: 0 })).toBeNull();
    expect(match(codeOf(NOW_STEP + 2), { window: 1 })).toBeNull();
    expect(match(codeOf(NOW_STEP - 2), { window: 1 })).toBeNull();
    expect(match(codeOf(NOW_STEP + 3), { window: 2 })).toBeNull();
    expect(match(codeOf(NOW_STEP - 3), { window: 2 })).toBeNull();
  });

  it('refuses a wrong code', () => {
    const wrong = String((Number(codeOf(NOW_STEP)) + 1) % 1_000_000).padStart(6, '0');
    expect([-1, 0, 1].map((d) => codeOf(NOW_STEP + d))).not.toContain(wrong);
    expect(match(wrong)).toBeNull();
  });

  it('centres the window on now + drift, and still reports drift from now', () => {
    expect(match(codeOf(NOW_STEP + 2), { drift: 1 })).toEqual({ step: NOW_STEP + 2, driftSteps: 2 });
    expect(match(codeOf(NOW_STEP), { drift: 1 })).toEqual({ step: NOW_STEP, driftSteps: 0 });
    expect(match(codeOf(NOW_STEP - 1), { drift: 1 })).toBeNull();
    expect(match(codeOf(NOW_STEP - 2), { drift: -1 })).toEqual({ step: NOW_STEP - 2, driftSteps: -2 });
    expect(match(codeOf(NOW_STEP + 1), { drift: -1 })).toBeNull();
  });

  it('uses the step boundaries of the period', () => {
    const p60: TotpParams = { algorithm: 'SHA512', digits: 8, period: 60 };
    const step = Math.floor(NOW / 60);
    const at = (epochSeconds: number, code: string) =>
      matchCode({ secret, params: p60, code, epochSeconds, window: 0 });
    expect(at(step * 60, codeOf(step, p60))).toEqual({ step, driftSteps: 0 });
    expect(at(step * 60 + 59, codeOf(step, p60))).toEqual({ step, driftSteps: 0 });
    expect(at(step * 60 + 60, codeOf(step, p60))).toBeNull();
  });

  it('refuses a code of another length than the enrolled digits, even one that extends a right code', () => {
    const right = codeOf(NOW_STEP);
    expect(match(right.slice(1))).toBeNull();
    expect(match(`${right}0`)).toBeNull();
    expect(match('')).toBeNull();
    const p8: TotpParams = { ...params, digits: 8 };
    expect(matchCode({ secret, params: p8, code: right, epochSeconds: NOW, window: 1 })).toBeNull();
  });

  it('never evaluates steps before 0', () => {
    // otplib throws on a negative counter, so getting an answer shows those steps were skipped.
    expect(matchCode({ secret, params, code: codeOf(0), epochSeconds: 0, window: 2 })).toEqual({
      step: 0,
      driftSteps: 0,
    });
    expect(matchCode({ secret, params, code: codeOf(1), epochSeconds: 5, window: 1, drift: -1 })).toBeNull();
    expect(matchCode({ secret, params, code: codeOf(0), epochSeconds: 5, window: 1, drift: -1 })).toEqual({
      step: 0,
      driftSteps: 0,
    });
    expect(matchCode({ secret, params, code: '000000', epochSeconds: 0, window: 3, drift: -3 })).toSatisfy(
      (m: { step: number } | null) => m === null || m.step >= 0,
    );
  });

  describe('when two steps of the window share a code', () => {
    const { adjacent, twoApart } = SHA1_6_DIGIT_COLLISIONS;

    it('has the collisions the fixture claims', () => {
      for (const { steps, code } of [adjacent, twoApart]) {
        expect(steps.map((s) => codeOf(s))).toEqual([code, code]);
      }
    });

    it('answers the later step (the one that can still be unused)', () => {
      const [first, second] = adjacent.steps;
      const at = (step: number) => ({ code: adjacent.code, epochSeconds: step * 30 });
      expect(match(adjacent.code, at(first))).toEqual({ step: second, driftSteps: 1 });
      expect(match(adjacent.code, at(second))).toEqual({ step: second, driftSteps: 0 });
      expect(match(adjacent.code, at(second + 1))).toEqual({ step: second, driftSteps: -1 });
      expect(match(adjacent.code, at(first - 1))).toEqual({ step: first, driftSteps: 1 });
    });

    it('answers the later step also when the two ends of the window match', () => {
      const [first, last] = twoApart.steps;
      const middle = first + 1;
      expect(codeOf(middle)).not.toBe(twoApart.code);
      expect(match(twoApart.code, { epochSeconds: middle * 30 })).toEqual({ step: last, driftSteps: 1 });
    });
  });

  it('verifies with secrets of every size an import accepts (up to MAX_SECRET_BYTES)', () => {
    for (const size of [16, 20, 32, 64, 65, 100, MAX_SECRET_BYTES]) {
      const imported = parseBase32Secret(encodeBase32(randomBytes(size)));
      for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
        const p: TotpParams = { algorithm, digits: 6, period: 30 };
        const code = codeAtStep(imported, NOW_STEP, p);
        expect(matchCode({ secret: imported, params: p, code, epochSeconds: NOW, window: 1 })).toMatchObject({
          driftSteps: 0,
        });
      }
    }
  });
});
