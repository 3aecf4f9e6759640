import type { Algorithm, AuditEventType, Digits, Period, VerifyOutcome } from '@totp-service/core';
import type { RedisTls } from './tls.js';

/**
 * The store port: every piece of state the service keeps, behind operations that are each atomic
 * per user. Two adapters implement it (Redis with Lua, and the embedded in-process store) and one
 * contract suite (contract.ts) holds both to the same behaviour. Time is always an argument.
 */

export { AUDIT_EVENT_TYPES, type AuditEventType } from '@totp-service/core';

/** What the caller of an operation is, for the audit trail. */
export interface Actor {
  /** The API key's name. */
  readonly name: string;
  readonly clientIp?: string | undefined;
}

export interface FactorParams {
  readonly algorithm: Algorithm;
  readonly digits: Digits;
  readonly period: Period;
  readonly issuer: string;
  readonly accountName: string;
}

/** A factor as stored: the secret sealed, never in clear. */
export interface StoredFactor extends FactorParams {
  readonly sealed: Buffer;
  /** Random id of this secret, so a verify that matched a secret replaced meanwhile is refused. */
  readonly generation: string;
  readonly createdAt: number;
}

/** One of a user's authenticators: its confirmed secret, a pending one (new, or a replacement), or both. */
export interface StoredDevice {
  /** Made by the store, never reused while the user has devices: '0', '1', … */
  readonly id: string;
  /** Unique within the user. */
  readonly name: string;
  readonly active:
    | (StoredFactor & {
        readonly activatedAt: number;
        /** Start of the last accepted time step, epoch seconds (comparable across 30 s and 60 s periods). */
        readonly lastStepAt: number | null;
      })
    | null;
  readonly pending: (StoredFactor & { readonly expiresAt: number }) | null;
}

export interface UserRecord {
  readonly userId: string;
  /** Every device that is ACTIVE or has a pending secret that has not lapsed, oldest first. */
  readonly devices: readonly StoredDevice[];
  readonly failures: number;
  /** Epoch ms; 0 when not locked. */
  readonly lockedUntil: number;
  readonly lockouts: number;
  readonly lastVerifiedAt: number | null;
  readonly recoveryCodesRemaining: number;
}

/** What both stores are made with (TOTP_AUDIT_MAX_EVENTS, TOTP_AUDIT_USER_MAX_EVENTS, TOTP_ALLOW_EVICTION). */
export interface StoreOptions {
  /** Audit events kept over all buckets (and as many again about ids with nothing enrolled). */
  readonly auditMaxEvents: number;
  /** Audit events kept per user. */
  readonly auditUserMaxEvents: number;
  /** Redis only: an evicting maxmemory-policy is a warning instead of a reason to stop. */
  readonly allowEviction?: boolean;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Which store to make, and how to reach it: config.ts builds it from the environment. */
export type StoreSettings = { readonly options: StoreOptions } & (
  | { readonly kind: 'embedded' }
  | ({ readonly kind: 'redis'; readonly url: string; readonly keyPrefix: string } & WithTls)
  | ({ readonly kind: 'cluster'; readonly nodes: readonly HostPort[]; readonly password: string | null; readonly keyPrefix: string } & WithTls)
  | ({
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly master: string;
      readonly password: string | null;
      readonly keyPrefix: string;
    } & WithTls)
);

/** TLS to Redis (rediss://, or REDIS_TLS=true with a Cluster or Sentinels); null: plain TCP. */
type WithTls = { readonly tls: RedisTls | null };

export type EnrollResult =
  | { readonly ok: true; readonly deviceId: string; readonly deviceName: string; /** Devices the user holds now. */ readonly devices: number }
  | { readonly ok: false; readonly reason: 'ALREADY_ENROLLED' | 'TOO_MANY_DEVICES' };

export type RenameResult = { readonly ok: true; readonly record: UserRecord } | { readonly ok: false; readonly reason: 'NOT_ENROLLED' | 'NAME_TAKEN' };

/** Limits the store enforces atomically; all arithmetic is done by the caller (policy). */
export interface AttemptLimits {
  readonly maxFailures: number;
  /** Lockout length in ms for the 1st, 2nd, … lockout; the last entry repeats. */
  readonly lockoutMillis: readonly number[];
  readonly clientLimit: number;
  readonly clientWindowMillis: number;
}

/** A secret a code is checked against: a device's confirmed secret, or its pending one. */
export interface CandidateFactor {
  readonly deviceId: string;
  readonly slot: 'active' | 'pending';
  readonly sealed: Buffer;
  readonly generation: string;
  readonly algorithm: Algorithm;
  readonly digits: Digits;
  readonly period: Period;
  /** The secret's last accepted step (epoch s); null for none (always for a pending secret). */
  readonly lastStepAt: number | null;
  /** Learned drift of the device's clock, in steps (0 for a pending secret). */
  readonly drift: number;
}

/** What round trip 1 hands back. */
export type Reservation =
  | {
      readonly kind: 'refused';
      readonly outcome: Extract<VerifyOutcome, 'LOCKED' | 'NOT_ENROLLED' | 'MALFORMED' | 'RATE_LIMITED'>;
      readonly retryAfterMillis?: number;
      /** A refusal for the client budget can come after the user's attempt was reserved. */
      readonly hold?: AttemptHold;
    }
  | {
      readonly kind: 'reserved';
      readonly hold: AttemptHold;
      /** Every secret of every device of the user whose length fits the code. */
      readonly candidates: readonly CandidateFactor[];
      /** The sealed recovery-code key (recovery verifies only). */
      readonly recoveryKey?: Buffer;
    };

/** An attempt counted before the code was checked: what round trip 2 settles. */
export interface AttemptHold {
  /** The failure count after this reservation. */
  readonly failures: number;
  /** lockedUntil armed by this reservation (it spent the budget), else 0. */
  readonly armedUntil: number;
}

export type Settlement =
  /** The code matched a device's `slot` at the step starting `stepAt` (epoch s): accept if later than its last accepted. */
  | {
      readonly kind: 'match';
      readonly deviceId: string;
      readonly slot: 'active' | 'pending';
      readonly generation: string;
      readonly stepAt: number;
      readonly drift: number;
    }
  /** A recovery code whose keyed hash is `hash`: accept if it is still unused. */
  | { readonly kind: 'recovery'; readonly hash: string }
  /** No match: the reserved attempt stays a failure. */
  | { readonly kind: 'miss' }
  /** Give the reserved attempt back (the client budget refused it, or the secret could not be opened). */
  | { readonly kind: 'release'; readonly outcome: VerifyOutcome | null; readonly detail?: string }
  /** Nothing was reserved; only the audit entry is written. */
  | { readonly kind: 'none'; readonly outcome: VerifyOutcome; readonly detail?: string };

export interface SettleResult {
  /** null only for a released attempt recorded without an outcome (a secret that could not be opened). */
  readonly outcome: VerifyOutcome | null;
  readonly activated: boolean;
  readonly failures: number;
  /** Epoch ms, 0 when not locked. */
  readonly lockedUntil: number;
  readonly recoveryCodesRemaining?: number;
  /** With ACCEPTED for a TOTP code: the device that matched. */
  readonly device: { readonly id: string; readonly name: string } | null;
}

/** A secret a server holds open, and where a code matched it (see Store.attempt). */
export interface OpenMatch {
  /** "deviceId:generation:drift" of the secret, with the learned drift the marks were made around. */
  readonly secret: string;
  /**
   * One character per step from the current step + drift - window to + drift + window: '1' where
   * the code matched, else '0'. As long whatever the code.
   */
  readonly hits: string;
}

/** What Store.attempt did: a whole attempt, or nothing (the caller's secrets are not the user's any more, or one round trip cannot count this attempt). */
export type AttemptOutcome =
  | { readonly kind: 'stale' | 'unsupported' }
  | { readonly kind: 'done'; readonly reservation: Reservation; readonly settled: SettleResult; readonly driftSteps: number | null };

export interface AuditEvent {
  readonly id: string;
  readonly at: number;
  readonly type: AuditEventType;
  readonly userId: string | null;
  readonly deviceId: string | null;
  readonly actor: string;
  readonly clientIp: string | null;
  readonly outcome: VerifyOutcome | null;
  readonly detail: string | null;
}

export interface AuditQuery {
  readonly userId?: string | undefined;
  readonly types?: readonly AuditEventType[] | undefined;
  /** Epoch ms, inclusive. */
  readonly since?: number | undefined;
  /** Epoch ms, inclusive. */
  readonly until?: number | undefined;
  readonly first: number;
  readonly after?: string | undefined;
}

export interface Page<T> {
  readonly nodes: readonly T[];
  readonly endCursor: string | null;
  readonly hasNextPage: boolean;
}

/** An audit event waiting to be delivered to the webhook receiver. */
export interface OutboxEntry {
  readonly event: AuditEvent;
  /** Tries so far, this one included (1 for a first try). */
  readonly deliveries: number;
}

/**
 * Webhook deliveries, shared by every server on one store: the audit log itself is the outbox (an
 * event is in it the moment it happened, written by the script that made it), read through one
 * consumer group, so each event goes to one server, and one that fails or whose server dies waits
 * in the store until a server tries it again. Nothing is added to the verify path.
 */
export interface Outbox {
  /** The consumer group on every audit stream, created the first time from the streams' ends (no history is sent). */
  start(): Promise<void>;
  /** How many streams the log has (numbered from 0): a reader can look at a few at a time. */
  readonly streams: number;
  /** Events no server has taken yet, at most `perStream` from each of `streams` (default: all), now `consumer`'s. */
  take(consumer: string, perStream: number, streams?: readonly number[]): Promise<OutboxEntry[]>;
  /**
   * Taken events not yet acknowledged whose next try is due: `waitMillis(deliveries, eventId)` is
   * how long after the last try. Claimed by `consumer` (so two servers never retry one event at once).
   * Events the audit cap trimmed before they were delivered are acknowledged and counted in `lost`.
   */
  retry(consumer: string, perStream: number, waitMillis: (deliveries: number, eventId: string) => number): Promise<{ entries: OutboxEntry[]; lost: number }>;
  /** Delivered, or given up: never tried again. */
  ack(eventIds: readonly string[]): Promise<void>;
  /** Events taken and not acknowledged, and events not taken yet (null when the store cannot tell). */
  backlog(): Promise<{ readonly pending: number; readonly waiting: number | null }>;
}

export interface Store {
  /** 'embedded' or 'redis' or 'cluster'. */
  readonly kind: string;
  /** Webhook deliveries (see Outbox). */
  readonly outbox: Outbox;
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  /**
   * The store's clock, epoch ms: every server on one store reads the same time from it, whatever
   * its own clock says, so lockouts, expiries, audit times and the codes themselves do not depend
   * on which server answered (on Redis: Redis's TIME, followed with this process's monotonic clock).
   */
  now(): number;
  /** This process's wall clock minus the store's, ms, as last measured (absent: the same clock). */
  clockSkew?(): number;
  /**
   * Settings of the store that make it unsafe (fatal) or fragile (warnings): an evicting
   * maxmemory-policy, no persistence. Stores without such settings (embedded) leave it out.
   */
  safety?(): Promise<{ readonly fatal: readonly string[]; readonly warnings: readonly string[] }>;
  close(): Promise<void>;

  getUser(userId: string, now: number): Promise<UserRecord | null>;
  /**
   * Write `factor` as the pending secret of the user's device named `deviceName`: a new device
   * when the user has none of that name (refused with TOO_MANY_DEVICES past `maxDevices`, pending
   * ones included), a replacement of a PENDING device's secret, or of an ACTIVE device's only with
   * `replace` (else ALREADY_ENROLLED).
   */
  enroll(req: {
    userId: string;
    deviceName: string;
    maxDevices: number;
    factor: StoredFactor;
    replace: boolean;
    now: number;
    expiresAt: number;
    actor: Actor;
    /**
     * 'pending' (enrollTotp, the default) or 'active': the factor is ACTIVE at once (importTotp,
     * recorded as IMPORTED with `detail`; an ACTIVE device of that name is ALREADY_ENROLLED).
     */
    mode?: 'pending' | 'active';
    /** Active mode: steps starting at or before this (epoch s) count as used. */
    lastStepAt?: number | null;
    detail?: string;
  }): Promise<EnrollResult>;
  /**
   * Remove one device, or (without `deviceId`) every device, recovery code and counter of the
   * user; removing the last device removes everything. False when there was nothing to remove.
   */
  revoke(req: { userId: string; now: number; actor: Actor; reason?: string | undefined; deviceId?: string | undefined }): Promise<boolean>;
  /** Give a device a new name, unique within the user; recorded as DEVICE_RENAMED. */
  renameDevice(req: { userId: string; deviceId: string; name: string; now: number; actor: Actor }): Promise<RenameResult>;
  /** Clear failures and any lockout. Null when nothing is enrolled. */
  unlock(req: { userId: string; now: number; actor: Actor }): Promise<UserRecord | null>;

  /** Round trip 1 of a verify: refuse, or count the attempt and hand back what checking needs. */
  reserve(req: {
    userId: string;
    clientIp?: string | undefined;
    /** The code's length; 0 for a recovery code. */
    codeLength: number;
    now: number;
    limits: AttemptLimits;
  }): Promise<Reservation>;
  /** Round trip 2: settle the attempt and write its audit entries, atomically. */
  settle(req: {
    userId: string;
    hold: AttemptHold | undefined;
    settlement: Settlement;
    now: number;
    limits: AttemptLimits;
    actor: Actor;
    recovery?: boolean;
  }): Promise<SettleResult>;

  /**
   * A whole TOTP verify in one round trip, for a caller that holds the user's secrets of this code
   * length open and has marked where the code matches them over the window around each device's
   * learned drift: the same reservation, decision and settlement as reserve + settle, in one atomic
   * step. Nothing is counted when `checked` is not exactly the user's secrets of this length with
   * the drifts the store holds ('stale'), or when the store cannot count the client address in
   * the same step ('unsupported': a Cluster). Optional: a store without it always takes the two
   * round trips.
   */
  attempt?(req: {
    userId: string;
    clientIp?: string | undefined;
    codeLength: number;
    now: number;
    limits: AttemptLimits;
    actor: Actor;
    window: number;
    driftBound: number;
    checked: readonly OpenMatch[];
  }): Promise<AttemptOutcome>;

  /**
   * Replace the user's recovery codes: store the sealed recovery key in `rk` and the codes' keyed
   * hashes, dropping any earlier set; recorded as RECOVERY_CODES_GENERATED. Refused (ok: false)
   * when nothing is enrolled. Codes made during a PENDING enrollment live as long as it does, and
   * are kept when it is confirmed (they can be used from then on).
   */
  setRecoveryCodes(req: {
    userId: string;
    sealedKey: Buffer;
    hashes: readonly string[];
    now: number;
    actor: Actor;
  }): Promise<{ readonly ok: true; readonly replaced: number } | { readonly ok: false }>;

  /** Audit events, newest first. */
  auditEvents(query: AuditQuery): Promise<Page<AuditEvent>>;
  /** Record an event that concerns no single user (a rekey run). */
  recordEvent(req: { type: AuditEventType; now: number; actor: Actor; detail?: string }): Promise<void>;

  /**
   * One page of enrollments (users ACTIVE or PENDING, or either), in a fixed order that concurrent
   * enrollments and revocations do not disturb; `after` is a page's `endCursor` (anything else is
   * BAD_USER_INPUT naming `after`).
   */
  enrollments(q: { status: EnrollmentStatus | null; first: number; after: string | null; now: number }): Promise<Page<UserRecord>>;
  /**
   * How many sealed values each key id seals, over every user with a confirmed device, kept as
   * values are sealed, re-sealed and removed (so that reading it costs nothing per user);
   * `counted` is false while a store written before the counts existed has not been counted.
   */
  keyUsage(): Promise<KeyUsage>;
  /** Count again from the users themselves, bucket by bucket (an upgrade; rekeyTotp). */
  recountKeys(): Promise<void>;
  /** Every enrolled user's id, in batches of about `batch` (for rekeyTotp). */
  userIds(batch: number): AsyncIterable<readonly string[]>;
  /** The sealed values of each user (null for a user with no record). */
  sealedValues(userIds: readonly string[]): Promise<(SealedValues | null)[]>;
  /**
   * Compare-and-set of sealed values: each `to` is written only where the field still holds
   * `from` byte for byte, so a concurrent enroll, activation or revoke is never overwritten.
   */
  reseal(req: { userId: string; swaps: readonly SealSwap[]; now: number }): Promise<{ readonly rewritten: number; readonly conflicts: number }>;
}

export type EnrollmentStatus = 'ACTIVE' | 'PENDING';

export interface KeyUsage {
  readonly counts: Readonly<Record<string, number>>;
  readonly counted: boolean;
}

/** Index members (base64url user ids), each list ascending. */
export interface IndexSlice {
  readonly active: readonly string[];
  readonly pending: readonly string[];
}

/**
 * The fields of a user's record that hold sealed values: each device's secret and pending secret
 * (s, ps, with the device's prefix: '1s', '1ps', …) and the recovery key (rk).
 */
export type SealedField = string;
export type SealedValues = Readonly<Record<SealedField, Buffer>>;
export interface SealSwap {
  readonly field: SealedField;
  readonly from: Buffer;
  readonly to: Buffer;
}

/** The store cannot be reached or answered with an error: SERVICE_UNAVAILABLE. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
