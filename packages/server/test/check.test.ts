import { codeAtStep, DEFAULT_POLICY } from '@totp-service/core';
import { describe, expect, it } from 'vitest';
import { checkCode, holdOpen, markMatches, type OpenCandidate } from '../src/totp/check.js';

/**
 * The two ways a code is checked in process (totp/check.ts): between two round trips (checkCode)
 * and before one (markMatches), and the memo of codes (core's StepCodes) that the first hands to
 * the second through holdOpen.
 */

const PARAMS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
const NOW = 1_796_600_000_000;
const STEP = Math.floor(NOW / 1000 / 30);

const candidate = (fill: number, drift = 0): OpenCandidate => ({
  deviceId: String(fill),
  slot: 'active',
  sealed: Buffer.alloc(0),
  generation: `g${fill}`,
  ...PARAMS,
  lastStepAt: null,
  drift,
  secret: Buffer.alloc(20, fill),
});

describe('checking a code', () => {
  it('keeps the codes the first verify computed, so that the next one in the same step computes none', () => {
    const open = [candidate(1), candidate(2, 1)];
    const held = holdOpen(DEFAULT_POLICY, open);
    const code = codeAtStep(open[1]!.secret, STEP + 1, PARAMS);
    const memos = held.map((s) => s.codes);
    const checked = checkCode(DEFAULT_POLICY, open, code, NOW, memos);
    expect(checked.settlement).toMatchObject({ kind: 'match', deviceId: '2', stepAt: (STEP + 1) * 30 });
    // the window of each device around its drift: 3 codes each, computed once
    expect(memos.map((m) => m.computed)).toEqual([3, 3]);

    const marks = markMatches(DEFAULT_POLICY, held, code, NOW);
    expect(marks).toEqual([
      { secret: '1:g1:0', hits: '000' },
      { secret: '2:g2:1', hits: '010' },
    ]);
    expect(memos.map((m) => m.computed)).toEqual([3, 3]);
    // one step later, one new code each
    markMatches(DEFAULT_POLICY, held, code, NOW + 30_000);
    expect(memos.map((m) => m.computed)).toEqual([4, 4]);
  });

  it('answers the same with memos as without, for codes of every step around the window and a wrong one', () => {
    const open = [candidate(3), candidate(4, -1)];
    for (const s of open.map((c) => c.secret)) {
      for (let k = -3; k <= 3; k++) {
        const code = codeAtStep(s, STEP + k, PARAMS);
        const memos = holdOpen(DEFAULT_POLICY, open).map((h) => h.codes);
        expect(checkCode(DEFAULT_POLICY, open, code, NOW, memos)).toEqual(checkCode(DEFAULT_POLICY, open, code, NOW));
      }
    }
    expect(checkCode(DEFAULT_POLICY, open, '', NOW, holdOpen(DEFAULT_POLICY, open).map((h) => h.codes))).toEqual({ settlement: { kind: 'miss' } });
  });
});
