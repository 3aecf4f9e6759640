import type { AuditSource, RawEntry, StreamRef } from './audit-query.js';
import { AUDIT_STREAMS, eventBucket, strayStream } from './keys.js';
import type { Actor, AuditEventType } from './store.js';

interface Stream {
  lastMs: number;
  lastSeq: number;
  entries: RawEntry[];
}

/**
 * The embedded store's audit trail: per bucket a stream of enrolled users' events and one of
 * events about ids with nothing enrolled, and one stream per enrolled user, with the entry ids,
 * caps and XREVRANGE semantics of what _audit.lua writes on Redis (where a user's events are a
 * list of ids into the bucket stream, read by events.lua: the same answers).
 */
export class MemoryAuditLog {
  private readonly users = new Map<string, Stream>();
  private readonly streams: Stream[] = Array.from({ length: AUDIT_STREAMS }, () => ({ lastMs: 0, lastSeq: 0, entries: [] }));

  constructor(
    private readonly bucketMax: number,
    private readonly userMax: number,
  ) {}

  /**
   * appendAudit + eventFields of _audit.lua. An event about a user who is `enrolled` goes to the
   * bucket's stream and the user's own; one about an id with nothing enrolled to the bucket's
   * stream of such events only; one about no user (a rekey run) to the stream of bucket('').
   */
  append(userId: string | null, enrolled: boolean, now: number, type: AuditEventType, actor: Actor, outcome = '', detail = '', deviceId = ''): void {
    const fields: Record<string, string> = { t: type };
    if (userId !== null) fields.u = userId;
    if (deviceId) fields.dv = deviceId;
    fields.a = actor.name;
    if (actor.clientIp) fields.ip = actor.clientIp;
    if (outcome) fields.o = outcome;
    if (detail) fields.d = detail;
    const stream = this.streams[userId === null || enrolled ? eventBucket(userId) : strayStream(eventBucket(userId))]!;
    const ms = Math.max(now, stream.lastMs);
    const seq = ms === stream.lastMs ? stream.lastSeq + 1 : 0;
    const entry = { id: `${ms}-${seq}`, fields };
    push(stream, entry, this.bucketMax);
    if (enrolled && userId !== null) {
      let s = this.users.get(userId);
      if (!s) this.users.set(userId, (s = { lastMs: 0, lastSeq: 0, entries: [] }));
      push(s, entry, this.userMax);
    }
  }

  /** The entries of one stream after `after` (an entry id, or null for all), oldest first: the webhook outbox reads them. */
  entriesAfter(stream: number, after: string | null, count: number): RawEntry[] {
    const entries = this.streams[stream]!.entries;
    const from = after === null ? 0 : entries.findIndex((e) => compareIds(e.id, after) > 0);
    return from < 0 ? [] : entries.slice(from, from + count);
  }

  /** The entry `id` of one stream, if the cap has not trimmed it. */
  entry(stream: number, id: string): RawEntry | undefined {
    return this.streams[stream]!.entries.find((e) => e.id === id);
  }

  /** The id of the newest entry of one stream (null when empty). */
  lastId(stream: number): string | null {
    return this.streams[stream]!.entries.at(-1)?.id ?? null;
  }

  readonly source: AuditSource = {
    revRange: async (requests) => requests.map(({ ref, end, start, count }) => revRange(this.stream(ref), end, start, count)),
    oldest: async (bucket) => this.streams[bucket]!.entries[0]?.id ?? null,
  };

  private stream(ref: StreamRef): RawEntry[] {
    return ref.kind === 'user' ? (this.users.get(ref.userId)?.entries ?? []) : this.streams[ref.stream]!.entries;
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

/** Stream entry ids in order: (ms, seq). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}
