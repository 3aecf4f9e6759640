import type { Algorithm, Digits, Period, StepCodes } from '@totp-service/core';

/**
 * The secrets of recently verified users, held open so that their next verify takes one Redis
 * round trip instead of two (docs/architecture.md, "The verify path"; the trade is in SECURITY.md,
 * "Secrets in the server's memory").
 *
 * Bounded in count (least recently used out first) and in time (an entry lives `ttlMillis` from
 * the verify that opened it, however often it is used). Never trusted: the store checks, in the
 * same atomic step that counts the attempt, that every secret named here (device id and
 * generation, which changes with the secret) is exactly the user's; a revoked or replaced secret
 * makes the entry stale and the verify reads the user again. Bytes of a secret, and the codes of
 * its latest steps held beside it, are zeroed when its entry goes.
 */

/**
 * Held open unless configured otherwise (TOTP_SECRET_CACHE_SIZE, _SECONDS): 100,000 users (about
 * 85 MB of heap when full: the secrets and entries about 60 MB, the memo of codes that each
 * user's first verify fills the rest) for 5 minutes. Sized well above the distinct users a server
 * verifies in five minutes: least-recently-used eviction under a scan larger than the cache hits
 * nothing (the benchmark's round robin over 10,064 users did just that with 10,000).
 */
export const DEFAULT_SECRET_CACHE = Object.freeze({ size: 100_000, seconds: 300 });

export interface OpenSecret {
  readonly deviceId: string;
  readonly generation: string;
  /** The device's learned drift as last seen (the store refuses marks made around another). */
  readonly drift: number;
  readonly secret: Uint8Array;
  /** The secret's codes of its latest steps (core's StepCodes), wiped with it. */
  readonly codes: StepCodes;
  readonly algorithm: Algorithm;
  readonly digits: Digits;
  readonly period: Period;
}

export interface CachedSecrets {
  /** The code length every secret here has: an entry answers only for codes of that length. */
  readonly codeLength: number;
  readonly secrets: readonly OpenSecret[];
  readonly expiresAt: number;
}

export class SecretCache {
  private readonly entries = new Map<string, CachedSecrets>();
  /** Runs only while something is held, so that an idle server soon holds nothing. */
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMillis: number,
    private readonly clock: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The user's open secrets for codes of this length, if held and not expired. */
  get(userId: string, codeLength: number, now: number): CachedSecrets | undefined {
    const entry = this.entries.get(userId);
    if (!entry) return undefined;
    if (entry.expiresAt <= now || entry.codeLength !== codeLength) {
      this.delete(userId);
      return undefined;
    }
    // most recently used last: the Map's order is the eviction order
    this.entries.delete(userId);
    this.entries.set(userId, entry);
    return entry;
  }

  /** Hold these secrets (the cache owns their bytes from now on). */
  set(userId: string, codeLength: number, secrets: readonly OpenSecret[], now: number): void {
    this.delete(userId);
    if (this.maxEntries <= 0 || secrets.length === 0) {
      wipe(secrets);
      return;
    }
    this.entries.set(userId, { codeLength, secrets, expiresAt: now + this.ttlMillis });
    this.sweeper ??= setInterval(() => this.sweep(this.clock()), Math.min(this.ttlMillis, 10_000)).unref();
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
    }
  }

  /** A device's new learned drift (a code it accepted), so that the next marks are made around it. */
  learnDrift(userId: string, deviceId: string, drift: number): void {
    const entry = this.entries.get(userId);
    if (!entry?.secrets.some((s) => s.deviceId === deviceId && s.drift !== drift)) return;
    const secrets = entry.secrets.map((s) => (s.deviceId === deviceId ? { ...s, drift } : s));
    this.entries.set(userId, { ...entry, secrets });
  }

  delete(userId: string): void {
    const entry = this.entries.get(userId);
    if (!entry) return;
    this.entries.delete(userId);
    wipe(entry.secrets);
  }

  /** Drop every entry whose time is up. */
  sweep(now: number): void {
    for (const [userId, entry] of this.entries) if (entry.expiresAt <= now) this.delete(userId);
    if (this.entries.size === 0) this.stopSweeper();
  }

  clear(): void {
    for (const userId of [...this.entries.keys()]) this.delete(userId);
    this.stopSweeper();
  }

  private stopSweeper(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

function wipe(secrets: readonly OpenSecret[]): void {
  for (const s of secrets) {
    s.secret.fill(0);
    s.codes.wipe();
  }
}
