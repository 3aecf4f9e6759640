import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeCode } from '../src/index.js';

const CODE = /^[0-9]{6,8}$/;
const digit = fc.constantFrom(...'0123456789');
const validCode = fc.array(digit, { minLength: 6, maxLength: 8 }).map((ds) => ds.join(''));

/** `code` with `gaps[i]` ASCII spaces before character i, and `gaps[code.length]` after the last. */
const withSpaces = (code: string, gaps: readonly number[]) =>
  [...code].map((ch, i) => ' '.repeat(gaps[i] ?? 0) + ch).join('') + ' '.repeat(gaps[code.length] ?? 0);

describe('normalizeCode', () => {
  it.each([
    ['123456', '123456'],
    ['1234567', '1234567'],
    ['12345678', '12345678'],
    ['123 456', '123456'],
    [' 123456 ', '123456'],
    ['1 2 3 4 5 6', '123456'],
    ['1234  5678', '12345678'],
    ['000000', '000000'],
    ['012345', '012345'],
    ['00123456', '00123456'],
  ])('accepts %j as %j', (raw, expected) => {
    expect(normalizeCode(raw)).toBe(expected);
  });

  it.each([
    ['empty', ''],
    ['only spaces', '      '],
    ['5 digits', '12345'],
    ['9 digits', '123456789'],
    ['letters', '12345a'],
    ['all letters', 'abcdef'],
    ['full-width digits', '１２３４５６'],
    ['Arabic-Indic digits', '١٢٣٤٥٦'],
    ['Extended Arabic-Indic digits', '۱۲۳۴۵۶'],
    ['Devanagari digits', '१२३४५६'],
    ['mathematical bold digits', '𝟏𝟐𝟑𝟒𝟓𝟔'],
    ['a plus sign', '+123456'],
    ['a minus sign', '-123456'],
    ['an exponent', '1e5'],
    ['an exponent of 6 characters', '1234e5'],
    ['a decimal point', '123.456'],
    ['a dash', '123-456'],
    ['a trailing newline', '123456\n'],
    ['a leading newline', '\n123456'],
    ['a carriage return', '123456\r'],
    ['a tab', '123\t456'],
    ['a no-break space', '123\u00a0456'],
    ['an ideographic space', '123\u3000456'],
    ['a zero-width space', '123\u200b456'],
    ['a NUL', '123456\0'],
    ['hex', '0x1234'],
    ['1 MB of digits', '1'.repeat(1 << 20)],
    ['1 MB of spaces around a code', ' '.repeat(1 << 19) + '123456' + ' '.repeat(1 << 19)],
  ])('refuses %s', (_what, raw) => {
    expect(normalizeCode(raw)).toBeNull();
  });

  it('keeps leading zeros (a code is a string, not a number)', () => {
    expect(normalizeCode('000123')).toBe('000123');
    expect(normalizeCode('0000000')).toBe('0000000');
  });

  it('refuses any input over 64 characters before looking at it, even one made of spaces', () => {
    expect(normalizeCode(withSpaces('123456', [0, 0, 0, 0, 0, 0, 58]))).toBe('123456');
    expect(normalizeCode(withSpaces('123456', [0, 0, 0, 0, 0, 0, 59]))).toBeNull();
  });

  describe('properties', () => {
    const anyString = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      // Near misses: digits, spaces and the characters most likely to slip through.
      fc.string({ unit: fc.constantFrom(...'0123456789  \t\n+-e.١１'), maxLength: 12 }),
    );

    it('never throws, and answers null or 6-8 ASCII digits', () => {
      fc.assert(
        fc.property(anyString, (raw) => {
          const code = normalizeCode(raw);
          expect(code === null || CODE.test(code)).toBe(true);
        }),
        { numRuns: 1000 },
      );
    });

    it('answers the input without its ASCII spaces, when it answers a code', () => {
      fc.assert(
        fc.property(anyString, (raw) => {
          const code = normalizeCode(raw);
          if (code !== null) expect(code).toBe(raw.replaceAll(' ', ''));
        }),
        { numRuns: 1000 },
      );
    });

    it('is idempotent', () => {
      fc.assert(
        fc.property(anyString, (raw) => {
          const once = normalizeCode(raw);
          if (once !== null) expect(normalizeCode(once)).toBe(once);
        }),
        { numRuns: 1000 },
      );
    });

    it('ignores ASCII spaces inserted anywhere in a valid code', () => {
      fc.assert(
        fc.property(
          validCode,
          fc.array(fc.nat({ max: 6 }), { minLength: 9, maxLength: 9 }),
          (code, gaps) => {
            expect(normalizeCode(code)).toBe(code);
            expect(normalizeCode(withSpaces(code, gaps))).toBe(code);
          },
        ),
        { numRuns: 1000 },
      );
    });
  });
});
