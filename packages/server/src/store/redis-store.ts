import { Cluster, type Redis } from 'ioredis';
import { queryAudit, type AuditSource } from './audit-query.js';
import { FollowedClock } from './clock.js';
import { decodeRecord, sealedOf, storedAccountName, storedIssuer, storedMeta, sumKeyCounts } from './codec.js';
import { listEnrollments, userIdBatches, type IndexSource } from './enrollment-walk.js';
import { assessSafety, readSettings, type SafetyReport } from './guards.js';
import { BUCKETS, auditStreamKey, bucketKeys, bucketTag, clientKey, eventBucket, userKeys, type UserKeys } from './keys.js';
import { RedisOutbox } from './redis-outbox.js';
import { parseAttempt, parseReservation, parseSettlement, toRawEntry } from './redis-replies.js';
import { Scripts, type AuditArgs, type SettleWhat } from './scripts.js';
import {
  StoreUnavailableError,
  type Actor,
  type AttemptOutcome,
  type IndexSlice,
  type EnrollResult,
  type KeyUsage,
  type RenameResult,
  type Reservation,
  type Settlement,
  type SettleResult,
  type Store,
  type StoreOptions,
} from './store.js';

type Client = Redis | Cluster;

/** How often the store's clock is read again (it is followed with the monotonic clock between). */
const CLOCK_SYNC_MS = 30_000;
/** The key whose node answers TIME: always the same node of a Cluster, so every server reads one clock. */
const CLOCK_KEY = `${bucketTag(0)}:clock`;

/** Reply errors that mean "Redis cannot serve now", as opposed to a bug in a script. */
const UNAVAILABLE_REPLY = /^(OOM|READONLY|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|BUSY|NOREPLICAS|MOVED|ASK)\b/;

/**
 * A failed Redis call as the port reports it: SERVICE_UNAVAILABLE for a connection, a timeout, a
 * cluster that is not ready or a reply that means "not now"; any other reply error (a bug in a
 * script) as it is. Only Redis calls pass through here, so a bug in this process's own code is
 * never mistaken for an outage.
 */
function storeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  if (err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(err.message)) return err;
  return new StoreUnavailableError(err.message, { cause: err });
}

async function redis<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw storeError(err);
  }
}

/** A settlement as settle.lua's arguments name it. */
function settleWhat(s: Settlement): SettleWhat {
  if (s.kind === 'release' || s.kind === 'none') return { kind: s.kind, outcome: s.outcome ?? '', detail: s.detail ?? '' };
  return s;
}

/**
 * The store on Redis (a single server or a Cluster through ioredis). Every operation on a user is
 * one Lua script on that user's bucket; a verify is two round trips (reserve, settle), plus the
 * client-address counter sent alongside the first when a clientIp is given, or one (attempt) when
 * the server holds the user's secrets open.
 */
export class RedisStore implements Store, IndexSource {
  readonly kind: string;
  readonly outbox: RedisOutbox;
  private readonly scripts: Scripts;
  private readonly auditMax: number;
  private readonly userMax: number;
  private readonly allowEviction: boolean;
  private readonly clock = new FollowedClock();
  private clockTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Client,
    options: StoreOptions,
  ) {
    this.kind = client instanceof Cluster ? 'cluster' : 'redis';
    this.scripts = new Scripts(client);
    this.outbox = new RedisOutbox(client, this.scripts, redis);
    this.auditMax = Math.max(1, Math.ceil(options.auditMaxEvents / BUCKETS));
    this.userMax = Math.max(1, options.auditUserMaxEvents);
    this.allowEviction = options.allowEviction ?? false;
  }

  /** Who did it and the audit caps, as the scripts that record an event take them. */
  private audited(userId: string, actor: Actor): AuditArgs {
    return { userId, actor: actor.name, clientIp: actor.clientIp ?? '', auditMax: this.auditMax, userMax: this.userMax };
  }

  /** A single Redis answers PING; a Cluster is ready when every master that owns slots does. */
  async ping(): Promise<void> {
    const nodes = this.client instanceof Cluster ? this.masters() : [this.client];
    await redis(Promise.all(nodes.map((n) => n.ping())));
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
    if (owners.size === 0) throw new StoreUnavailableError('the cluster has no slot table yet');
    const missing = [...owners].filter((k) => !byKey.has(k));
    if (missing.length > 0) {
      cluster.refreshSlotsCache();
      throw new StoreUnavailableError(`no connection to cluster master ${missing.join(', ')}`);
    }
    return [...owners].map((k) => byKey.get(k)!);
  }

  /** maxmemory-policy and persistence of the Redis (every master of a Cluster), judged. */
  async safety(): Promise<SafetyReport> {
    const nodes = this.client instanceof Cluster ? this.masters() : [this.client];
    const settings = await redis(Promise.all(nodes.map(readSettings)));
    return assessSafety(settings, { allowEviction: this.allowEviction });
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
    return this.clock.sync(async () => {
      const [seconds, micros] = await redis(this.scripts.time(CLOCK_KEY));
      return Number(seconds) * 1000 + Number(micros) / 1000;
    });
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

  async getUser(userId: string, now: number) {
    const k = userKeys(userId);
    const [record, codes] = await redis(Promise.all([this.client.hgetallBuffer(k.user), this.client.hlen(k.recovery)]));
    return decodeRecord(userId, record, codes, now);
  }

  async enroll(req: Parameters<Store['enroll']>[0]): Promise<EnrollResult> {
    const f = req.factor;
    const [status, deviceId, deviceName, devices] = await redis(
      this.scripts.enroll(userKeys(req.userId), {
        audit: this.audited(req.userId, req.actor),
        now: req.now,
        mode: req.mode ?? 'pending',
        replace: req.replace,
        expiresAt: req.expiresAt,
        sealed: f.sealed,
        meta: storedMeta(f),
        issuer: storedIssuer(f.issuer),
        accountName: storedAccountName(f.accountName, req.userId),
        generation: f.generation,
        eventType: req.mode === 'active' ? 'IMPORTED' : 'ENROLLED',
        detail: req.detail ?? (req.replace ? 'replace' : ''),
        deviceName: req.deviceName,
        maxDevices: req.maxDevices,
        lastStepAt: req.lastStepAt ?? null,
      }),
    );
    if (status === 'OK') return { ok: true, deviceId: deviceId!, deviceName: deviceName!, devices: devices! };
    return { ok: false, reason: status === 'TOO_MANY_DEVICES' ? 'TOO_MANY_DEVICES' : 'ALREADY_ENROLLED' };
  }

  async revoke(req: Parameters<Store['revoke']>[0]) {
    const args = { audit: this.audited(req.userId, req.actor), now: req.now, reason: req.reason ?? '', deviceId: req.deviceId ?? '' };
    return (await redis(this.scripts.revoke(userKeys(req.userId), args))) === 1;
  }

  async renameDevice(req: Parameters<Store['renameDevice']>[0]): Promise<RenameResult> {
    const args = { audit: this.audited(req.userId, req.actor), now: req.now, deviceId: req.deviceId, name: req.name };
    const [status] = await redis(this.scripts.rename(userKeys(req.userId), args));
    if (status !== 'OK') return { ok: false, reason: status === 'NAME_TAKEN' ? 'NAME_TAKEN' : 'NOT_ENROLLED' };
    const record = await this.getUser(req.userId, req.now);
    return record ? { ok: true, record } : { ok: false, reason: 'NOT_ENROLLED' };
  }

  async unlock(req: Parameters<Store['unlock']>[0]) {
    const n = await redis(this.scripts.unlock(userKeys(req.userId), { audit: this.audited(req.userId, req.actor), now: req.now }));
    return n === 1 ? this.getUser(req.userId, req.now) : null;
  }

  async reserve(req: Parameters<Store['reserve']>[0]): Promise<Reservation> {
    const k = userKeys(req.userId);
    const { limits } = req;
    const [user, client] = await Promise.allSettled([
      this.scripts.reserve(k, { now: req.now, codeLength: req.codeLength, maxFailures: limits.maxFailures, lockoutMillis: limits.lockoutMillis }),
      req.clientIp === undefined ? undefined : this.scripts.clientHit(clientKey(req.clientIp), limits.clientLimit, limits.clientWindowMillis),
    ]);
    if (user.status === 'rejected' || client.status === 'rejected') {
      await this.giveBack(k, user, client, req.clientIp);
      throw storeError(user.status === 'rejected' ? user.reason : (client as PromiseRejectedResult).reason);
    }
    const r = parseReservation(user.value);
    const budget = client.value;
    if (budget && budget[0] === 0) {
      return { kind: 'refused', outcome: 'RATE_LIMITED', retryAfterMillis: budget[1], ...(r.kind === 'reserved' ? { hold: r.hold } : {}) };
    }
    return r;
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
      if (r.kind === 'reserved') undo.push(this.scripts.giveBack(k, r.hold.armedUntil));
    }
    if (client.status === 'fulfilled' && client.value && clientIp !== undefined) undo.push(this.scripts.unclient(clientKey(clientIp)));
    await Promise.allSettled(undo);
  }

  async settle(req: Parameters<Store['settle']>[0]): Promise<SettleResult> {
    const reply = await redis(
      this.scripts.settle(userKeys(req.userId), {
        audit: this.audited(req.userId, req.actor),
        now: req.now,
        what: settleWhat(req.settlement),
        armedUntil: req.hold?.armedUntil ?? 0,
        eventType: req.recovery ? 'RECOVERY_CODE_USED' : 'VERIFY',
      }),
    );
    return parseSettlement(reply, req.recovery ?? false);
  }

  async attempt(req: Parameters<NonNullable<Store['attempt']>>[0]): Promise<AttemptOutcome> {
    // on a Cluster the client counter is in another slot: one script cannot count both
    if (req.clientIp !== undefined && this.client instanceof Cluster) return { kind: 'unsupported' };
    const { limits } = req;
    const reply = await redis(
      this.scripts.attempt(userKeys(req.userId), req.clientIp === undefined ? undefined : clientKey(req.clientIp), {
        audit: this.audited(req.userId, req.actor),
        now: req.now,
        codeLength: req.codeLength,
        maxFailures: limits.maxFailures,
        lockoutMillis: limits.lockoutMillis,
        clientLimit: limits.clientLimit,
        clientWindowMillis: limits.clientWindowMillis,
        window: req.window,
        driftBound: req.driftBound,
        checked: req.checked,
      }),
    );
    return parseAttempt(reply);
  }

  async setRecoveryCodes(req: Parameters<Store['setRecoveryCodes']>[0]) {
    const args = { audit: this.audited(req.userId, req.actor), now: req.now, sealedKey: req.sealedKey, hashes: req.hashes };
    const replaced = await redis(this.scripts.recovery(userKeys(req.userId), args));
    return replaced < 0 ? ({ ok: false } as const) : ({ ok: true, replaced } as const);
  }

  auditEvents(query: Parameters<Store['auditEvents']>[0]) {
    return queryAudit(this.auditSource, query);
  }

  async recordEvent(req: Parameters<Store['recordEvent']>[0]) {
    const { actor } = req;
    await redis(
      this.scripts.event(eventBucket(null), {
        now: req.now,
        type: req.type,
        actor: actor.name,
        clientIp: actor.clientIp ?? '',
        auditMax: this.auditMax,
        detail: req.detail ?? '',
      }),
    );
  }

  async keyUsage(): Promise<KeyUsage> {
    const hashes = await redis(Promise.all(Array.from({ length: BUCKETS }, (_, b) => this.client.hgetall(bucketKeys(b).keyCounts))));
    return sumKeyCounts(hashes);
  }

  async recountKeys(): Promise<void> {
    const prefix = this.client instanceof Cluster ? (this.client.options.keyPrefix ?? '') : (this.client.options.keyPrefix ?? '');
    for (let b = 0; b < BUCKETS; b++) await redis(this.scripts.recount(b, `${prefix}${bucketTag(b)}:u:`));
  }

  enrollments(q: Parameters<Store['enrollments']>[0]) {
    return listEnrollments(this, q);
  }

  userIds(batch: number) {
    return userIdBatches(this, batch);
  }

  async indexRange(req: Parameters<IndexSource['indexRange']>[0]): Promise<IndexSlice> {
    const which = req.status === null ? 'all' : req.status === 'ACTIVE' ? 'active' : 'pending';
    const [active, pending] = await redis(this.scripts.index(req.bucket, req.after === null ? '-' : `(${req.after}`, req.count, which));
    return { active, pending };
  }

  async sealedValues(userIds: readonly string[]) {
    const records = await redis(Promise.all(userIds.map((userId) => this.client.hgetallBuffer(userKeys(userId).user))));
    return records.map((r) => sealedOf(r));
  }

  async reseal(req: Parameters<Store['reseal']>[0]) {
    if (req.swaps.length === 0) return { rewritten: 0, conflicts: 0 };
    const [rewritten, conflicts] = await redis(this.scripts.reseal(userKeys(req.userId), req.now, req.swaps));
    return { rewritten, conflicts };
  }

  private readonly auditSource: AuditSource = {
    oldest: async (bucket) => (await redis(this.client.xrange(bucketKeys(bucket).audit, '-', '+', 'COUNT', 1)))[0]?.[0] ?? null,
    revRange: (requests) =>
      redis(
        Promise.all(
          requests.map(async ({ ref, end, start, count }) => {
            const raw =
              ref.kind === 'user'
                ? await this.scripts.events(userKeys(ref.userId), end, start, count)
                : await this.client.xrevrange(auditStreamKey(ref.stream), end, start, 'COUNT', count);
            return raw.map(toRawEntry);
          }),
        ),
      ),
  };
}

