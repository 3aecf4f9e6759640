import { setTimeout as sleep } from 'node:timers/promises';
import type { GraphQLClient } from './client.js';
import { CliFailure } from './errors.js';
import { auditEvents, PAGE_SIZE, type AuditEvent, type AuditFilter } from './operations.js';

/**
 * `audit --follow`: the server has no subscription, so new events are found by polling the
 * newest-first log with `since` a little before the newest event printed (events of several
 * servers can be recorded slightly out of order) and skipping the ids already printed.
 */

/** How far back each poll looks before the newest event printed. */
const OVERLAP_MS = 5_000;
/** Failures a follower rides out (a server restarting, Redis failing over). */
const TRANSIENT = new Set(['SERVER_UNREACHABLE', 'SERVER_TIMEOUT', 'SERVICE_UNAVAILABLE']);

export interface FollowOptions {
  readonly client: GraphQLClient;
  readonly filter: AuditFilter;
  /** The events already listed, newest first; printed first, oldest first. */
  readonly initial: readonly AuditEvent[];
  /** The cursor past `initial` when --limit cut the listing short, else null. */
  readonly rest: string | null;
  readonly intervalSeconds: number;
  readonly print: (event: AuditEvent) => void;
  /** One line on stderr about a transient failure. */
  readonly warn: (line: string) => void;
}

/** Ids printed within the overlap, and the newest time printed. */
class Printed {
  private readonly ids = new Map<string, number>();
  watermark: number;

  constructor(since: string | undefined) {
    this.watermark = since ? Date.parse(since) : 0;
  }

  add(event: AuditEvent): void {
    const at = Date.parse(event.at);
    this.ids.set(event.id, at);
    this.watermark = Math.max(this.watermark, at);
  }

  has(event: AuditEvent): boolean {
    return this.ids.has(event.id);
  }

  /** Whether an event falls within the overlap that the next poll reads again. */
  inOverlap(event: AuditEvent): boolean {
    return Date.parse(event.at) >= this.watermark - OVERLAP_MS;
  }

  /** The `since` of the next poll. */
  since(fallback: string | undefined): string | undefined {
    return this.watermark > 0 ? new Date(Math.max(0, this.watermark - OVERLAP_MS)).toISOString() : fallback;
  }

  forgetOld(): void {
    for (const [id, at] of this.ids) if (at < this.watermark - OVERLAP_MS) this.ids.delete(id);
  }
}

/** Print the initial events, then every new one, until SIGINT or SIGTERM (a normal end). */
export async function followAudit(options: FollowOptions): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const printed = new Printed(options.filter.since);
    for (const event of [...options.initial].reverse()) {
      printed.add(event);
      options.print(event);
    }
    await markOlderInOverlap(options, printed);
    await poll(options, printed, stop.signal);
  } catch (error) {
    if (!stop.signal.aborted) throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Events that --limit left out but that the overlap would read again are old, not new. */
async function markOlderInOverlap(options: FollowOptions, printed: Printed): Promise<void> {
  for (let after = options.rest; after !== null; ) {
    const page = await auditEvents(options.client, options.filter, { first: PAGE_SIZE, after });
    for (const event of page.nodes) if (printed.inOverlap(event)) printed.add(event);
    const oldest = page.nodes.at(-1);
    after = page.pageInfo.hasNextPage && oldest && printed.inOverlap(oldest) ? page.pageInfo.endCursor : null;
  }
}

async function poll(options: FollowOptions, printed: Printed, signal: AbortSignal): Promise<void> {
  let warned = false;
  while (!signal.aborted) {
    await sleep(options.intervalSeconds * 1000, undefined, { signal });
    let fresh: AuditEvent[];
    try {
      fresh = await newEvents(options, printed, signal);
    } catch (error) {
      if (signal.aborted || !(error instanceof CliFailure) || !TRANSIENT.has(error.code)) throw error;
      if (!warned) options.warn(`${error.line()} (still following; retrying every ${options.intervalSeconds} s)`);
      warned = true;
      continue;
    }
    warned = false;
    for (const event of fresh) {
      printed.add(event);
      options.print(event);
    }
    printed.forgetOld();
  }
}

/** Events since the overlap not printed yet, oldest first. */
async function newEvents(options: FollowOptions, printed: Printed, signal: AbortSignal): Promise<AuditEvent[]> {
  const since = printed.since(options.filter.since);
  const query: AuditFilter = { ...options.filter, ...(since ? { since } : {}) };
  const fresh: AuditEvent[] = [];
  let after: string | undefined;
  // Newest first: page back until the server has no more (the overlap bounds how far).
  for (let pages = 0; pages < 50; pages++) {
    const page = await auditEvents(options.client, query, after === undefined ? { first: PAGE_SIZE } : { first: PAGE_SIZE, after }, signal);
    fresh.push(...page.nodes.filter((event) => !printed.has(event)));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor || page.nodes.length === 0) break;
    after = page.pageInfo.endCursor;
  }
  return fresh.reverse();
}
