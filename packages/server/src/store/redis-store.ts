import { Cluster, Redis } from 'ioredis';
import { queryAudit, type AuditSource, type RawEntry } from '../audit/query.js';
import { decodeRecord, packMeta, storedAccountName, unpackMeta } from './codec.js';
import { FollowedClock } from './clock.js';
import { assessSafety, readSettings, type SafetyReport } from './guards.js';
import { auditStreamKey, bucketKeys, bucketTag, clientKey, eventBucket, userKeys, type UserKeys } from './keys.js';
import { defineScripts } from './scripts.js';
import {
  StoreUnavailableError,
  type AuditQuery,
  type CandidateFactor,
  type IndexSlice,
  type Reservation,
  type SealedValues,
  type SettleResult,
  type Store,
} from './store.js';
import { TotpError, type VerifyOutcome } from '@totp-service/core';

export interface RedisStoreOptions {
  /** Audit events kept over all buckets (TOTP_AUDIT_MAX_EVENTS). */
  readonly auditMaxEvents: number;
  /** Audit events kept per user. */
  readonly auditUserMaxEvents: number;
  /** TOTP_ALLOW_EVICTION: an evicting maxmemory-policy is a warning instead of a reason to stop. */
  readonly allowEviction?: boolean;
}

type Client = Redis | Cluster;

/** How often the store's clock is read again (it is followed with the monotonic clock between). */
const CLOCK_SYNC_MS = 30_000;
/** The key whose node answers TIME: always the same node of a Cluster, so every server reads one clock. */
const CLOCK_KEY = `${bucketTag(0)}:clock`;

/** Reply errors that mean "Redis cannot serve now", as opposed to a bug in a script. */
const UNAVAILABLE_REPLY = /^(OOM|READONLY|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|BUSY|NOREPLICAS|MOVED|ASK)\b/;

function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // bad input found on the way (a forged audit cursor) is the caller's, not the store's
  if (err instanceof TotpError) return false;
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLY.test(err.message);
  // connection closed, offline queue disabled, command timeout, max retries, cluster not ready …
  return true;
}

/**
 * The store on Redis (a single server or a Cluster through ioredis). Every operation on a user is
 * one Lua script on that user's bucket; a verify is two round trips (reserve, settle), plus the
 * client-address counter sent alongside the first when a clientIp is given.
 */
export class RedisStore implements Store {
  readonly kind: string;
  private readonly auditMax: number;
  private readonly userMax: number;
  private readonly allowEviction: boolean;
  private readonly clock = new FollowedClock();
  private clockTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Client,
    options: RedisStoreOptions,
  ) {
    this.kind = client instanceof Cluster ? 'cluster' : 'redis';
    this.auditMax = Math.max(1, Math.ceil(options.auditMaxEvents / 32));
    this.userMax = Math.max(1, options.auditUserMaxEvents);
    this.allowEviction = options.allowEviction ?? false;
    defineScripts(client);
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (isUnavailable(err)) throw new StoreUnavailableError((err as Error).message, { cause: err });
      throw err;
    }
  }

  /** A single Redis answers PING; a Cluster is ready when every master that owns slots does. */
  async ping(): Promise<void> {
    await this.guard(async () => {
      if (this.client instanceof Cluster) await Promise.all(this.masters().map((n) => n.ping()));
      else await this.client.ping();
    });
  }

  /**
   * The masters that own slots, by ioredis's slot table. A master ioredis dropped after losing it
   * (it reconnects to a node only when a command is redirected there) is missing from its pool:
   * the slot table is refreshed and this throws, so readiness never reports a partial cluster.
   */
  private masters(): Redis[] {
    const cluster = this.client as Cluster;
    const byKey = new Map(cluster.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n]));
    const owners = new Set<string>();
    for (const nodes of cluster.slots) if (nodes?.[0]) owners.add(nodes[0]);
    if (owners.size === 0) throw new Error('the cluster has no slot table yet');
    const missing = [...owners].filter((k) => !byKey.has(k));
    if (missing.length > 0) {
      cluster.refreshSlotsCache();
      throw new Error(`no connection to cluster master ${missing.join(', ')}`);
    }
    return [...owners].map((k) => byKey.get(k)!);
  }

  /** maxmemory-policy and persistence of the Redis (every master of a Cluster), judged. */
  async safety(): Promise<SafetyReport> {
    return this.guard(async () => {
      const nodes = this.client instanceof Cluster ? this.masters() : [this.client];
      const settings = await Promise.all(nodes.map(readSettings));
      return assessSafety(settings, { allowEviction: this.allowEviction });
    });
  }

  /**
   * Read Redis's clock, and again every 30 s: from then on `now()` is Redis's time, so servers
   * whose clocks disagree still agree on lockouts, expiries, audit times and codes.
   */
  async followClock(): Promise<void> {
    await this.syncClock();
    this.clockTimer ??= setInterval(() => void this.syncClock().catch(() => {}), CLOCK_SYNC_MS).unref();
  }

  private syncClock(): Promise<void> {
    return this.guard(() =>
      this.clock.sync(async () => {
        const [seconds, micros] = await this.client.totpTime(CLOCK_KEY);
        return Number(seconds) * 1000 + Number(micros) / 1000;
      }),
    );
  }

  now(): number {
    return this.clock.now();
  }

  clockSkew(): number {
    return this.clock.skewMillis();
  }

  async close(): Promise<void> {
    clearInterval(this.clockTimer);
    await this.client.quit().catch(() => this.client.disconnect());
  }

  getUser(userId: string, now: number) {
    const k = userKeys(userId);
    return this.guard(async () => {
      const [record, codes] = await Promise.all([this.client.hgetallBuffer(k.user), this.client.hlen(k.recovery)]);
      return decodeRecord(userId, record, codes, now);
    });
  }

  enroll(req: Parameters<Store['enroll']>[0]) {
    const k = userKeys(req.userId);
    const f = req.factor;
    return this.guard(async () => {
      const reply = await this.client.totpEnroll(
        k.user, k.events, k.audit, k.activeIndex, k.pendingIndex, k.pendingExpiry, k.recovery,
        req.now, req.mode ?? 'pending', req.replace ? 1 : 0, req.expiresAt, Math.max(1, req.expiresAt - req.now),
        f.sealed, packMeta(f), f.issuer, storedAccountName(f.accountName, req.userId), f.generation, k.id, req.userId,
        req.actor.name, req.actor.clientIp ?? '', this.auditMax, this.userMax,
        req.mode === 'active' ? 'IMPORTED' : 'ENROLLED', req.detail ?? (req.replace ? 'replace' : ''),
      );
      return reply === 'OK' ? ({ ok: true } as const) : ({ ok: false, reason: 'ALREADY_ENROLLED' } as const);
    });
  }

  revoke(req: Parameters<Store['revoke']>[0]) {
    const k = userKeys(req.userId);
    return this.guard(async () => {
      const n = await this.client.totpRevoke(
        k.user, k.recovery, k.events, k.audit, k.activeIndex, k.pendingIndex, k.pendingExpiry,
        req.now, k.id, req.userId, req.actor.name, req.actor.clientIp ?? '', this.auditMax, this.userMax,
        req.reason ?? '',
      );
      return n === 1;
    });
  }

  unlock(req: Parameters<Store['unlock']>[0]) {
    const k = userKeys(req.userId);
    return this.guard(async () => {
      const n = await this.client.totpUnlock(
        k.user, k.events, k.audit,
        req.now, req.userId, req.actor.name, req.actor.clientIp ?? '', this.auditMax, this.userMax,
      );
      return n === 1 ? this.getUser(req.userId, req.now) : null;
    });
  }

  reserve(req: Parameters<Store['reserve']>[0]): Promise<Reservation> {
    const k = userKeys(req.userId);
    const { limits } = req;
    return this.guard(async () => {
      const user = this.client.totpReserveBuffer(k.user, k.recovery, req.now, req.codeLength, limits.maxFailures, ...limits.lockoutMillis);
      const client = req.clientIp === undefined ? undefined : this.client.totpClient(clientKey(req.clientIp), limits.clientLimit, limits.clientWindowMillis);
      const [u, c] = await Promise.allSettled([user, client]);
      if (u.status === 'rejected' || c.status === 'rejected') {
        await this.giveBack(k, u, c, req.clientIp);
        throw u.status === 'rejected' ? u.reason : (c as PromiseRejectedResult).reason;
      }
      const r = parseReservation(u.value);
      const budget = c.value;
      if (budget && budget[0] === 0) {
        return { kind: 'refused', outcome: 'RATE_LIMITED', retryAfterMillis: budget[1], ...(r.kind === 'reserved' ? { hold: r.hold } : {}) };
      }
      return r;
    });
  }

  /**
   * A request that fails for the store's sake charges nobody: when one half of a reservation (the
   * user's attempt, the client address's) failed, the half that was counted is given back. Best
   * effort: if that fails too, the attempt stays counted (the safe side: never more codes tested).
   */
  private async giveBack(
    k: UserKeys,
    user: PromiseSettledResult<unknown[]>,
    client: PromiseSettledResult<[number, number] | undefined>,
    clientIp: string | undefined,
  ): Promise<void> {
    const undo: Promise<unknown>[] = [];
    if (user.status === 'fulfilled') {
      const r = parseReservation(user.value);
      if (r.kind === 'reserved') undo.push(this.client.totpGiveBack(k.user, r.hold.armedUntil));
    }
    if (client.status === 'fulfilled' && client.value && clientIp !== undefined) undo.push(this.client.totpUnclient(clientKey(clientIp)));
    await Promise.allSettled(undo);
  }

  settle(req: Parameters<Store['settle']>[0]): Promise<SettleResult> {
    const k = userKeys(req.userId);
    const s = req.settlement;
    let a4: string | number = '', a5 = '', a6: number = 0, a7: number = 0;
    if (s.kind === 'match') [a4, a5, a6, a7] = [s.slot, s.generation, s.stepAt, s.drift];
    else if (s.kind === 'recovery') a4 = s.hash;
    else if (s.kind !== 'miss') [a4, a5] = [s.outcome ?? '', s.detail ?? ''];
    return this.guard(async () => {
      const [outcome, activated, failures, lockedUntil, left] = await this.client.totpSettle(
        k.user, k.events, k.audit, k.activeIndex, k.pendingIndex, k.pendingExpiry, k.recovery, k.stray,
        req.now, s.kind, req.hold?.armedUntil ?? 0, a4, a5, a6, a7, k.id, req.userId,
        req.actor.name, req.actor.clientIp ?? '', this.auditMax, this.userMax,
        req.recovery ? 'RECOVERY_CODE_USED' : 'VERIFY',
      );
      return {
        outcome: (outcome || null) as VerifyOutcome | null,
        activated: activated === 1,
        failures,
        lockedUntil,
        ...(req.recovery ? { recoveryCodesRemaining: left } : {}),
      };
    });
  }

  setRecoveryCodes(req: Parameters<Store['setRecoveryCodes']>[0]) {
    const k = userKeys(req.userId);
    return this.guard(async () => {
      const replaced = await this.client.totpRecovery(
        k.user, k.recovery, k.events, k.audit,
        req.now, req.sealedKey, req.userId, req.actor.name, req.actor.clientIp ?? '', this.auditMax, this.userMax,
        ...req.hashes,
      );
      return replaced < 0 ? ({ ok: false } as const) : ({ ok: true, replaced } as const);
    });
  }

  auditEvents(query: AuditQuery) {
    return this.guard(() => queryAudit(this.auditSource, query));
  }

  recordEvent(req: Parameters<Store['recordEvent']>[0]) {
    return this.guard(async () => {
      await this.client.totpEvent(
        bucketKeys(eventBucket(null)).audit,
        req.now, req.type, req.actor.name, req.actor.clientIp ?? '', this.auditMax, req.detail ?? '',
      );
    });
  }

  indexRange(req: Parameters<Store['indexRange']>[0]): Promise<IndexSlice> {
    const b = bucketKeys(req.bucket);
    const which = req.status === null ? 'all' : req.status.toLowerCase();
    return this.guard(async () => {
      const [active, pending] = await this.client.totpIndex(b.activeIndex, b.pendingIndex, req.after === null ? '-' : `(${req.after}`, req.count, which);
      return { active, pending };
    });
  }

  sealedValues(userIds: readonly string[]) {
    return this.guard(() =>
      Promise.all(
        userIds.map(async (userId): Promise<SealedValues | null> => {
          const [s, ps, rk] = await this.client.hmgetBuffer(userKeys(userId).user, 's', 'ps', 'rk');
          if (!s && !ps && !rk) return null;
          return { ...(s ? { s } : {}), ...(ps ? { ps } : {}), ...(rk ? { rk } : {}) };
        }),
      ),
    );
  }

  reseal(req: Parameters<Store['reseal']>[0]) {
    return this.guard(async () => {
      if (req.swaps.length === 0) return { rewritten: 0, conflicts: 0 };
      const [rewritten, conflicts] = await this.client.totpReseal(
        userKeys(req.userId).user,
        req.now,
        ...req.swaps.flatMap((w) => [w.field, w.from, w.to]),
      );
      return { rewritten, conflicts };
    });
  }

  private readonly auditSource: AuditSource = {
    oldest: async (bucket) => (await this.client.xrange(bucketKeys(bucket).audit, '-', '+', 'COUNT', 1))[0]?.[0] ?? null,
    revRange: (requests) =>
      Promise.all(
        requests.map(async ({ ref, end, start, count }) => {
          const raw =
            ref.kind === 'user'
              ? await this.client.totpEvents(userKeys(ref.userId).events, userKeys(ref.userId).audit, end, start, count)
              : await this.client.xrevrange(auditStreamKey(ref.stream), end, start, 'COUNT', count);
          return raw.map(([id, flat]): RawEntry => {
            const fields: Record<string, string> = {};
            for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
            return { id, fields };
          });
        }),
      ),
  };
}

const str = (v: unknown): string | null => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString() : String(v));

function parseReservation(reply: unknown[]): Reservation {
  const status = str(reply[0]);
  if (status === 'N') return { kind: 'refused', outcome: 'NOT_ENROLLED' };
  if (status === 'M') return { kind: 'refused', outcome: 'MALFORMED' };
  if (status === 'L') return { kind: 'refused', outcome: 'LOCKED', retryAfterMillis: Number(reply[1]) };
  const [, failures, armedUntil, lastStep, drift, s, m, g, ps, pm, pg, rk] = reply;
  const candidates: CandidateFactor[] = [];
  const add = (slot: 'active' | 'pending', sealed: unknown, meta: unknown, generation: unknown) => {
    if (!Buffer.isBuffer(sealed)) return;
    candidates.push({ slot, sealed, generation: str(generation)!, ...unpackMeta(str(meta)!) });
  };
  add('active', s, m, g);
  add('pending', ps, pm, pg);
  return {
    kind: 'reserved',
    hold: { failures: Number(failures), armedUntil: Number(armedUntil) },
    candidates,
    lastStepAt: lastStep === null ? null : Number(str(lastStep)),
    drift: Number(drift),
    ...(Buffer.isBuffer(rk) ? { recoveryKey: rk } : {}),
  };
}

export { Redis, Cluster };
