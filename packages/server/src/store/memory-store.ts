import type { VerifyOutcome } from '@totp-service/core';
import { queryAudit, type AuditSource, type RawEntry, type StreamRef } from '../audit/query.js';
import { decodeRecord, packMeta, unpackMeta } from './codec.js';
import { BUCKETS, bucketOf } from './keys.js';
import type { RedisStoreOptions } from './redis-store.js';
import type {
  Actor,
  AuditEventType,
  CandidateFactor,
  Reservation,
  SettleResult,
  Store,
} from './store.js';

type Fields = Record<string, Buffer | string>;
interface Stream {
  lastMs: number;
  lastSeq: number;
  entries: RawEntry[];
}

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
  private readonly userStreams = new Map<string, Stream>();
  private readonly bucketStreams: Stream[] = Array.from({ length: BUCKETS }, () => ({ lastMs: 0, lastSeq: 0, entries: [] }));
  private readonly activeIndex = new Set<string>();
  private readonly pendingIndex = new Map<string, number>();
  private readonly clients = new Map<string, { count: number; resetAt: number }>();
  private readonly auditMax: number;
  private readonly userMax: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: RedisStoreOptions) {
    this.auditMax = Math.max(1, Math.ceil(options.auditMaxEvents / BUCKETS));
    this.userMax = Math.max(1, options.auditUserMaxEvents);
    this.sweeper = setInterval(() => this.sweep(Date.now()), 10_000).unref();
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** Drop what a Redis TTL would have dropped. */
  private sweep(now: number): void {
    for (const [id, u] of this.users) if (u.expiresAt > 0 && u.expiresAt <= now) this.users.delete(id);
    for (const [ip, c] of this.clients) if (c.resetAt <= now) this.clients.delete(ip);
    for (const [id, at] of this.pendingIndex) if (at <= now) this.pendingIndex.delete(id);
  }

  private hash(userId: string, now: number): Fields | undefined {
    const u = this.users.get(userId);
    if (u && u.expiresAt > 0 && u.expiresAt <= now) {
      this.users.delete(userId);
      return undefined;
    }
    return u?.fields;
  }

  private append(userId: string | null, toUser: boolean, now: number, type: AuditEventType, actor: Actor, outcome = '', detail = ''): void {
    const fields: Record<string, string> = { t: type };
    if (userId !== null) fields.u = userId;
    fields.a = actor.name;
    if (actor.clientIp) fields.ip = actor.clientIp;
    if (outcome) fields.o = outcome;
    if (detail) fields.d = detail;
    const bucket = this.bucketStreams[bucketOf(userId ?? '')]!;
    const ms = Math.max(now, bucket.lastMs);
    const seq = ms === bucket.lastMs ? bucket.lastSeq + 1 : 0;
    bucket.lastMs = ms;
    bucket.lastSeq = seq;
    const entry = { id: `${ms}-${seq}`, fields };
    push(bucket, entry, this.auditMax);
    if (toUser && userId !== null) {
      let s = this.userStreams.get(userId);
      if (!s) this.userStreams.set(userId, (s = { lastMs: 0, lastSeq: 0, entries: [] }));
      push(s, entry, this.userMax);
    }
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
    for (const [id, at] of this.pendingIndex) if (at <= now) this.pendingIndex.delete(id);
    if (!h) {
      h = {};
      this.users.set(userId, { fields: h, expiresAt: 0 });
    }
    Object.assign(h, {
      ps: f.sealed, pm: packMeta(f), pi: f.issuer, pn: f.accountName, pg: f.generation, pc: String(now), pe: String(req.expiresAt),
    });
    if (!active) {
      this.users.get(userId)!.expiresAt = req.expiresAt;
      this.pendingIndex.set(userId, req.expiresAt);
    }
    this.append(userId, true, now, 'ENROLLED', req.actor, '', req.replace ? 'replace' : '');
    return { ok: true } as const;
  }

  async revoke(req: Parameters<Store['revoke']>[0]) {
    const h = this.hash(req.userId, req.now);
    const enrolled = h !== undefined && (h.s !== undefined || n(h.pe) > req.now);
    this.users.delete(req.userId);
    this.recovery.delete(req.userId);
    this.activeIndex.delete(req.userId);
    this.pendingIndex.delete(req.userId);
    if (!enrolled) return false;
    this.append(req.userId, true, req.now, 'REVOKED', req.actor, '', req.reason ?? '');
    return true;
  }

  async unlock(req: Parameters<Store['unlock']>[0]) {
    const h = this.hash(req.userId, req.now);
    if (!h || !(h.s !== undefined || n(h.pe) > req.now)) return null;
    const was = n(h.lu) > req.now ? 'was locked' : '';
    Object.assign(h, { f: '0', lu: '0', lc: '0' });
    this.append(req.userId, true, req.now, 'UNLOCKED', req.actor, '', was);
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
    if (h.s === undefined && !pendingLive) return { kind: 'refused', outcome: 'NOT_ENROLLED' };
    const digitsOf = (m: Buffer | string | undefined) => (m === undefined ? -1 : unpackMeta(m.toString()).digits);
    if (codeLength > 0 && digitsOf(h.m) !== codeLength && !(pendingLive && digitsOf(h.pm) === codeLength)) {
      return { kind: 'refused', outcome: 'MALFORMED' };
    }
    if (codeLength === 0 && (h.s === undefined || h.rk === undefined)) return { kind: 'refused', outcome: 'NOT_ENROLLED' };

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
      Object.assign(h!, { f: '0', lu: '0', lc: '0', lv: String(now) });
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
      const current = s.slot === 'active' ? g : pg;
      if (current === undefined || current !== s.generation) {
        detail = 'factor replaced during verify';
      } else if (h!.ls !== undefined && s.stepAt <= n(h!.ls)) {
        outcome = 'REPLAYED';
      } else {
        outcome = 'ACCEPTED';
        accept();
        Object.assign(h!, { ls: String(s.stepAt), dr: String(s.drift) });
        if (s.drift !== 0) detail = `drift ${s.drift}`;
        if (s.slot === 'pending') {
          Object.assign(h!, { s: h!.ps!, m: h!.pm!, i: h!.pi!, n: h!.pn!, g: pg!, c: h!.pc!, v: String(now) });
          for (const k of PENDING_FIELDS) delete h![k];
          this.users.get(userId)!.expiresAt = 0;
          this.pendingIndex.delete(userId);
          this.activeIndex.add(userId);
          activated = true;
        }
      }
    } else if (s.kind === 'recovery') {
      if (g !== undefined && this.recovery.get(userId)?.delete(s.hash)) {
        outcome = 'ACCEPTED';
        accept();
      }
    }

    const failed = outcome === 'INVALID_CODE' || outcome === 'REPLAYED';
    const lockedNow = failed && armed > 0 && lu === armed;
    const toUser = enrolled || this.userStreams.has(userId);
    this.append(userId, toUser, now, req.recovery ? 'RECOVERY_CODE_USED' : 'VERIFY', req.actor, outcome ?? '', detail);
    if (activated) this.append(userId, toUser, now, 'ACTIVATED', req.actor);
    if (lockedNow) {
      this.append(userId, toUser, now, 'LOCKED', req.actor, '', `locked for ${Math.ceil((lu - now) / 1000)}s after ${f} failures`);
    }
    return {
      outcome,
      activated,
      failures: f,
      lockedUntil: lu,
      ...(req.recovery ? { recoveryCodesRemaining: this.recovery.get(userId)?.size ?? 0 } : {}),
    };
  }

  auditEvents(query: Parameters<Store['auditEvents']>[0]) {
    return queryAudit(this.auditSource, query);
  }

  private readonly auditSource: AuditSource = {
    revRange: async (requests) =>
      requests.map(({ ref, end, start, count }) => revRange(this.stream(ref), end, start, count)),
  };

  private stream(ref: StreamRef): RawEntry[] {
    return ref.kind === 'user' ? (this.userStreams.get(ref.userId)?.entries ?? []) : this.bucketStreams[ref.bucket]!.entries;
  }
}

function push(stream: Stream, entry: RawEntry, cap: number): void {
  stream.entries.push(entry);
  const [ms, seq] = entry.id.split('-').map(Number) as [number, number];
  [stream.lastMs, stream.lastSeq] = [ms, seq];
  if (stream.entries.length > cap) stream.entries.splice(0, stream.entries.length - cap);
}

/** XREVRANGE over an ascending array of entries. */
function revRange(entries: readonly RawEntry[], end: string, start: string, count: number): RawEntry[] {
  const key = (id: string): [number, number] => id.split('-').map(Number) as [number, number];
  const cmp = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
  const bound = (b: string, isEnd: boolean) => {
    const exclusive = b.startsWith('(');
    const raw = exclusive ? b.slice(1) : b;
    if (raw === '+' || raw === '-') return null;
    const [ms, seq] = raw.split('-');
    const k: [number, number] = [Number(ms), seq === undefined ? (isEnd ? Number.MAX_SAFE_INTEGER : 0) : Number(seq)];
    return { k, exclusive };
  };
  const hi = bound(end, true);
  const lo = bound(start, false);
  const out: RawEntry[] = [];
  for (let i = entries.length - 1; i >= 0 && out.length < count; i--) {
    const k = key(entries[i]!.id);
    if (hi && (hi.exclusive ? cmp(k, hi.k) >= 0 : cmp(k, hi.k) > 0)) continue;
    if (lo && (lo.exclusive ? cmp(k, lo.k) <= 0 : cmp(k, lo.k) < 0)) break;
    out.push(entries[i]!);
  }
  return out;
}
