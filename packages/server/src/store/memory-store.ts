import type { VerifyOutcome } from '@totp-service/core';
import { listEnrollments, userIdBatches, type IndexSource } from './enrollment-walk.js';
import { queryAudit } from './audit-query.js';
import { clearCounters, decodeRecord, packMeta, setOrDelete, storedAccountName, unpackMeta } from './codec.js';
import { BUCKETS } from './keys.js';
import { MemoryAuditLog } from './memory-audit.js';
import { EnrollmentIndex } from './memory-index.js';
import type { CandidateFactor, IndexSlice, Reservation, SealedValues, SettleResult, Store, StoreOptions } from './store.js';

type Fields = Record<string, Buffer | string>;

const PENDING_FIELDS = ['ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe'];
const n = (v: Buffer | string | undefined, dflt = 0): number => (v === undefined ? dflt : Number(v.toString()));

/**
 * The embedded store: the same state and the same rules as the Redis scripts, in this process.
 * Each operation runs to completion without awaiting, so it is atomic per user like a Lua script.
 * For one process only; its data ends with the process.
 */
export class MemoryStore implements Store {
  readonly kind = 'embedded';
  private readonly users = new Map<string, { fields: Fields; expiresAt: number }>();
  private readonly recovery = new Map<string, Set<string>>();
  private readonly audit: MemoryAuditLog;
  private readonly index = new EnrollmentIndex();
  private readonly clients = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: StoreOptions) {
    this.audit = new MemoryAuditLog(Math.max(1, Math.ceil(options.auditMaxEvents / BUCKETS)), Math.max(1, options.auditUserMaxEvents));
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

  /** Drop what a Redis TTL would have dropped. */
  private sweep(now: number): void {
    for (const [id, u] of this.users) {
      if (u.expiresAt > 0 && u.expiresAt <= now) this.expire(id);
      // a replacement that lapsed unconfirmed: its sealed secret is not kept
      else if (u.fields.s !== undefined && u.fields.pe !== undefined && n(u.fields.pe) <= now) for (const k of PENDING_FIELDS) delete u.fields[k];
    }
    for (const [ip, c] of this.clients) if (c.resetAt <= now) this.clients.delete(ip);
    this.index.dropLapsed(now);
  }

  /** What a TTL ends: a pending-only record, and the recovery codes made during it. */
  private expire(userId: string): void {
    this.users.delete(userId);
    this.recovery.delete(userId);
  }

  private hash(userId: string, now: number): Fields | undefined {
    const u = this.users.get(userId);
    if (u && u.expiresAt > 0 && u.expiresAt <= now) {
      this.expire(userId);
      return undefined;
    }
    return u?.fields;
  }

  async getUser(userId: string, now: number) {
    const h = this.hash(userId, now);
    return h ? decodeRecord(userId, h, this.recovery.get(userId)?.size ?? 0, now) : null;
  }

  async enroll(req: Parameters<Store['enroll']>[0]) {
    const { userId, now, factor: f } = req;
    let h = this.hash(userId, now);
    const active = h?.s !== undefined;
    if (active && !req.replace) return { ok: false, reason: 'ALREADY_ENROLLED' } as const;
    this.index.dropLapsed(now);
    if (!h) {
      h = {};
      this.users.set(userId, { fields: h, expiresAt: 0 });
    }
    const account = storedAccountName(f.accountName, userId);
    if (req.mode === 'active') {
      Object.assign(h, { s: f.sealed, m: packMeta(f), i: f.issuer, g: f.generation, c: String(now), v: String(now) });
      setOrDelete(h, 'n', account);
      for (const k of PENDING_FIELDS) delete h[k];
      this.users.get(userId)!.expiresAt = 0;
      this.index.active(userId);
    } else {
      Object.assign(h, { ps: f.sealed, pm: packMeta(f), pi: f.issuer, pg: f.generation, pc: String(now), pe: String(req.expiresAt) });
      setOrDelete(h, 'pn', account);
      if (!active) {
        this.users.get(userId)!.expiresAt = req.expiresAt;
        this.index.pending(userId, req.expiresAt);
      }
    }
    const type = req.mode === 'active' ? 'IMPORTED' : 'ENROLLED';
    this.audit.append(userId, true, now, type, req.actor, '', req.detail ?? (req.replace ? 'replace' : ''));
    return { ok: true } as const;
  }

  async revoke(req: Parameters<Store['revoke']>[0]) {
    const h = this.hash(req.userId, req.now);
    const enrolled = h !== undefined && (h.s !== undefined || n(h.pe) > req.now);
    this.users.delete(req.userId);
    this.recovery.delete(req.userId);
    this.index.remove(req.userId);
    if (!enrolled) return false;
    this.audit.append(req.userId, true, req.now, 'REVOKED', req.actor, '', req.reason ?? '');
    return true;
  }

  async unlock(req: Parameters<Store['unlock']>[0]) {
    const h = this.hash(req.userId, req.now);
    if (!h || !(h.s !== undefined || n(h.pe) > req.now)) return null;
    const was = n(h.lu) > req.now ? 'was locked' : '';
    clearCounters(h);
    this.audit.append(req.userId, true, req.now, 'UNLOCKED', req.actor, '', was);
    return this.getUser(req.userId, req.now);
  }

  async reserve(req: Parameters<Store['reserve']>[0]): Promise<Reservation> {
    const user = this.reserveUser(req);
    if (req.clientIp === undefined) return user;
    const now = req.now;
    let c = this.clients.get(req.clientIp);
    if (!c || c.resetAt <= now) this.clients.set(req.clientIp, (c = { count: 0, resetAt: now + req.limits.clientWindowMillis }));
    c.count += 1;
    if (c.count > req.limits.clientLimit) {
      return { kind: 'refused', outcome: 'RATE_LIMITED', retryAfterMillis: c.resetAt - now, ...(user.kind === 'reserved' ? { hold: user.hold } : {}) };
    }
    return user;
  }

  /** reserve.lua, in process. */
  private reserveUser(req: Parameters<Store['reserve']>[0]): Reservation {
    const { now, codeLength, limits } = req;
    const h = this.hash(req.userId, now);
    if (!h) return { kind: 'refused', outcome: 'NOT_ENROLLED' };
    const pendingLive = h.ps !== undefined && n(h.pe) > now;
    // reserve.lua: a replacement that lapsed unconfirmed is gone
    if (h.s !== undefined && h.ps !== undefined && !pendingLive) for (const k of PENDING_FIELDS) delete h[k];
    if (h.s === undefined && !pendingLive) return { kind: 'refused', outcome: 'NOT_ENROLLED' };
    const digitsOf = (m: Buffer | string | undefined) => (m === undefined ? -1 : unpackMeta(m.toString()).digits);
    if (codeLength > 0 && digitsOf(h.m) !== codeLength && !(pendingLive && digitsOf(h.pm) === codeLength)) {
      return { kind: 'refused', outcome: 'MALFORMED' };
    }
    if (codeLength === 0 && (h.s === undefined || h.rk === undefined || !this.recovery.get(req.userId)?.size)) {
      return { kind: 'refused', outcome: 'NOT_ENROLLED' };
    }

    let f = n(h.f), lu = n(h.lu), lc = n(h.lc);
    if (lu > now) return { kind: 'refused', outcome: 'LOCKED', retryAfterMillis: lu - now };
    if (lu > 0) [f, lu] = [0, 0];
    const arm = () => {
      lc += 1;
      lu = now + limits.lockoutMillis[Math.min(lc, limits.lockoutMillis.length) - 1]!;
      return lu;
    };
    if (f >= limits.maxFailures) {
      arm();
      Object.assign(h, { f: String(f), lu: String(lu), lc: String(lc) });
      return { kind: 'refused', outcome: 'LOCKED', retryAfterMillis: lu - now };
    }
    f += 1;
    const armedUntil = f >= limits.maxFailures ? arm() : 0;
    Object.assign(h, { f: String(f), lu: String(lu), lc: String(lc) });

    const candidates: CandidateFactor[] = [];
    if (h.s !== undefined) candidates.push({ slot: 'active', sealed: h.s as Buffer, generation: h.g!.toString(), ...unpackMeta(h.m!.toString()) });
    if (pendingLive) candidates.push({ slot: 'pending', sealed: h.ps as Buffer, generation: h.pg!.toString(), ...unpackMeta(h.pm!.toString()) });
    return {
      kind: 'reserved',
      hold: { failures: f, armedUntil },
      candidates,
      lastStepAt: h.ls === undefined ? null : n(h.ls),
      drift: n(h.dr),
      ...(h.rk !== undefined ? { recoveryKey: h.rk as Buffer } : {}),
    };
  }

  /** settle.lua, in process. */
  async settle(req: Parameters<Store['settle']>[0]): Promise<SettleResult> {
    const { userId, now, settlement: s } = req;
    const armed = req.hold?.armedUntil ?? 0;
    const h = this.hash(userId, now);
    const g = h?.g?.toString();
    const pg = h && h.pg !== undefined && n(h.pe) > now ? h.pg.toString() : undefined;
    const enrolled = g !== undefined || pg !== undefined;
    let f = n(h?.f), lu = n(h?.lu), lc = n(h?.lc);
    let outcome: VerifyOutcome | null = 'INVALID_CODE';
    let activated = false;
    let detail = '';
    const accept = () => {
      [f, lu, lc] = [0, 0, 0];
      clearCounters(h!);
      h!.lv = String(now);
    };

    if (s.kind === 'none') {
      outcome = s.outcome;
      detail = s.detail ?? '';
    } else if (s.kind === 'release') {
      outcome = s.outcome;
      detail = s.detail ?? '';
      if (enrolled) {
        if (f > 0) f -= 1;
        if (armed > 0 && lu === armed) [lu, lc] = [0, Math.max(0, lc - 1)];
        Object.assign(h!, { f: String(f), lu: String(lu), lc: String(lc) });
      }
    } else if (s.kind === 'match') {
      // settle.lua: a pending secret activated meanwhile is judged as the active one
      const slot = s.slot === 'pending' && pg !== s.generation && g === s.generation ? 'active' : s.slot;
      const current = slot === 'active' ? g : pg;
      if (current === undefined || current !== s.generation) {
        detail = 'factor replaced during verify';
      } else if (slot === 'active' && h!.ls !== undefined && s.stepAt <= n(h!.ls)) {
        // the last step is the active secret's; a pending secret's history is empty (settle.lua)
        outcome = 'REPLAYED';
      } else {
        outcome = 'ACCEPTED';
        accept();
        Object.assign(h!, { ls: String(s.stepAt), dr: String(s.drift) });
        if (s.drift !== 0) detail = `drift ${s.drift}`;
        if (slot === 'pending') {
          Object.assign(h!, { s: h!.ps!, m: h!.pm!, i: h!.pi!, g: pg!, c: h!.pc!, v: String(now) });
          setOrDelete(h!, 'n', h!.pn);
          for (const k of PENDING_FIELDS) delete h![k];
          this.users.get(userId)!.expiresAt = 0;
          this.index.active(userId);
          activated = true;
        }
      }
    } else if (s.kind === 'recovery') {
      if (g !== undefined && this.recovery.get(userId)?.delete(s.hash)) {
        outcome = 'ACCEPTED';
        accept();
        const left = this.recovery.get(userId)!.size;
        detail = `${left} codes left`;
        if (left === 0) delete h!.rk;
      }
    }

    const failed = outcome === 'INVALID_CODE' || outcome === 'REPLAYED';
    const lockedNow = failed && armed > 0 && lu === armed;
    this.audit.append(userId, enrolled, now, req.recovery ? 'RECOVERY_CODE_USED' : 'VERIFY', req.actor, outcome ?? '', detail);
    if (activated) this.audit.append(userId, enrolled, now, 'ACTIVATED', req.actor);
    if (lockedNow) {
      this.audit.append(userId, enrolled, now, 'LOCKED', req.actor, '', `locked for ${Math.ceil((lu - now) / 1000)}s after ${f} failures`);
    }
    return {
      outcome,
      activated,
      failures: f,
      lockedUntil: lu,
      ...(req.recovery ? { recoveryCodesRemaining: this.recovery.get(userId)?.size ?? 0 } : {}),
    };
  }

  /** recovery.lua, in process. */
  async setRecoveryCodes(req: Parameters<Store['setRecoveryCodes']>[0]) {
    const h = this.hash(req.userId, req.now);
    if (!h || (h.s === undefined && !(n(h.pe) > req.now))) return { ok: false } as const;
    const replaced = this.recovery.get(req.userId)?.size ?? 0;
    this.recovery.set(req.userId, new Set(req.hashes));
    h.rk = req.sealedKey;
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

  enrollments(q: Parameters<Store['enrollments']>[0]) {
    return listEnrollments(this, q);
  }

  userIds(batch: number) {
    return userIdBatches(this, batch);
  }

  /** index.lua, in process. */
  async indexRange(req: Parameters<IndexSource['indexRange']>[0]): Promise<IndexSlice> {
    return this.index.range(req);
  }

  async sealedValues(userIds: readonly string[]) {
    return userIds.map((userId): SealedValues | null => {
      const h = this.users.get(userId)?.fields;
      const values: Partial<Record<'s' | 'ps' | 'rk', Buffer>> = {};
      for (const f of ['s', 'ps', 'rk'] as const) if (h?.[f] !== undefined) values[f] = Buffer.from(h[f] as Buffer);
      return Object.keys(values).length > 0 ? values : null;
    });
  }

  /** reseal.lua, in process. */
  async reseal(req: Parameters<Store['reseal']>[0]) {
    const h = this.users.get(req.userId)?.fields;
    let rewritten = 0;
    let conflicts = 0;
    // reseal.lua: a replacement that lapsed unconfirmed is removed, not re-sealed
    const lapsed = h !== undefined && h.s !== undefined && h.pe !== undefined && n(h.pe) <= req.now;
    if (lapsed) for (const k of PENDING_FIELDS) delete h[k];
    for (const w of req.swaps) {
      if (lapsed && w.field === 'ps') continue;
      const current = h?.[w.field];
      if (h && Buffer.isBuffer(current) && current.equals(w.from)) {
        h[w.field] = Buffer.from(w.to);
        rewritten += 1;
      } else {
        conflicts += 1;
      }
    }
    return { rewritten, conflicts };
  }
}
