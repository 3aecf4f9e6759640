/**
 * The server's own count, from GET /metrics: verifies by outcome and store operations by name.
 * Each store operation of the Redis store is one round trip (reserve sends the client-address
 * script alongside the user's, in the same round trip), so store operations per verify are the
 * round trips per verify as the client sees them.
 */
import { round } from './redis-stats.js';

export type Scrape = Map<string, number>;

export async function scrape(base: string): Promise<Scrape> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sum of the series of `name` whose labels contain every `labels` pair. */
export function sum(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of s) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

export interface ServerCount {
  readonly verifies: number;
  readonly storeOps: Record<string, number>;
}

/** Verifies the server finished between two scrapes, and its store operations per verify. */
/** How much a series (summed as `sum` does) grew between two scrapes. */
const growth =
  (before: Scrape, after: Scrape) =>
  (name: string, labels: Record<string, string> = {}): number =>
    sum(after, name, labels) - sum(before, name, labels);

export function serverCount(before: Scrape, after: Scrape): ServerCount {
  const d = growth(before, after);
  const verifies = d('totp_verify_total', { kind: 'totp' });
  const storeOps: Record<string, number> = {};
  for (const op of ['reserve', 'settle', 'attempt', 'getUser', 'enroll']) {
    const n = d('totp_store_duration_seconds_count', { op });
    if (n > 0) storeOps[op] = Math.round((n / Math.max(1, verifies)) * 1000) / 1000;
  }
  return { verifies, storeOps };
}

/** The server's garbage collections over a stretch of `seconds` (prom-client's nodejs_gc_duration_seconds). */
export interface GcFigures {
  /** Young-generation collections (scavenges) a second, and their mean pause, ms. */
  readonly minorPerSecond: number;
  readonly minorMeanMs: number;
  /** Whole-heap collections (mark-compact) a second, and their mean pause, ms. */
  readonly majorPerSecond: number;
  readonly majorMeanMs: number;
  /** Pauses of any kind longer than 10 ms (the p99 target), in all. */
  readonly over10ms: number;
  /** The share of the stretch the server spent in collections, %. */
  readonly percent: number;
}

export function gcBetween(before: Scrape, after: Scrape, seconds: number): GcFigures {
  const d = growth(before, after);
  const kind = (k: string) => {
    const count = d('nodejs_gc_duration_seconds_count', { kind: k });
    return { perSecond: round(count / seconds, 2), meanMs: count > 0 ? round((d('nodejs_gc_duration_seconds_sum', { kind: k }) * 1000) / count, 2) : 0 };
  };
  const minor = kind('minor');
  const major = kind('major');
  return {
    minorPerSecond: minor.perSecond,
    minorMeanMs: minor.meanMs,
    majorPerSecond: major.perSecond,
    majorMeanMs: major.meanMs,
    // the histogram's buckets are cumulative: all pauses less those of at most 10 ms
    over10ms: d('nodejs_gc_duration_seconds_count') - d('nodejs_gc_duration_seconds_bucket', { le: '0.01' }),
    percent: round((d('nodejs_gc_duration_seconds_sum') / seconds) * 100, 2),
  };
}

/**
 * Wait until the server has answered everything sent to it: a load run that ends leaves up to one
 * request per connection in flight, which must not land in the next run's counts. Done when the
 * GraphQL requests answered stay the same over 100 ms (at most `maxMs`).
 */
export async function quiesce(base: string, maxMs = 5000): Promise<void> {
  const answered = async () => sum(await scrape(base), 'totp_http_request_duration_seconds_count', { route: 'graphql' });
  const deadline = Date.now() + maxMs;
  let last = await answered();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await answered();
    if (now === last) return;
    last = now;
  }
}
