import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Webhook } from 'standardwebhooks';
import type { AuditEventType } from '@totp-service/core';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Outbox, OutboxEntry } from '../store/store.js';
import { payloadOf } from './payload.js';

/**
 * Security events out: every audit event of a chosen type is POSTed to TOTP_WEBHOOK_URL, signed
 * the Standard Webhooks way (standardwebhooks), at least once. The store's outbox (the audit log,
 * read through a consumer group) is the queue: an event waits there until a server delivers it, so
 * a restart loses none and several servers share the work. A receiver that fails is tried again
 * with growing delays until TOTP_WEBHOOK_MAX_AGE_SECONDS, then dropped with a log line and a
 * metric. Deliveries run beside requests, a few at a time, each cut off after 10 s: a slow or dead
 * receiver never holds up a verify.
 */
export interface WebhookSettings {
  readonly url: string;
  /** `whsec_` + base64 (Standard Webhooks). */
  readonly secret: string;
  readonly events: ReadonlySet<AuditEventType>;
  readonly maxAgeSeconds: number;
  /** The first retry's wait (at most 5 s; each next one up to twice the one before). */
  readonly firstRetryMillis?: number;
}

export interface DispatcherOptions {
  /** How often new events are looked for (ms). */
  readonly pollMillis?: number;
  /** Deliveries in flight at once. */
  readonly concurrency?: number;
  readonly timeoutMillis?: number;
}

/** The first retry within 5 s, each next wait at most twice the one before, capped at an hour. */
const FIRST_RETRY_MS = 5000;
const MAX_RETRY_MS = 3_600_000;

/**
 * How long after its last try an event is tried again: 5 s, 10 s, 20 s … up to an hour, each
 * between half and all of that (jitter, fixed per event and try so every server computes the same).
 */
export function retryWait(deliveries: number, eventId: string, first = FIRST_RETRY_MS): number {
  const base = Math.min(first * 2 ** Math.max(0, deliveries - 1), MAX_RETRY_MS);
  const jitter = createHash('sha256').update(`${eventId}/${deliveries}`).digest().readUInt16BE(0) / 0xffff;
  return Math.round(base * (0.5 + 0.5 * jitter));
}

export class WebhookDispatcher {
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly signer: Webhook;
  private readonly concurrency: number;
  private readonly inFlight = new Set<Promise<void>>();
  /** Taken and waiting for a slot: a few ahead, so a slot that frees is filled at once. */
  private readonly queue: OutboxEntry[] = [];
  /** Every event queued or in flight here: a retry round that claims one of them again skips it. */
  private readonly held = new Set<string>();
  /** The stream the next look for new events starts at. */
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  /** The next round also looks for due retries (a tick of the timer came while one ran). */
  private look = true;
  private stopped = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly settings: WebhookSettings,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: DispatcherOptions = {},
  ) {
    this.signer = new Webhook(settings.secret);
    this.concurrency = Math.max(1, options.concurrency ?? 8);
  }

  async start(): Promise<void> {
    await this.outbox.start();
    this.timer = setInterval(() => this.kick(true), this.options.pollMillis ?? 1000).unref();
  }

  /** Stop looking for events; deliveries in flight finish (or time out). Undelivered ones wait in the store. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * A round now, or right after the one running (a slot freed while it ran). Only the timer's
   * rounds look for due retries: a retry is then never more than one tick late, however often
   * finished deliveries start rounds in between.
   */
  private kick(look = false): void {
    if (this.stopped) return;
    this.look ||= look;
    if (this.running) {
      this.again = true;
      return;
    }
    this.again = false;
    const retries = this.look;
    this.look = false;
    this.running = this.round(retries).finally(() => {
      this.running = null;
      if (this.again) this.kick();
    });
  }

  /** On the timer's ticks the due retries and the backlog; then new events until the slots have work. */
  private async round(retries: boolean): Promise<void> {
    try {
      if (retries) {
        const first = this.settings.firstRetryMillis ?? FIRST_RETRY_MS;
        const due = await this.outbox.retry(this.consumer, 4, (n, id) => retryWait(n, id, first));
        if (due.lost > 0) this.lost(due.lost);
        await this.accept(due.entries.filter((e) => !this.held.has(e.event.id)));
        await this.backlog();
      }
      await this.fill();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'webhooks: the outbox could not be read; trying again');
    }
  }

  /**
   * New events, a window of streams at a time (one event from each), until twice the slots have
   * work or a whole turn of the streams found none. Taking only what the slots will soon deliver
   * keeps an event from waiting here long enough for another server to think it failed.
   */
  private async fill(): Promise<void> {
    const n = this.outbox.streams;
    let empty = 0;
    while (!this.stopped && empty < n && this.queue.length + this.inFlight.size < 2 * this.concurrency) {
      const window = Math.min(n, 2 * this.concurrency - this.queue.length - this.inFlight.size);
      const streams = Array.from({ length: window }, (_, i) => (this.cursor + i) % n);
      this.cursor = (this.cursor + window) % n;
      const entries = await this.outbox.take(this.consumer, 1, streams);
      empty = entries.length > 0 ? 0 : empty + window;
      await this.accept(entries);
    }
  }

  private async backlog(): Promise<void> {
    const b = await this.outbox.backlog();
    this.metrics.webhookBacklog.set(b.pending + (b.waiting ?? 0));
  }

  private lost(n: number): void {
    this.metrics.webhookDeliveries.inc({ result: 'lost' }, n);
    this.logger.warn({ lost: n }, 'webhooks: events were trimmed from the audit log before they could be delivered (the outbox is capped by TOTP_AUDIT_MAX_EVENTS)');
  }

  /** Queue what is to be delivered; acknowledge at once, in one go, an event of a type not chosen and one past the maximum age. */
  private async accept(entries: readonly OutboxEntry[]): Promise<void> {
    const done: string[] = [];
    for (const entry of entries) {
      const { event } = entry;
      if (!this.settings.events.has(event.type)) done.push(event.id);
      else if (Date.now() - event.at > this.settings.maxAgeSeconds * 1000) {
        this.metrics.webhookDeliveries.inc({ result: 'dropped' });
        this.logger.warn({ eventId: event.id, type: event.type, deliveries: entry.deliveries }, 'webhooks: gave up on an event older than TOTP_WEBHOOK_MAX_AGE_SECONDS');
        done.push(event.id);
      } else {
        this.held.add(event.id);
        this.queue.push(entry);
      }
    }
    this.pump();
    if (done.length) await this.outbox.ack(done);
  }

  /** Start deliveries from the queue while slots are free. */
  private pump(): void {
    while (!this.stopped && this.inFlight.size < this.concurrency && this.queue.length > 0) {
      const entry = this.queue.shift()!;
      const p = this.deliver(entry).finally(() => {
        this.inFlight.delete(p);
        this.held.delete(entry.event.id);
        this.pump();
        this.kick();
      });
      this.inFlight.add(p);
    }
  }

  private async deliver({ event, deliveries }: OutboxEntry): Promise<void> {
    const body = JSON.stringify(payloadOf(event));
    const at = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': this.signer.sign(event.id, at, body),
    };
    try {
      const res = await fetch(this.settings.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMillis ?? 10_000) });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      await this.outbox.ack([event.id]);
      this.metrics.webhookDeliveries.inc({ result: 'delivered' });
    } catch (err) {
      // left pending: tried again after retryWait(deliveries)
      this.metrics.webhookDeliveries.inc({ result: 'failed' });
      this.logger.info({ eventId: event.id, type: event.type, deliveries, reason: (err as Error).message }, 'webhooks: delivery failed; will retry');
    }
  }
}
