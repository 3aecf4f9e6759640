import { InvalidInputError } from '@totp-service/core';
import { AUDIT_STREAMS, bucketOf } from './keys.js';
import type { AuditEvent, AuditEventType, AuditQuery, Page } from './store.js';

/**
 * Reading the audit trail, the same way for every store. Events live in streams: per bucket, one
 * for events about enrolled users (0…31) and one for events about ids with nothing enrolled
 * (32…63, see keys.ts). Each enrolled user's events are also listed per user (on Redis, the ids of
 * the user's entries in the bucket stream; see events.lua). A user's query reads that user's
 * events only, so its cost follows that user's events; a query over everyone merges every stream
 * newest first.
 *
 * An event id (and a cursor) is `<stream>-<ms>-<seq>`: the stream and the entry id in it. Order
 * is (ms, seq, stream), newest first.
 */

/** One stream entry as a store returns it. */
export interface RawEntry {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

export type StreamRef = { readonly kind: 'user'; readonly userId: string } | { readonly kind: 'stream'; readonly stream: number };

/** What a store provides: XREVRANGE semantics (bounds like "+", "-", "123", "123-4", "(123-4"). */
export interface AuditSource {
  revRange(streams: readonly { ref: StreamRef; end: string; start: string; count: number }[]): Promise<RawEntry[][]>;
  /** The id of the oldest entry still in a bucket's stream of enrolled users' events (null when it is empty). */
  oldest(bucket: number): Promise<string | null>;
}

/** Entries one request may examine before it returns a partial page (bounds the work of a filter). */
export const SCAN_BUDGET = 20_000;

interface Position {
  readonly stream: number;
  readonly ms: number;
  readonly seq: number;
}

export function eventId(stream: number, entryId: string): string {
  return `${stream}-${entryId}`;
}

function parseStreamId(id: string): { ms: number; seq: number } {
  const [ms, seq] = id.split('-');
  return { ms: Number(ms), seq: Number(seq) };
}

function olderThan(id: string, floor: { ms: number; seq: number }): boolean {
  const x = parseStreamId(id);
  return x.ms !== floor.ms ? x.ms < floor.ms : x.seq < floor.seq;
}

/** Parse a cursor (an event id). Anything that is not one is BAD_USER_INPUT. */
export function parseCursor(cursor: string): Position {
  const m = /^(\d{1,2})-(\d{1,15})-(\d{1,15})$/.exec(cursor);
  const stream = m ? Number(m[1]) : NaN;
  if (!m || stream >= AUDIT_STREAMS) throw new InvalidInputError('after', 'after is not a cursor returned by this API');
  return { stream, ms: Number(m[2]), seq: Number(m[3]) };
}

export function toAuditEvent(stream: number, entry: RawEntry): AuditEvent {
  const f = entry.fields;
  return {
    id: eventId(stream, entry.id),
    at: parseStreamId(entry.id).ms,
    type: f.t as AuditEventType,
    userId: f.u ?? null,
    deviceId: f.dv ?? null,
    actor: f.a ?? '',
    clientIp: f.ip ?? null,
    outcome: (f.o as AuditEvent['outcome']) ?? null,
    detail: f.d ?? null,
  };
}

/** The upper bound of one stream: the tighter of `until` and the cursor (exclusive of it). */
function upperBound(stream: number, until: number | undefined, after: Position | undefined): string {
  if (after && (until === undefined || after.ms <= until)) {
    // in (ms, seq, stream) order, a lower stream at the cursor's exact id still comes after it
    const id = `${after.ms}-${after.seq}`;
    return stream < after.stream ? id : `(${id}`;
  }
  return until === undefined ? '+' : String(until);
}

class Cursor {
  private buffer: RawEntry[] = [];
  private at = 0;
  private exhausted = false;
  /** The head entry's id, parsed once: the merge compares heads for every entry it takes. */
  ms = 0;
  seq = 0;
  constructor(
    readonly ref: StreamRef,
    readonly stream: number,
    private end: string,
    private readonly start: string,
    private batch: number,
  ) {
    // nothing comes before the first possible id (and Redis refuses the exclusive bound "(0-0")
    if (end === '(0-0') this.exhausted = true;
  }

  get needsFetch(): boolean {
    return this.at >= this.buffer.length && !this.exhausted;
  }
  request() {
    return { ref: this.ref, end: this.end, start: this.start, count: this.batch };
  }
  /** Take a batch; entries older than `floor` (trimmed from the bucket's stream) end the stream. */
  receive(entries: RawEntry[], floor: { ms: number; seq: number } | null): void {
    this.buffer = entries;
    this.at = 0;
    if (entries.length < this.batch) this.exhausted = true;
    const cut = floor ? entries.findIndex((e) => olderThan(e.id, floor)) : -1;
    if (cut >= 0) {
      this.buffer = entries.slice(0, cut);
      this.exhausted = true;
    }
    const last = entries.at(-1);
    if (last) this.end = `(${last.id}`;
    this.batch = Math.min(this.batch * 2, 1000);
    this.parseHead();
  }
  head(): RawEntry | undefined {
    return this.buffer[this.at];
  }
  take(): RawEntry {
    const entry = this.buffer[this.at++]!;
    this.parseHead();
    return entry;
  }
  private parseHead(): void {
    const head = this.buffer[this.at];
    if (head) ({ ms: this.ms, seq: this.seq } = parseStreamId(head.id));
  }
}

function newer(a: Cursor, b: Cursor): boolean {
  return a.ms !== b.ms ? a.ms > b.ms : a.seq !== b.seq ? a.seq > b.seq : a.stream > b.stream;
}

/**
 * Run an audit query against a store's streams. A user's query reads the user's own stream, and
 * in the same round trip the id of the oldest entry left in the bucket's stream: the user's
 * stream keeps at most TOTP_AUDIT_USER_MAX_EVENTS, but never shows an event that the log as a
 * whole (TOTP_AUDIT_MAX_EVENTS) has already trimmed, so it answers exactly what a query over
 * everyone, filtered by the user, would answer.
 */
export async function queryAudit(source: AuditSource, q: AuditQuery): Promise<Page<AuditEvent>> {
  const after = q.after !== undefined ? parseCursor(q.after) : undefined;
  if (q.until !== undefined && q.until < 0) return { nodes: [], endCursor: q.after ?? null, hasNextPage: false };
  const start = q.since === undefined || q.since <= 0 ? '-' : String(q.since);
  const types = q.types && q.types.length > 0 ? new Set(q.types) : null;
  const want = q.first + 1;
  if (q.userId !== undefined && after && after.stream !== bucketOf(q.userId)) {
    throw new InvalidInputError('after', 'after is a cursor of another query');
  }
  // asked for only once the query is known to be valid: a promise left behind could reject unheard
  const floorOf: Promise<string | null> = q.userId !== undefined ? source.oldest(bucketOf(q.userId)) : Promise.resolve(null);

  let cursors: Cursor[];
  if (q.userId !== undefined) {
    const bucket = bucketOf(q.userId);
    cursors = [new Cursor({ kind: 'user', userId: q.userId }, bucket, upperBound(bucket, q.until, after), start, Math.min(want, 1000))];
  } else {
    const perStream = Math.min(Math.ceil((want * 2) / AUDIT_STREAMS) + 4, 1000);
    cursors = Array.from(
      { length: AUDIT_STREAMS },
      (_, s) => new Cursor({ kind: 'stream', stream: s }, s, upperBound(s, q.until, after), start, perStream),
    );
  }

  const found: AuditEvent[] = [];
  let scanned = 0;
  let lastScanned: string | null = null;
  while (found.length < want) {
    const empty = cursors.filter((c) => c.needsFetch);
    if (empty.length > 0) {
      const [results, floorId] = await Promise.all([source.revRange(empty.map((c) => c.request())), floorOf]);
      const floor = floorId === null ? null : parseStreamId(floorId);
      empty.forEach((c, i) => c.receive(results[i] ?? [], floor));
    }
    let best: Cursor | undefined;
    for (const c of cursors) if (c.head() && (!best || newer(c, best))) best = c;
    if (!best) break;
    const entry = best.take();
    scanned += 1;
    lastScanned = eventId(best.stream, entry.id);
    if (!types || types.has(entry.fields.t as AuditEventType)) found.push(toAuditEvent(best.stream, entry));
    if (scanned >= SCAN_BUDGET && found.length < want) {
      // a sparse filter over a long log: hand back what was found and where to go on from
      return { nodes: found, endCursor: lastScanned, hasNextPage: true };
    }
  }
  const nodes = found.slice(0, q.first);
  return {
    nodes,
    endCursor: nodes.at(-1)?.id ?? q.after ?? null,
    hasNextPage: found.length > q.first,
  };
}
