import { randomBytes } from 'node:crypto';
import { ScureBase32Plugin } from '@otplib/plugin-base32-scure';
import { InvalidInputError } from './errors.js';
import { type Algorithm, MAX_SECRET_BYTES, MIN_SECRET_BYTES, SECRET_BYTES } from './policy.js';

const base32 = new ScureBase32Plugin();
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Either case: upper-casing comes after this check, so no other script's letter becomes one of these. */
const BASE32_ALPHABET = /^[A-Za-z2-7]*$/;

/** A fresh secret from the operating system's CSPRNG, sized for the algorithm (docs/api.md "Secrets"). */
export function generateSecret(algorithm: Algorithm): Uint8Array {
  return new Uint8Array(randomBytes(SECRET_BYTES[algorithm]));
}

/** RFC 4648 section 6 base32, upper case, without padding (what authenticator apps expect). */
export function encodeBase32(bytes: Uint8Array): string {
  return base32.encode(bytes, { padding: false });
}

/**
 * Parse a base32 secret typed or exported by another system: any case, spaces, dashes and `=`
 * padding ignored, and so are the unused low bits of the last character (see
 * `clearSpareBits`). Throws InvalidInputError (naming `argument`) for other characters, for a
 * length that cannot be base32, or for fewer than 128 bits.
 */
export function parseBase32Secret(input: string, argument = 'secret'): Uint8Array {
  if (input.length > 1024) throw new InvalidInputError(argument, `${argument} is too long`);
  const squeezed = input.replace(/[\s-]/g, '').replace(/=+$/, '');
  // checked before upper-casing: 'ſ', 'ı' and 'ß' upper-case to 'S', 'I' and 'SS'
  if (!BASE32_ALPHABET.test(squeezed)) {
    throw new InvalidInputError(argument, `${argument} is not base32 (letters A-Z and digits 2-7)`);
  }
  const cleaned = squeezed.toUpperCase();
  // Lengths 1, 3 and 6 (mod 8) leave bits that no byte string encodes to.
  if ([1, 3, 6].includes(cleaned.length % 8)) {
    throw new InvalidInputError(argument, `${argument} has a length that is not valid base32`);
  }
  const canonical = clearSpareBits(cleaned);
  const padded = canonical + '='.repeat((8 - (canonical.length % 8)) % 8);
  let bytes: Uint8Array;
  try {
    bytes = base32.decode(padded);
  } catch {
    throw new InvalidInputError(argument, `${argument} is not valid base32`);
  }
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new InvalidInputError(
      argument,
      `${argument} is ${bytes.length * 8} bits; at least ${MIN_SECRET_BYTES * 8} bits are required`,
    );
  }
  if (bytes.length > MAX_SECRET_BYTES) {
    throw new InvalidInputError(argument, `${argument} is longer than ${MAX_SECRET_BYTES} bytes`);
  }
  return bytes;
}

/**
 * When the length is not a multiple of 8, the last character carries bits past the last byte.
 * RFC 4648 section 3.5 lets a decoder reject them when they are not zero, and @scure/base does;
 * pyotp and oathtool ignore them, and secrets exported from such systems carry them, so a
 * 26-character secret that works there must work here too: clear those bits before decoding.
 */
function clearSpareBits(cleaned: string): string {
  const spare = (cleaned.length * 5) % 8;
  if (spare === 0) return cleaned;
  const last = ALPHABET.indexOf(cleaned.at(-1)!);
  return cleaned.slice(0, -1) + ALPHABET[last & ~((1 << spare) - 1)];
}
