/**
 * Security events pushed out (--webhooks, --tracing, --compare-events): loopback HTTP servers that
 * stand in for a webhook endpoint and an OTLP collector, and the server's environment that points
 * at them. They answer at once and only count what they got, so what is measured is what sending
 * costs the server, not what a receiver does with it.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AUDIT_EVENT_TYPES } from '@totp-service/core';
import { scrape, sum, type Scrape } from './metrics.js';

/** Which ways out are on for a server. */
export interface EventsOn {
  readonly webhooks: boolean;
  readonly tracing: boolean;
}

interface Answer {
  readonly status: number;
  readonly type?: string;
  readonly body?: string;
}

export interface Sink {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Requests answered 2xx so far, and the bytes of their bodies. */
  readonly count: { requests: number; bytes: number };
  close(): Promise<void>;
}

/** A loopback HTTP server on a free port that answers each request, once its body is in, with `answer`. */
async function startSink(answer: (req: IncomingMessage) => Answer): Promise<Sink> {
  const count = { requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const a = answer(req);
      if (a.status < 300) {
        count.requests += 1;
        count.bytes += bytes;
      }
      res.writeHead(a.status, a.type ? { 'content-type': a.type } : {}).end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    count,
    close: () =>
      new Promise((resolve) => {
        // the server's keep-alive connections would hold close() open
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A webhook endpoint: 204 to every POST (an acknowledgement), as a receiver that queues its work does. */
export const startWebhookReceiver = () => startSink((req) => ({ status: req.method === 'POST' ? 204 : 405 }));

/**
 * An OTLP/HTTP collector that accepts POST /v1/traces and answers an empty
 * ExportTraceServiceResponse (full success) in the encoding of the request, without decoding it.
 */
export const startTraceSink = () =>
  startSink((req) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') return { status: 404 };
    const json = (req.headers['content-type'] ?? '').startsWith('application/json');
    return json ? { status: 200, type: 'application/json', body: '{}' } : { status: 200, type: 'application/x-protobuf' };
  });

/** What went out while one server ran (or over one load window of it). */
export interface EventFigures {
  readonly label: string;
  readonly webhooks: boolean;
  readonly tracing: boolean;
  readonly seconds: number;
  /** Verifies the server finished in the window: each is an audit event, so a webhook delivery to make. */
  readonly verifies: number;
  /** POSTs the webhook receiver answered in the window, and per second. */
  readonly deliveries: number;
  readonly deliveriesPerSecond: number;
  /** The server's count over the window: totp_webhook_deliveries_total by result; totp_webhook_backlog at its end. */
  readonly server: { readonly delivered: number; readonly failed: number; readonly dropped: number; readonly lost: number; readonly backlog: number } | null;
  /** Export requests the OTLP sink answered in the window, per second, and their bytes. */
  readonly traceExports: number;
  readonly traceExportsPerSecond: number;
  readonly traceBytes: number;
}

export interface Mark {
  readonly at: bigint;
  readonly deliveries: number;
  readonly traceExports: number;
  readonly traceBytes: number;
  readonly metrics: Scrape;
}

/** The receivers of one benchmark run, shared by every server it starts. */
export class EventSinks {
  /** One secret for the run: the receiver does not check signatures, but the server makes them. */
  private readonly secret = `whsec_${randomBytes(32).toString('base64')}`;

  private constructor(
    readonly webhooks: Sink | null,
    readonly tracing: Sink | null,
  ) {}

  static async start(want: EventsOn): Promise<EventSinks> {
    return new EventSinks(want.webhooks ? await startWebhookReceiver() : null, want.tracing ? await startTraceSink() : null);
  }

  /** The server's environment for `on`: each way out that is on, pointed at its receiver. */
  env(on: EventsOn): Record<string, string> {
    const env: Record<string, string> = {};
    if (on.webhooks && this.webhooks) {
      env.TOTP_WEBHOOK_URL = `${this.webhooks.url}/hooks/totp`;
      env.TOTP_WEBHOOK_SECRET = this.secret;
      // every type, VERIFY included (not in the default): every verify becomes a delivery
      env.TOTP_WEBHOOK_EVENTS = AUDIT_EVENT_TYPES.join(',');
    }
    if (on.tracing && this.tracing) env.OTEL_EXPORTER_OTLP_ENDPOINT = this.tracing.url;
    return env;
  }

  /** The counts now (the receivers' and the server's at `base`), to measure a window from. */
  async mark(base: string): Promise<Mark> {
    return {
      at: process.hrtime.bigint(),
      deliveries: this.webhooks?.count.requests ?? 0,
      traceExports: this.tracing?.count.requests ?? 0,
      traceBytes: this.tracing?.count.bytes ?? 0,
      metrics: await scrape(base),
    };
  }

  /** What went out between `from` and now, for a server started with `on`. */
  async since(from: Mark, base: string, label: string, on: EventsOn): Promise<EventFigures> {
    const to = await this.mark(base);
    const seconds = Number(to.at - from.at) / 1e9;
    const verifies = sum(to.metrics, 'totp_verify_total') - sum(from.metrics, 'totp_verify_total');
    const d = (result: string) => sum(to.metrics, 'totp_webhook_deliveries_total', { result }) - sum(from.metrics, 'totp_webhook_deliveries_total', { result });
    const deliveries = to.deliveries - from.deliveries;
    const traceExports = to.traceExports - from.traceExports;
    const perSecond = (n: number) => Math.round((n / seconds) * 10) / 10;
    return {
      label,
      webhooks: on.webhooks,
      tracing: on.tracing,
      seconds: Math.round(seconds * 100) / 100,
      verifies,
      deliveries,
      deliveriesPerSecond: perSecond(deliveries),
      server: on.webhooks
        ? { delivered: d('delivered'), failed: d('failed'), dropped: d('dropped'), lost: d('lost'), backlog: sum(to.metrics, 'totp_webhook_backlog') }
        : null,
      traceExports,
      traceExportsPerSecond: perSecond(traceExports),
      traceBytes: to.traceBytes - from.traceBytes,
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.webhooks?.close(), this.tracing?.close()]);
  }
}

/** One line per server: what the receivers got and what the server counted. */
export function describeEvents(f: EventFigures): string {
  const parts: string[] = [];
  if (f.webhooks) {
    const s = f.server;
    parts.push(
      `the webhook receiver got ${f.deliveries} deliveries in ${f.seconds} s (${f.deliveriesPerSecond}/s; the server finished ${f.verifies} verifies meanwhile)` +
        (s ? `; the server counted delivered ${s.delivered}, failed ${s.failed}, dropped ${s.dropped}, lost ${s.lost}; totp_webhook_backlog ${s.backlog} at the end` : ''),
    );
  }
  if (f.tracing) parts.push(`the OTLP sink got ${f.traceExports} exports (${f.traceExportsPerSecond}/s, ${Math.round(f.traceBytes / 1024)} KiB)`);
  return `${f.label}: ${parts.join('; ')}`;
}

/** "webhooks on (…), tracing off": for titles and the JSON. */
export function eventsLabel(on: EventsOn): string {
  return `webhooks ${on.webhooks ? 'on (every event type, VERIFY included)' : 'off'}, tracing ${on.tracing ? 'on (OTLP/HTTP)' : 'off'}`;
}

/** Events off means off: the benchmark's own environment must not turn them on in a server it starts. */
export function clearInheritedEventsEnv(): void {
  for (const k of Object.keys(process.env)) if (k.startsWith('TOTP_WEBHOOK_') || k.startsWith('OTEL_')) delete process.env[k];
}
