import { queryAudit } from './audit-query.js';
import { PENDING_FIELDS, confirmedFieldOf, contributionOf, decodeRecord, num, sealedOf, storedAccountName, storedDeviceName, storedIssuer, storedMeta } from './codec.js';
import { listEnrollments, userIdBatches, type IndexSource } from './enrollment-walk.js';
import { BUCKETS } from './keys.js';
import { reserveAttempt, settleAttempt, type AttemptState } from './memory-attempt.js';
import { MemoryAuditLog } from './memory-audit.js';
import { MemoryOutbox } from './memory-outbox.js';
import { EnrollmentIndex } from './memory-index.js';
import { UserHash, deviceName, isActive, type Device, type Fields } from './memory-user.js';
import type { EnrollResult, IndexSlice, KeyUsage, RenameResult, Reservation, SettleResult, Store, StoreOptions } from './store.js';

/**
 * The embedded store: the same state and the same rules as the Redis scripts, in this process.
 * Each operation runs to completion without awaiting, so it is atomic per user like a Lua script.
 * For one process only; its data ends with the process.
 */
export class MemoryStore implements Store, IndexSource, AttemptState {
  readonly kind = 'embedded';
  readonly users = new Map<string, { fields: Fields; expiresAt: number }>();
  readonly recovery = new Map<string, Set<string>>();
  readonly audit: MemoryAuditLog;
  readonly clients = new Map<string, { count: number; resetAt: number }>();
  readonly outbox: MemoryOutbox;
  private readonly index = new EnrollmentIndex();
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: StoreOptions) {
    this.audit = new MemoryAuditLog(Math.max(1, Math.ceil(options.auditMaxEvents / BUCKETS)), Math.max(1, options.auditUserMaxEvents));
    this.outbox = new MemoryOutbox(this.audit);
    this.sweeper = setInterval(() => this.sweep(Date.now()), 10_000).unref();
  }

  async ping(): Promise<void> {}

  /** One process, one clock. */
  now(): number {
    return Date.now();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** Drop what a Redis TTL would have dropped, and lapsed pending secrets (their sealed values). */
  private sweep(now: number): void {
    for (const [id, u] of this.users) {
      if (u.expiresAt > 0 && u.expiresAt <= now) this.expire(id);
      else new UserHash(u.fields).devices(now);
    }
    for (const [ip, c] of this.clients) if (c.resetAt <= now) this.clients.delete(ip);
    this.index.dropLapsed(now);
  }

  /** What a TTL ends: a record with no confirmed device, and the recovery codes made during it. */
  private expire(userId: string): void {
    this.users.delete(userId);
    this.recovery.delete(userId);
  }

  /** The user's hash, or undefined when it expired. */
  hash(userId: string, now: number): UserHash | undefined {
    const u = this.users.get(userId);
    if (u && u.expiresAt > 0 && u.expiresAt <= now) {
      this.expire(userId);
      return undefined;
    }
    return u && new UserHash(u.fields);
  }

  /** reindex of _user.lua: the user's place in the indexes and the record's TTL, from its devices. */
  reindex(userId: string, devices: readonly Device[]): void {
    const active = devices.some(isActive);
    const lastExpiry = Math.max(0, ...devices.filter((d) => d.f.ps !== undefined).map((d) => num(d.f.pe) ?? 0));
    const record = this.users.get(userId);
    if (record && active) {
      this.index.active(userId);
      record.expiresAt = 0;
    } else if (record && lastExpiry > 0) {
      this.index.pending(userId, lastExpiry);
      record.expiresAt = lastExpiry;
    } else {
      this.expire(userId);
      this.index.remove(userId);
    }
  }

  async getUser(userId: string, now: number) {
    const h = this.hash(userId, now);
    return h ? decodeRecord(userId, h.fields, this.recovery.get(userId)?.size ?? 0, now) : null;
  }

  /** enroll.lua, in process. */
  async enroll(req: Parameters<Store['enroll']>[0]): Promise<EnrollResult> {
    const { userId, now, factor: f } = req;
    let h = this.hash(userId, now);
    let devices = h?.devices(now) ?? [];
    if (!h || devices.length === 0) {
      // nothing left: start afresh, without its counters or recovery codes
      this.expire(userId);
      this.users.set(userId, { fields: {}, expiresAt: 0 });
      h = new UserHash(this.users.get(userId)!.fields);
      devices = [];
    }
    this.index.dropLapsed(now);
    let d = devices.find((x) => deviceName(x) === req.deviceName);
    if (d && isActive(d) && (req.mode === 'active' || !req.replace)) return { ok: false, reason: 'ALREADY_ENROLLED' };
    if (!d) {
      if (devices.length >= req.maxDevices) return { ok: false, reason: 'TOO_MANY_DEVICES' };
      const id = devices.length === 0 ? '0' : String(h.num('nd') || 1);
      if (id !== '0') h.user('nd', Number(id) + 1);
      h.put(id, 'nm', storedDeviceName(req.deviceName));
      d = { id, f: {} };
    }
    const account = storedAccountName(f.accountName, userId);
    const id = d.id;
    if (req.mode === 'active') {
      for (const [k, v] of Object.entries({ s: f.sealed, m: storedMeta(f), i: storedIssuer(f.issuer), g: f.generation, c: String(now), v: String(now), n: account })) h.put(id, k, v);
      h.drop(id, [...PENDING_FIELDS, 'dr']);
      h.put(id, 'ls', req.lastStepAt ?? undefined);
    } else {
      const pending = { ps: f.sealed, pm: storedMeta(f), pi: storedIssuer(f.issuer), pg: f.generation, pc: String(now), pe: String(req.expiresAt), pn: account };
      for (const [k, v] of Object.entries(pending)) h.put(id, k, v);
    }
    this.reindex(userId, h.devices(now));
    const type = req.mode === 'active' ? 'IMPORTED' : 'ENROLLED';
    this.audit.append(userId, true, now, type, req.actor, '', req.detail ?? (req.replace ? 'replace' : ''), id);
    return { ok: true, deviceId: id, deviceName: req.deviceName, devices: h.devices(now).length };
  }

  /** revoke.lua, in process. */
  async revoke(req: Parameters<Store['revoke']>[0]) {
    const h = this.hash(req.userId, req.now);
    const devices = h?.devices(req.now) ?? [];
    if (req.deviceId) {
      const d = devices.find((x) => x.id === req.deviceId);
      if (!h || !d) return false;
      h.drop(d.id, Object.keys(d.f));
      this.reindex(req.userId, h.devices(req.now));
    } else {
      this.expire(req.userId);
      this.index.remove(req.userId);
      if (devices.length === 0) return false;
    }
    this.audit.append(req.userId, true, req.now, 'REVOKED', req.actor, '', req.reason ?? '', req.deviceId ?? '');
    return true;
  }

  /** rename.lua, in process. */
  async renameDevice(req: Parameters<Store['renameDevice']>[0]): Promise<RenameResult> {
    const h = this.hash(req.userId, req.now);
    const devices = h?.devices(req.now) ?? [];
    const d = devices.find((x) => x.id === req.deviceId);
    if (!h || !d) return { ok: false, reason: 'NOT_ENROLLED' };
    if (devices.some((x) => x.id !== d.id && deviceName(x) === req.name)) return { ok: false, reason: 'NAME_TAKEN' };
    const old = deviceName(d);
    h.put(d.id, 'nm', storedDeviceName(req.name));
    if (old !== req.name) this.audit.append(req.userId, true, req.now, 'DEVICE_RENAMED', req.actor, '', `from "${old}" to "${req.name}"`, d.id);
    return { ok: true, record: (await this.getUser(req.userId, req.now))! };
  }

  /** unlock.lua, in process. */
  async unlock(req: Parameters<Store['unlock']>[0]) {
    const h = this.hash(req.userId, req.now);
    if (!h || h.devices(req.now).length === 0) return null;
    const was = h.num('lu') > req.now ? 'was locked' : '';
    for (const k of ['f', 'lu', 'lc']) h.user(k, undefined);
    this.audit.append(req.userId, true, req.now, 'UNLOCKED', req.actor, '', was);
    return this.getUser(req.userId, req.now);
  }

  async reserve(req: Parameters<Store['reserve']>[0]): Promise<Reservation> {
    return reserveAttempt(this, req);
  }

  async settle(req: Parameters<Store['settle']>[0]): Promise<SettleResult> {
    return settleAttempt(this, req);
  }

  /** recovery.lua, in process. */
  async setRecoveryCodes(req: Parameters<Store['setRecoveryCodes']>[0]) {
    const h = this.hash(req.userId, req.now);
    if (!h || h.devices(req.now).length === 0) return { ok: false } as const;
    const replaced = this.recovery.get(req.userId)?.size ?? 0;
    this.recovery.set(req.userId, new Set(req.hashes));
    h.user('rk', req.sealedKey);
    const detail = `${req.hashes.length} codes${replaced > 0 ? `, replacing ${replaced} unused` : ''}`;
    this.audit.append(req.userId, true, req.now, 'RECOVERY_CODES_GENERATED', req.actor, '', detail);
    return { ok: true, replaced } as const;
  }

  auditEvents(query: Parameters<Store['auditEvents']>[0]) {
    return queryAudit(this.audit.source, query);
  }

  async recordEvent(req: Parameters<Store['recordEvent']>[0]) {
    this.audit.append(null, false, req.now, req.type, req.actor, '', req.detail ?? '');
  }

  /**
   * Counted from the users in memory (the embedded store starts empty and holds one process's
   * users: no reason to keep counts), with the Redis scripts' rule: confirmed users only.
   */
  async keyUsage(): Promise<KeyUsage> {
    const counts: Record<string, number> = {};
    const now = this.now();
    for (const u of this.users.values()) {
      if (u.expiresAt > 0 && u.expiresAt <= now) continue;
      // as on Redis, a lapsed pending secret counts until something removes it (a verify, a rekey)
      for (const [kid, n] of contributionOf(u.fields)) counts[kid] = (counts[kid] ?? 0) + n;
    }
    return { counts, counted: true };
  }

  async recountKeys(): Promise<void> {}

  enrollments(q: Parameters<Store['enrollments']>[0]) {
    return listEnrollments(this, q);
  }

  userIds(batch: number) {
    return userIdBatches(this, batch);
  }

  async indexRange(req: Parameters<IndexSource['indexRange']>[0]): Promise<IndexSlice> {
    return this.index.range(req);
  }

  async sealedValues(userIds: readonly string[]) {
    return userIds.map((userId) => {
      const values = sealedOf(this.users.get(userId)?.fields ?? {});
      return values && Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v)]));
    });
  }

  /** reseal.lua, in process. */
  async reseal(req: Parameters<Store['reseal']>[0]) {
    // nothing to swap: as RedisStore.reseal, which sends no script then, so a lapsed pending secret
    // stays (and is counted in keyUsage) until the user's next operation, as on Redis
    if (req.swaps.length === 0) return { rewritten: 0, conflicts: 0 };
    // through the expiry check: a lapsed record is gone, not re-sealed (found by the model test)
    const u = this.hash(req.userId, req.now) ? this.users.get(req.userId) : undefined;
    if (u) new UserHash(u.fields).devices(req.now);
    let rewritten = 0;
    let conflicts = 0;
    for (const w of req.swaps) {
      const current = u?.fields[w.field];
      if (u && Buffer.isBuffer(current) && current.equals(w.from)) {
        u.fields[w.field] = Buffer.from(w.to);
        rewritten += 1;
      } else if (current !== undefined || movedTo(u?.fields, w.field, w.from)) {
        conflicts += 1;
      }
    }
    return { rewritten, conflicts };
  }
}

/** As reseal.lua: a pending secret confirmed since it was read has moved from its device's ps to its s. */
function movedTo(fields: Record<string, unknown> | undefined, field: string, value: Buffer): boolean {
  const confirmed = confirmedFieldOf(field);
  const now = confirmed && fields?.[confirmed];
  return Buffer.isBuffer(now) && now.equals(value);
}
