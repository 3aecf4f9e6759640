import { plural, table } from './format.js';
import type { EncryptionKeyUsage } from './schema.js';

/**
 * What the encryptionKeys answer means for an operator (docs/operations.md, "Rotating the
 * encryption key" and "Losing a key"): which keys are missing, which still hold values a rekey
 * would move, and which can be removed. Shared by `keys` and `doctor`.
 */

/** Keys that seal values but that the server does not have: those values cannot be opened. */
export function missingKeys(keys: readonly EncryptionKeyUsage[]): EncryptionKeyUsage[] {
  return keys.filter((k) => !k.configured && k.sealedValues > 0);
}

/** `key "k1" seals 3 values but is not in TOTP_ENCRYPTION_KEYS`, the server's own start-up words. */
export function missingLine(k: EncryptionKeyUsage): string {
  return `key "${k.keyId}" seals ${plural(k.sealedValues, 'value')} but is not in TOTP_ENCRYPTION_KEYS`;
}

export function keysTable(keys: readonly EncryptionKeyUsage[]): string {
  return table(
    ['KEY', 'SEALS', 'CONFIGURED', 'ACTIVE'],
    keys.map((k) => [k.keyId, k.sealedValues, k.configured ? 'yes' : 'NO', k.active ? 'yes' : '']),
  );
}

/** One sentence per key that needs an operator's attention, with what to do; none when all is well. */
export function keyAdvice(keys: readonly EncryptionKeyUsage[], bin: string): string[] {
  const active = keys.find((k) => k.active)?.keyId ?? '?';
  return keys.flatMap((k): string[] => {
    if (k.active) return [];
    if (!k.configured && k.sealedValues > 0) {
      return [`${missingLine(k)}: the users whose values it seals cannot verify; add it back to TOTP_ENCRYPTION_KEYS (after ${active}) and restart.`];
    }
    if (k.configured && k.sealedValues > 0) {
      return [`key "${k.keyId}" still seals ${plural(k.sealedValues, 'value')}: \`${bin} rekey\` moves them to ${active}.`];
    }
    if (k.configured) return [`key "${k.keyId}" seals nothing: it can be removed from TOTP_ENCRYPTION_KEYS.`];
    return [];
  });
}
