import type { KeyRing } from '@totp-service/core';
import type { KeyUsage } from '../store/store.js';

/**
 * Which encryption keys the store's sealed values need, against the configured key ring: the
 * encryptionKeys query, and the start-up check that refuses to run with a key missing (a lost key
 * is found at start-up, not by the first user who cannot log in).
 */
export interface EncryptionKeyUsage {
  readonly keyId: string;
  readonly sealedValues: number;
  readonly configured: boolean;
  readonly active: boolean;
}

/** Every configured key (active first) and every key that seals something, with its count. */
export function keyReport(ring: KeyRing, usage: KeyUsage): EncryptionKeyUsage[] {
  const ids = [...new Set([...ring.keyIds, ...Object.keys(usage.counts).sort()])];
  return ids.map((keyId) => ({
    keyId,
    sealedValues: usage.counts[keyId] ?? 0,
    configured: ring.keyIds.includes(keyId),
    active: keyId === ring.activeKeyId,
  }));
}

/** Keys that seal something but are not configured: one line each, naming the key and the count. */
export function missingKeys(report: readonly EncryptionKeyUsage[]): string[] {
  return report
    .filter((k) => !k.configured && k.sealedValues > 0)
    .map((k) => `key "${k.keyId}" seals ${k.sealedValues} value${k.sealedValues === 1 ? '' : 's'} in the store but is not in TOTP_ENCRYPTION_KEYS`);
}
