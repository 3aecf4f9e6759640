import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS, type Algorithm, codeAt, codeAtStep, DIGITS, timeStep } from '../src/index.js';
import { RFC4226_SECRET, RFC4226_VECTORS, RFC6238_SEEDS, RFC6238_VECTORS } from './fixtures/rfc-vectors.js';

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));

/** RFC 4226 section 5.3 written out with node:crypto, as a reference independent of otplib. */
function referenceHotp(secret: Uint8Array, counter: number, algorithm: Algorithm, digits: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm.toLowerCase(), secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const truncated = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(truncated % 10 ** digits).padStart(digits, '0');
}

describe('RFC 6238 appendix B', () => {
  const cases = RFC6238_VECTORS.flatMap((v) => ALGORITHMS.map((algorithm) => ({ ...v, algorithm })));

  it.each(cases)('$algorithm at $time is $codes.$algorithm', ({ time, step, codes, algorithm }) => {
    const params = { algorithm, digits: 8, period: 30 } as const;
    expect(timeStep(time, 30)).toBe(step);
    expect(codeAt(ascii(RFC6238_SEEDS[algorithm]), time, params)).toBe(codes[algorithm]);
  });
});

describe('RFC 4226 appendix D', () => {
  it.each(RFC4226_VECTORS)('count $count is $hotp', ({ count, truncated, hotp }) => {
    const secret = ascii(RFC4226_SECRET);
    expect(codeAtStep(secret, count, { algorithm: 'SHA1', digits: 6, period: 30 })).toBe(hotp);
    // The appendix prints the truncated value, so 7 and 8 digits follow from it too.
    for (const digits of [7, 8] as const) {
      const expected = String(truncated % 10 ** digits).padStart(digits, '0');
      expect(codeAtStep(secret, count, { algorithm: 'SHA1', digits, period: 30 })).toBe(expected);
    }
  });
});

describe('codeAtStep', () => {
  it('agrees with a node:crypto transcription of RFC 4226 for any secret, counter and digits', () => {
    fc.assert(
      fc.property(
        // Every length import accepts, 16 to 128 bytes; fast-check alone would keep arrays short.
        fc.integer({ min: 16, max: 128 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
        fc.constantFrom(...ALGORITHMS),
        fc.constantFrom(...DIGITS),
        fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1)),
        (secret, algorithm, digits, counter) => {
          const code = codeAtStep(secret, counter, { algorithm, digits, period: 30 });
          expect(code).toBe(referenceHotp(secret, counter, algorithm, digits));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps leading zeros', () => {
    // RFC 6238: SHA1 at 1111111109 is 07081804; its last six digits start with a zero too.
    const secret = ascii(RFC6238_SEEDS.SHA1);
    expect(codeAt(secret, 1111111109, { algorithm: 'SHA1', digits: 8, period: 30 })).toBe('07081804');
    expect(codeAt(secret, 1111111109, { algorithm: 'SHA1', digits: 7, period: 30 })).toBe('7081804');
  });
});

describe('timeStep', () => {
  it('is floor(t / period) with T0 = 0 (RFC 6238 section 4.2)', () => {
    expect(timeStep(0, 30)).toBe(0);
    expect(timeStep(29, 30)).toBe(0);
    expect(timeStep(30, 30)).toBe(1);
    expect(timeStep(59.999, 30)).toBe(1);
    expect(timeStep(119, 60)).toBe(1);
    expect(timeStep(120, 60)).toBe(2);
    expect(timeStep(2 ** 31, 30)).toBe(Math.floor(2 ** 31 / 30));
  });

  it('changes the code exactly at step boundaries', () => {
    const secret = ascii(RFC6238_SEEDS.SHA1);
    const params = { algorithm: 'SHA1', digits: 6, period: 60 } as const;
    expect(codeAt(secret, 120, params)).toBe(codeAt(secret, 179, params));
    expect(codeAt(secret, 120, params)).toBe(codeAtStep(secret, 2, params));
    expect(codeAt(secret, 180, params)).toBe(codeAtStep(secret, 3, params));
  });
});
