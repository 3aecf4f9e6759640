import type { AuditSource, RawEntry, StreamRef } from '../audit/query.js';
import { BUCKETS, eventBucket } from './keys.js';
import type { Actor, AuditEventType } from './store.js';

interface Stream {
  lastMs: number;
  lastSeq: number;
  entries: RawEntry[];
}

/**
 * The embedded store's audit trail: one stream per bucket and one per user, with the entry ids,
 * caps and XREVRANGE semantics of what _audit.lua writes on Redis (where a user's events are a
 * list of ids into the bucket stream, read by events.lua: the same answers).
 */
export class MemoryAuditLog {
  private readonly users = new Map<string, Stream>();
  private readonly buckets: Stream[] = Array.from({ length: BUCKETS }, () => ({ lastMs: 0, lastSeq: 0, entries: [] }));

  constructor(
    private readonly bucketMax: number,
    private readonly userMax: number,
  ) {}

  hasUserStream(userId: string): boolean {
    return this.users.has(userId);
  }

  /** appendAudit + eventFields of _audit.lua. */
  append(userId: string | null, toUser: boolean, now: number, type: AuditEventType, actor: Actor, outcome = '', detail = ''): void {
    const fields: Record<string, string> = { t: type };
    if (userId !== null) fields.u = userId;
    fields.a = actor.name;
    if (actor.clientIp) fields.ip = actor.clientIp;
    if (outcome) fields.o = outcome;
    if (detail) fields.d = detail;
    const bucket = this.buckets[eventBucket(userId)]!;
    const ms = Math.max(now, bucket.lastMs);
    const seq = ms === bucket.lastMs ? bucket.lastSeq + 1 : 0;
    const entry = { id: `${ms}-${seq}`, fields };
    push(bucket, entry, this.bucketMax);
    if (toUser && userId !== null) {
      let s = this.users.get(userId);
      if (!s) this.users.set(userId, (s = { lastMs: 0, lastSeq: 0, entries: [] }));
      push(s, entry, this.userMax);
    }
  }

  readonly source: AuditSource = {
    revRange: async (requests) => requests.map(({ ref, end, start, count }) => revRange(this.stream(ref), end, start, count)),
    oldest: async (bucket) => this.buckets[bucket]!.entries[0]?.id ?? null,
  };

  private stream(ref: StreamRef): RawEntry[] {
    return ref.kind === 'user' ? (this.users.get(ref.userId)?.entries ?? []) : this.buckets[ref.bucket]!.entries;
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
