/**
 * Recovery codes written differently, over GraphQL on two servers sharing a store (both stores).
 * A variant is either the same code (any case, dashes and spaces anywhere, i/l for 1 and o for 0):
 * ACCEPTED once, then INVALID_CODE as used, one evaluation each; or it is not a code at all
 * (another script's letters, the Kelvin sign, a no-break space, a line break, a character too
 * many or too few, a letter outside the alphabet, over 64 characters, empty): MALFORMED, with
 * nothing evaluated, nothing counted, nothing audited. Malformed input is not a failure: it is
 * refused on its shape alone, before the store and before any key is opened, so it tells an
 * attacker nothing and costs the user nothing (docs/api.md: MALFORMED "never counts as a failure";
 * "a used or unknown code" is one that could have been issued).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRecoveryCode } from '../src/totp/recovery-codes.js';
import { activate, evaluated, recover, startPair, status, storePairs } from './support/pair.js';

type Variant = (code: string, at: number) => string;

/** Ways of writing the same code. */
const SAME: [string, Variant][] = [
  ['upper case', (c) => c.toUpperCase()],
  ['mixed case', (c, at) => [...c].map((x, i) => ((i + at) % 2 ? x.toUpperCase() : x)).join('')],
  ['no dashes', (c) => c.replaceAll('-', '')],
  ['spaces for dashes', (c) => c.replaceAll('-', ' ')],
  ['double dashes', (c) => c.replaceAll('-', '--')],
  ['a space between every character', (c) => [...c.replaceAll('-', '')].join(' ')],
  ['tabs and spaces around', (c) => ` \t${c}\t `],
  ['l for 1, O for 0', (c) => c.replaceAll('1', 'l').replaceAll('0', 'O')],
  ['I for 1, o for 0', (c) => c.replaceAll('1', 'I').replaceAll('0', 'o')],
  ['i and L for 1', (c) => c.replace('1', 'i').replaceAll('1', 'L')],
];

const fullWidth = (x: string) => String.fromCodePoint(x.codePointAt(0)! + 0xfee0);
const CYRILLIC: Readonly<Record<string, string>> = { a: 'а', c: 'с', e: 'е', p: 'р', x: 'х', y: 'у', k: 'к', m: 'м', h: 'һ', b: 'Ь', t: 'т' };
const squeeze = (c: string) => c.replace(/[\s-]/g, '');
const at = (c: string, i: number, by: (x: string) => string) => {
  const k = i % c.length;
  return c.slice(0, k) + by(c[k]!) + c.slice(k + 1);
};

/** Ways of writing something that is not a code (each changes the code whatever it holds). */
const NOT: [string, Variant][] = [
  ['a full-width character', (c, i) => at(squeeze(c), i, fullWidth)],
  ['every letter and digit full-width', (c) => [...c].map((x) => (x === '-' ? x : fullWidth(x))).join('')],
  ['a Cyrillic look-alike', (c) => c.replace(/[acepxykmhbt]/, (x) => CYRILLIC[x]!) + (/[acepxykmhbt]/.test(c) ? '' : 'а')],
  ['the Kelvin sign for k', (c) => (c.includes('k') ? c.replace('k', '\u212a') : `${c.slice(0, -1)}\u212a`)],
  ['a no-break space as a separator', (c) => (c.includes('-') ? c.replace('-', '\u00a0') : `${c.slice(0, 4)}\u00a0${c.slice(4)}`)],
  ['a zero-width space inside', (c, i) => at(c, i, (x) => `${x}\u200b`)],
  ['a combining accent', (c, i) => at(squeeze(c), i, (x) => `${x}\u0301`)],
  ['a line break at the end', (c) => `${c}\n`],
  ['a NUL inside', (c, i) => at(c, i, (x) => `${x}\u0000`)],
  ['a character dropped', (c, i) => at(squeeze(c), i, () => '')],
  ['a character added', (c, i) => at(c, i, (x) => `${x}7`)],
  ['a u (not in the alphabet)', (c, i) => at(squeeze(c), i, () => 'u')],
  ['65 characters (spaces are ignored, but not past 64)', (c) => c.padEnd(65, ' ')],
  ['empty', () => ''],
  ['dashes only', () => '-'.repeat(14)],
];

describe.each(storePairs)('recovery code variants, %s', (_name, open) => {
  let p: Awaited<ReturnType<typeof startPair>>;
  beforeAll(async () => {
    // a budget large enough that the used codes sent again never lock the user
    p = await startPair(open, { maxFailures: 1000 });
  });
  afterAll(() => p.close());

  it('reads every way of writing a code as that code, once, and everything else as MALFORMED', async () => {
    let codes: string[] = [];
    let userId = '';
    let users = 0;
    /** Evaluations the user's audit trail must show. */
    let expected = 0;
    await fc.assert(
      fc.asyncProperty(fc.subarray(SAME.map((_, i) => i)), fc.oneof(fc.constant(undefined), fc.nat(NOT.length - 1)), fc.nat(), fc.boolean(),
        async (same, not, position, onB) => {
          if (codes.length === 0) {
            userId = `variants-${++users}`;
            ({ codes } = await activate(p.a, p.clock.now, userId));
            expected = 0;
          }
          const code = codes.pop()!;
          let sent = same.reduce((c, i) => SAME[i]![1](c, position), code);
          if (not !== undefined) sent = NOT[not]![1](sent, position);
          const what = `${[...same.map((i) => SAME[i]![0]), ...(not !== undefined ? [NOT[not]![0]] : [])].join(', ') || 'as issued'}: ${JSON.stringify(sent)}`;
          const [here, there] = onB ? [p.b, p.a] : [p.a, p.b];
          const unseals = p.keyRing.unseals;
          const failures = (await status(there, userId)).failedAttempts;
          if (not !== undefined) {
            expect((await recover(here, userId, sent)).outcome, what).toBe('MALFORMED');
            expect(normalizeRecoveryCode(sent), what).toBeNull();
            expect(p.keyRing.unseals).toBe(unseals);
            expect(await status(there, userId)).toMatchObject({ failedAttempts: failures, recoveryCodesRemaining: codes.length + 1 });
            // nothing was spent: the code as issued is accepted; the variant stays MALFORMED
            expect((await recover(there, userId, code)).outcome).toBe('ACCEPTED');
            expect((await recover(here, userId, sent)).outcome).toBe('MALFORMED');
            expected += 1;
          } else {
            expect((await recover(here, userId, sent)).outcome, what).toBe('ACCEPTED');
            expect(p.keyRing.unseals).toBe(unseals + 1);
            if (codes.length > 0) {
              // spent, however it is written, on either server: INVALID_CODE, counted as a failure
              expect((await recover(there, userId, code)).outcome).toBe('INVALID_CODE');
              expect((await status(here, userId)).failedAttempts).toBe(1);
              expected += 2;
            } else {
              // the last one: no unused code is left, so nothing is evaluated or counted
              expect((await recover(there, userId, code)).outcome).toBe('NOT_ENROLLED');
              expect((await status(here, userId)).failedAttempts).toBe(0);
              expected += 1;
            }
          }
          expect(await evaluated(p.a.store, userId, ['RECOVERY_CODE_USED'])).toBe(expected);
        }),
      { numRuns: 80 },
    );
    expect(users).toBeGreaterThanOrEqual(6);
  });
});
