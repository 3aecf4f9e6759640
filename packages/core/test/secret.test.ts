import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALGORITHMS,
  encodeBase32,
  ErrorCode,
  generateSecret,
  InvalidInputError,
  MAX_SECRET_BYTES,
  MIN_SECRET_BYTES,
  parseBase32Secret,
  SECRET_BYTES,
} from '../src/index.js';
import { RFC4226_SECRET } from './fixtures/rfc-vectors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** The RFC 4226 secret "12345678901234567890" in base32. */
const RFC_SECRET_B32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const rfcSecret = new Uint8Array(Buffer.from(RFC4226_SECRET, 'ascii'));

/** What pyotp (Python's b32decode) and oathtool do: read 5 bits a character, drop what is left. */
function lenientDecode(b32: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of b32) {
    value = ((value << 5) | ALPHABET.indexOf(ch)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

/** Assert that `input` is refused as BAD_USER_INPUT on `argument`, without echoing the secret. */
function expectRefused(input: string, argument = 'secret'): InvalidInputError {
  let caught: unknown;
  try {
    parseBase32Secret(input, argument);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InvalidInputError);
  const error = caught as InvalidInputError;
  expect(error.code).toBe(ErrorCode.BAD_USER_INPUT);
  expect(error.argument).toBe(argument);
  const cleaned = input.replace(/[\s=-]/g, '');
  for (const form of [input, cleaned, cleaned.toUpperCase()]) {
    if (form.length >= 4) expect(error.message).not.toContain(form.slice(0, 8));
  }
  return error;
}

const bytesOfLength = (min: number, max: number) =>
  fc.integer({ min, max }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));

describe('generateSecret', () => {
  it.each(ALGORITHMS)('makes %s secrets of the size docs/api.md fixes', (algorithm) => {
    expect(generateSecret(algorithm)).toBeInstanceOf(Uint8Array);
    expect(generateSecret(algorithm)).toHaveLength(SECRET_BYTES[algorithm]);
  });

  it('sizes are 20, 32 and 64 bytes', () => {
    expect(SECRET_BYTES).toEqual({ SHA1: 20, SHA256: 32, SHA512: 64 });
  });

  it('never repeats itself', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(Buffer.from(generateSecret('SHA1')).toString('hex'));
    expect(seen.size).toBe(2000);
  });
});

describe('encodeBase32', () => {
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('encodes the RFC 4648 section 10 vector %j as %j, without padding', (text, expected) => {
    expect(encodeBase32(new Uint8Array(Buffer.from(text, 'ascii')))).toBe(expected);
  });

  it('uses the RFC 4648 upper-case alphabet only', () => {
    fc.assert(
      fc.property(bytesOfLength(0, 130), (bytes) => {
        expect(encodeBase32(bytes)).toMatch(/^[A-Z2-7]*$/);
        expect(encodeBase32(bytes)).toHaveLength(Math.ceil((bytes.length * 8) / 5));
      }),
    );
    expect(encodeBase32(rfcSecret)).toBe(RFC_SECRET_B32);
  });
});

describe('parseBase32Secret', () => {
  it.each([
    ['canonical', RFC_SECRET_B32],
    ['lower case', RFC_SECRET_B32.toLowerCase()],
    ['mixed case', 'GeZdGnBvGy3tQoJqGeZdGnBvGy3tQoJq'],
    ['groups of four', 'gezd gnbv gy3t qojq gezd gnbv gy3t qojq'],
    ['dashes', 'GEZDG-NBVGY-3TQOJ-QGEZD-GNBVG-Y3TQO-JQ'],
    ['surrounding whitespace and a newline', '  GEZDGNBVGY3TQOJQ\n\tGEZDGNBVGY3TQOJQ \r\n'],
  ])('accepts %s', (_what, input) => {
    expect(parseBase32Secret(input)).toEqual(rfcSecret);
  });

  it('accepts = padding', () => {
    const sixteen = new Uint8Array(16).fill(0xa5);
    const encoded = encodeBase32(sixteen);
    expect(encoded).toHaveLength(26);
    expect(parseBase32Secret(`${encoded}======`)).toEqual(sixteen);
    expect(parseBase32Secret(`${encoded.toLowerCase()}======`)).toEqual(sixteen);
  });

  it.each([
    ['a zero', `${RFC_SECRET_B32.slice(0, -1)}0`],
    ['a one', `${RFC_SECRET_B32.slice(0, -1)}1`],
    ['an eight', `8${RFC_SECRET_B32.slice(1)}`],
    ['base64 characters', `${RFC_SECRET_B32.slice(0, -2)}+/`],
    ['an accented letter', `${RFC_SECRET_B32.slice(0, -1)}É`],
    ['a full-width letter', `${RFC_SECRET_B32.slice(0, -1)}Ａ`],
    ['padding in the middle', `${RFC_SECRET_B32.slice(0, 16)}=${RFC_SECRET_B32.slice(16)}`],
    ['punctuation', `${RFC_SECRET_B32.slice(0, 16)}.${RFC_SECRET_B32.slice(16)}`],
    // letters of other scripts that upper-case to ASCII base32 letters
    ['a long s (upper-cases to S)', RFC_SECRET_B32.replace('G', 'ſ')],
    ['a dotless i (upper-cases to I)', `${RFC_SECRET_B32.slice(0, -1)}ı`],
    ['a sharp s (upper-cases to SS)', `${RFC_SECRET_B32.slice(0, -2)}ß`],
    ['a Cyrillic look-alike', RFC_SECRET_B32.replace('Q', 'Ԛ')],
    ['a lone surrogate', `${RFC_SECRET_B32.slice(0, -1)}\ud800`],
  ])('refuses %s', (_what, input) => {
    expect(expectRefused(input).message).toMatch(/base32/);
  });

  it('refuses any character outside ASCII that is not a space, wherever it is', () => {
    const foreign = fc
      .integer({ min: 0x80, max: 0x10ffff })
      .map((cp) => String.fromCodePoint(cp))
      .filter((c) => !/\s/.test(c));
    fc.assert(
      fc.property(foreign, fc.nat({ max: RFC_SECRET_B32.length }), (c, at) => {
        expectRefused(RFC_SECRET_B32.slice(0, at) + c + RFC_SECRET_B32.slice(at));
      }),
    );
  });

  it.each([25, 27, 30, 33, 35, 38])('refuses %i characters, a length no byte string encodes to', (length) => {
    expectRefused('A'.repeat(length));
  });

  it('refuses secrets under 16 bytes (128 bits)', () => {
    expect(expectRefused('').message).toMatch(/128 bits/);
    expect(expectRefused('   ').message).toMatch(/128 bits/);
    expect(expectRefused('JBSWY3DPEHPK3PXP').message).toMatch(/80 bits.*128 bits/); // 10 bytes
    expectRefused(encodeBase32(new Uint8Array(MIN_SECRET_BYTES - 1).fill(7)));
    expect(parseBase32Secret(encodeBase32(new Uint8Array(MIN_SECRET_BYTES).fill(7)))).toHaveLength(16);
  });

  it('refuses secrets over 128 bytes', () => {
    const max = new Uint8Array(MAX_SECRET_BYTES).fill(0x3c);
    expect(parseBase32Secret(encodeBase32(max))).toEqual(max);
    const error = expectRefused(encodeBase32(new Uint8Array(MAX_SECRET_BYTES + 1).fill(0x3c)));
    expect(error.message).toMatch(/128 bytes/);
    expectRefused('A'.repeat(5000));
  });

  it('names the argument it was given', () => {
    expectRefused('GEZDGNBVGY3TQOJQ!GEZDGNBV', 'input.secret');
    expectRefused('JBSWY3DPEHPK3PXP', 'row 3 secret');
  });

  describe('trailing bits', () => {
    // 16 bytes take 26 characters: the last one carries 3 bits of the last byte and 2 unused bits.
    // Systems that do not zero those bits export secrets that pyotp and oathtool accept.
    const base = 'JBSWY3DPEHPK3PXPJBSWY3DPE';

    it('ignores non-zero unused bits of the last character, as pyotp and oathtool do', () => {
      expect(() => parseBase32Secret(`${base}B`)).not.toThrow();
      expect(parseBase32Secret(`${base}B`)).toEqual(parseBase32Secret(`${base}A`));
      expect(parseBase32Secret(`${base}D`)).toEqual(parseBase32Secret(`${base}A`));
      expect(parseBase32Secret(`${base}E`)).not.toEqual(parseBase32Secret(`${base}A`));
      expect(parseBase32Secret(`${base}b======`)).toEqual(parseBase32Secret(`${base}A`));
    });

    it('gives every last character the value of its used bits', () => {
      for (const last of ALPHABET) {
        expect(parseBase32Secret(base + last)).toEqual(lenientDecode(base + last));
      }
    });

    it('decodes any base32 string of a valid length as the lenient decoders do', () => {
      const validLength = fc
        .integer({ min: 26, max: 205 })
        .filter((n) => ![1, 3, 6].includes(n % 8));
      const b32 = validLength.chain((n) =>
        fc.array(fc.constantFrom(...ALPHABET), { minLength: n, maxLength: n }).map((cs) => cs.join('')),
      );
      fc.assert(
        fc.property(b32, (s) => {
          expect(parseBase32Secret(s)).toEqual(lenientDecode(s));
        }),
      );
    });
  });

  describe('round trip', () => {
    const secretBytes = bytesOfLength(MIN_SECRET_BYTES, MAX_SECRET_BYTES);

    it('parseBase32Secret(encodeBase32(bytes)) is bytes, for 16 to 128 bytes', () => {
      fc.assert(
        fc.property(secretBytes, (bytes) => {
          expect(parseBase32Secret(encodeBase32(bytes))).toEqual(bytes);
        }),
      );
    });

    it('also in lower case and with spaces, dashes and padding added', () => {
      fc.assert(
        fc.property(
          secretBytes,
          fc.array(fc.constantFrom(' ', '-', '  ', '\t'), { maxLength: 40 }),
          fc.array(fc.nat(), { maxLength: 40 }),
          fc.boolean(),
          (bytes, separators, positions, pad) => {
            let text = encodeBase32(bytes).toLowerCase();
            separators.forEach((sep, i) => {
              const at = (positions[i] ?? 0) % (text.length + 1);
              text = text.slice(0, at) + sep + text.slice(at);
            });
            if (pad) text += '='.repeat((8 - (encodeBase32(bytes).length % 8)) % 8);
            expect(parseBase32Secret(text)).toEqual(bytes);
          },
        ),
      );
    });
  });
});
