import { createHmac, randomBytes } from 'node:crypto';

/**
 * Recovery codes: ten single-use codes a user writes down, for when the phone is lost. Each is
 * 12 characters of Crockford's base32 (60 random bits) shown as `xxxx-xxxx-xxxx`: digits and
 * lower-case letters without i, l, o and u, so nothing reads as something else aloud or on paper.
 * Input is forgiving the way Crockford's alphabet intends: any case, dashes and spaces ignored,
 * and i, l read as 1 and o as 0. It is ASCII only: a letter of another script (full-width,
 * Cyrillic, the Kelvin sign that lower-cases to k) is never read as one of these; such input is
 * MALFORMED, like a TOTP code in other digits.
 *
 * Only keyed hashes are stored: HMAC-SHA256 under a random per-user recovery key, which is kept
 * sealed with the key ring (so a stolen database alone cannot test guesses offline, and a rekey
 * re-seals the key without invalidating the codes).
 */

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LENGTH = 12;
const CONFUSABLE: Readonly<Record<string, string>> = { i: '1', l: '1', o: '0' };

/** The context a sealed recovery key is bound to: its owner. */
export const recoveryKeyContext = (userId: string) => `totp-recovery:${userId}`;

/** A fresh random recovery key (32 bytes). */
export function newRecoveryKey(): Buffer {
  return randomBytes(32);
}

/** `count` distinct codes from the CSPRNG, formatted `xxxx-xxxx-xxxx`. */
export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  const codes = new Set<string>();
  while (codes.size < count) {
    // 32 symbols: five bits a character, no modulo bias
    const chars = [...randomBytes(LENGTH)].map((b) => ALPHABET[b & 31]).join('');
    codes.add(`${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`);
  }
  return [...codes];
}

/** The canonical form of a typed code (12 alphabet characters), or null when it cannot be one. */
export function normalizeRecoveryCode(input: string): string | null {
  if (typeof input !== 'string' || input.length > 64) return null;
  const squeezed = input.replace(/[ \t-]/g, '');
  // ASCII letters and digits, checked before lower-casing: that maps the Kelvin sign (U+212A) to k
  if (!/^[A-Za-z0-9]*$/.test(squeezed) || squeezed.length !== LENGTH) return null;
  let out = '';
  for (const c of squeezed.toLowerCase()) {
    const d = CONFUSABLE[c] ?? c;
    if (!ALPHABET.includes(d)) return null;
    out += d;
  }
  return out;
}

/** The keyed hash stored for a code (canonical form) under a user's recovery key. */
export function hashRecoveryCode(key: Uint8Array, canonical: string): string {
  return createHmac('sha256', key).update(canonical, 'ascii').digest('base64url');
}
