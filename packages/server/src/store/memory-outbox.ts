import { eventId, toAuditEvent } from './audit-query.js';
import { AUDIT_STREAMS } from './keys.js';
import { compareIds, type MemoryAuditLog } from './memory-audit.js';
import type { Outbox, OutboxEntry } from './store.js';

/**
 * The webhook outbox of the embedded store: the consumer group of redis-outbox.ts over the
 * in-process audit streams (one process, so one consumer in practice, with the same rules: each
 * entry taken once, retried when due, lost when the cap trims it first).
 */
interface Pending {
  readonly stream: number;
  readonly entry: string;
  deliveries: number;
  /** When it was last handed out (ms, this process's clock). */
  last: number;
}

export class MemoryOutbox implements Outbox {
  readonly streams = AUDIT_STREAMS;
  /** Per stream: the last entry handed out (null: the group starts after what is there at start). */
  private readonly delivered: (string | null)[] = Array.from({ length: AUDIT_STREAMS }, () => null);
  private readonly pending = new Map<string, Pending>();
  private started = false;

  constructor(
    private readonly log: MemoryAuditLog,
    private readonly clock: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (let s = 0; s < AUDIT_STREAMS; s++) this.delivered[s] = this.log.lastId(s) ?? '0-0';
  }

  async take(_consumer: string, perStream: number, which?: readonly number[]): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for (const s of which ?? this.delivered.keys()) {
      const entries = this.log.entriesAfter(s, this.delivered[s] ?? null, perStream);
      for (const e of entries) {
        const id = eventId(s, e.id);
        this.pending.set(id, { stream: s, entry: e.id, deliveries: 1, last: this.clock() });
        out.push({ event: toAuditEvent(s, e), deliveries: 1 });
      }
      const last = entries.at(-1);
      if (last) this.delivered[s] = last.id;
    }
    return out;
  }

  async retry(_consumer: string, perStream: number, waitMillis: (deliveries: number, eventId: string) => number) {
    const now = this.clock();
    const entries: OutboxEntry[] = [];
    let lost = 0;
    const perStreamSeen = new Map<number, number>();
    for (const [id, p] of [...this.pending].sort(([, a], [, b]) => a.stream - b.stream || compareIds(a.entry, b.entry))) {
      const seen = perStreamSeen.get(p.stream) ?? 0;
      if (seen >= perStream || now - p.last < waitMillis(p.deliveries, id)) continue;
      perStreamSeen.set(p.stream, seen + 1);
      const e = this.log.entry(p.stream, p.entry);
      if (!e) {
        this.pending.delete(id);
        lost += 1;
        continue;
      }
      p.deliveries += 1;
      p.last = now;
      entries.push({ event: toAuditEvent(p.stream, e), deliveries: p.deliveries });
    }
    return { entries, lost };
  }

  async ack(eventIds: readonly string[]): Promise<void> {
    for (const id of eventIds) this.pending.delete(id);
  }

  async backlog() {
    let waiting = 0;
    for (let s = 0; s < AUDIT_STREAMS; s++) waiting += this.log.entriesAfter(s, this.delivered[s] ?? null, Number.MAX_SAFE_INTEGER).length;
    return { pending: this.pending.size, waiting };
  }
}
