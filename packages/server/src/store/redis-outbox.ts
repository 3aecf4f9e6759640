import type { Cluster, Redis } from 'ioredis';
import { eventId, toAuditEvent } from './audit-query.js';
import { AUDIT_STREAMS, auditStreamKey } from './keys.js';
import { toRawEntry } from './redis-replies.js';
import type { Scripts } from './scripts.js';
import type { Outbox, OutboxEntry } from './store.js';

/**
 * The webhook outbox on Redis: a consumer group on each of the 64 audit streams (XREADGROUP hands
 * each entry to one consumer of all servers; XPENDING and XCLAIM retry what was not acknowledged;
 * XACK forgets it). One command per stream, so every command touches one slot of a Cluster.
 */
export const GROUP = 'webhooks';
/** Pending entries of a stream looked at per retry round. */
const PENDING_SCAN = 100;

type Call = <T>(p: Promise<T>) => Promise<T>;
type XEntry = [string, string[]];

/** `<stream>-<ms>-<seq>` into the stream number and the entry id. */
function split(id: string): { stream: number; entry: string } {
  const dash = id.indexOf('-');
  return { stream: Number(id.slice(0, dash)), entry: id.slice(dash + 1) };
}

const streams = () => Array.from({ length: AUDIT_STREAMS }, (_, s) => s);

export class RedisOutbox implements Outbox {
  readonly streams = AUDIT_STREAMS;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly scripts: Scripts,
    private readonly redis: Call,
  ) {}

  async start(): Promise<void> {
    await this.redis(Promise.all(streams().map((s) => this.scripts.createGroup(auditStreamKey(s), GROUP))));
  }

  async take(consumer: string, perStream: number, which: readonly number[] = streams()): Promise<OutboxEntry[]> {
    const replies = await this.redis(
      Promise.all(
        which.map(async (s) => {
          const r = (await this.client.xreadgroup('GROUP', GROUP, consumer, 'COUNT', perStream, 'STREAMS', auditStreamKey(s), '>')) as
            | [string, XEntry[]][]
            | null;
          return (r?.[0]?.[1] ?? []).map((e) => ({ event: toAuditEvent(s, toRawEntry(e)), deliveries: 1 }));
        }),
      ),
    );
    return replies.flat();
  }

  async retry(consumer: string, perStream: number, waitMillis: (deliveries: number, eventId: string) => number) {
    const found = await this.redis(Promise.all(streams().map((s) => this.retryStream(s, consumer, perStream, waitMillis))));
    return { entries: found.flatMap((f) => f.entries), lost: found.reduce((n, f) => n + f.lost, 0) };
  }

  private async retryStream(s: number, consumer: string, perStream: number, waitMillis: (deliveries: number, eventId: string) => number) {
    const key = auditStreamKey(s);
    // a look past the first few: an event waiting an hour must not hide newer ones already due
    const pending = (await this.client.xpending(key, GROUP, 'IDLE', 50, '-', '+', PENDING_SCAN)) as [string, string, number, number][];
    const due = pending.filter(([id, , idle, deliveries]) => idle >= waitMillis(deliveries, eventId(s, id))).slice(0, perStream);
    const entries: OutboxEntry[] = [];
    let lost = 0;
    for (const [id, , , deliveries] of due) {
      // claimed only if still idle that long: another server that took it meanwhile keeps it
      const claimed = (await this.client.xclaim(key, GROUP, consumer, waitMillis(deliveries, eventId(s, id)), id)) as (XEntry | null)[];
      const entry = claimed[0];
      if (entry) entries.push({ event: toAuditEvent(s, toRawEntry(entry)), deliveries: deliveries + 1 });
      else if (claimed.length === 0 && (await this.client.xrange(key, id, id)).length === 0) {
        // trimmed by the audit cap before it could be delivered
        await this.client.xack(key, GROUP, id);
        lost += 1;
      }
    }
    return { entries, lost };
  }

  async ack(eventIds: readonly string[]): Promise<void> {
    const byStream = new Map<number, string[]>();
    for (const id of eventIds) {
      const { stream, entry } = split(id);
      byStream.set(stream, [...(byStream.get(stream) ?? []), entry]);
    }
    await this.redis(Promise.all([...byStream].map(([s, ids]) => this.client.xack(auditStreamKey(s), GROUP, ...ids))));
  }

  async backlog() {
    const infos = await this.redis(Promise.all(streams().map((s) => this.scripts.groupInfo(auditStreamKey(s), GROUP))));
    const pending = infos.reduce((n, [p]) => n + Number(p), 0);
    const waiting = infos.some(([, lag]) => Number(lag) < 0) ? null : infos.reduce((n, [, lag]) => n + Number(lag), 0);
    return { pending, waiting };
  }
}
