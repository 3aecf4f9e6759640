import { setTimeout as sleep } from 'node:timers/promises';
import * as Flags from '@oclif/core/flags';
import { ServerCommand } from '../base-command.js';
import type { GraphQLClient } from '../client.js';
import { csvLine } from '../csv.js';
import { CliFailure, usageError } from '../errors.js';
import { pageSizeFlag } from '../flags.js';
import { AUDIT_COLUMNS, auditLine, auditTable, plural } from '../format.js';
import {
  AUDIT_EVENT_TYPES,
  auditEvents,
  collectPages,
  PAGE_SIZE,
  type AuditEvent,
  type AuditEventType,
  type AuditFilter,
} from '../operations.js';
import { parseMoment } from '../time.js';

/** Failures that a follower rides out (a server restarting, Redis failing over). */
const TRANSIENT = new Set(['SERVER_UNREACHABLE', 'SERVER_TIMEOUT', 'SERVICE_UNAVAILABLE']);
/** Events may be recorded slightly out of order across servers: look back this far each poll. */
const OVERLAP_MS = 5_000;

const typeFlag = Flags.custom<AuditEventType>({
  description: `only events of this type (repeatable, or comma-separated): ${AUDIT_EVENT_TYPES.join(', ')}`,
  helpValue: '<type>',
  multiple: true,
  delimiter: ',',
  parse: async (input) => {
    const value = input.trim().toUpperCase().replaceAll('-', '_');
    if ((AUDIT_EVENT_TYPES as readonly string[]).includes(value)) return value as AuditEventType;
    throw usageError(`--type ${JSON.stringify(input)} is not an audit event type`, `use one of ${AUDIT_EVENT_TYPES.join(', ')}`);
  },
});

interface AuditResult {
  events: AuditEvent[];
  /** More events match past --limit. */
  more: boolean;
}

export default class Audit extends ServerCommand {
  static override summary = 'Read the audit log, newest first, or follow it (admin).';
  static override description = `Every enroll, verify (with its outcome), revoke, lockout, unlock, import, recovery and rekey event, with who did it (the API key's name), from which client address and when. Newest first, up to --limit, as a table, CSV or JSON. --since and --until take an ISO-8601 time (UTC unless it names a zone) or a span back from now: 30s, 15m, 24h, 7d, 2w, 1h30m.

--follow first prints the latest --limit events, oldest first, then each new event as it is recorded, until Ctrl-C (exit 0). With --json it prints one JSON object per line (JSON Lines), as a stream cannot be a single document. Needs an admin key.`;
  static override examples = [
    { description: "The latest events", command: '<%= config.bin %> <%= command.id %>' },
    { description: "alice's failed and locked-out attempts of the last day", command: '<%= config.bin %> <%= command.id %> --user alice --type verify --type locked --since 24h' },
    { description: 'A week of enrollments as CSV', command: '<%= config.bin %> <%= command.id %> --type enrolled,activated --since 7d --limit 10000 --csv > enrollments.csv' },
    { description: 'Watch events as they happen', command: '<%= config.bin %> <%= command.id %> --follow' },
  ];
  static override flags = {
    user: Flags.string({ description: "only this user's events", helpValue: '<userId>' }),
    type: typeFlag(),
    since: Flags.string({ description: 'only events at or after this time (ISO-8601 or a span ago: 15m, 24h, 7d)', helpValue: '<time>' }),
    until: Flags.string({ description: 'only events before this time (ISO-8601 or a span ago)', helpValue: '<time>', exclusive: ['follow'] }),
    limit: Flags.integer({ description: 'at most this many events (with --follow: how many past events to show first)', default: 50, min: 1, helpValue: '<n>' }),
    csv: Flags.boolean({ description: 'print CSV (a header line, then one line per event)', exclusive: ['json'] }),
    follow: Flags.boolean({ char: 'f', description: 'keep printing new events as they are recorded, until interrupted (Ctrl-C)' }),
    interval: Flags.integer({ description: 'with --follow: seconds between polls', default: 2, min: 1, helpValue: '<s>' }),
    'page-size': pageSizeFlag,
  };

  async run(): Promise<AuditResult | undefined> {
    const { flags } = await this.parse(Audit);
    const now = new Date();
    const filter: AuditFilter = {};
    if (flags.user !== undefined) filter.userId = flags.user;
    if (flags.type?.length) filter.types = [...new Set(flags.type)];
    if (flags.since !== undefined) filter.since = parseMoment(flags.since, '--since', now).toISOString();
    if (flags.until !== undefined) filter.until = parseMoment(flags.until, '--until', now).toISOString();
    if (filter.since && filter.until && filter.since > filter.until) throw usageError('--since is later than --until');
    const client = this.client(flags);

    const { nodes, more } = await collectPages((page) => auditEvents(client, filter, page), flags.limit, flags['page-size']);
    if (flags.follow) {
      await this.follow(client, filter, nodes, flags);
      return undefined;
    }
    if (flags.csv) {
      this.log([csvLine(AUDIT_COLUMNS), ...nodes.map((e) => csvLine(AUDIT_COLUMNS.map((c) => e[c])))].join('\n'));
    } else if (nodes.length === 0) {
      this.say('No matching events.');
    } else {
      this.say(`${auditTable(nodes)}\n\n${plural(nodes.length, 'event')}${more ? ` shown; more match (raise --limit, now ${flags.limit}, or narrow --since)` : ''}.`);
    }
    return { events: nodes, more };
  }

  /** Print `initial` oldest first, then poll for newer events until SIGINT or SIGTERM. */
  private async follow(
    client: GraphQLClient,
    filter: AuditFilter,
    initial: AuditEvent[],
    flags: { csv: boolean; interval: number },
  ): Promise<void> {
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const print = (e: AuditEvent): void => {
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(e)}\n`);
      else if (flags.csv) process.stdout.write(`${csvLine(AUDIT_COLUMNS.map((c) => e[c]))}\n`);
      else process.stdout.write(`${auditLine(e)}\n`);
    };
    if (flags.csv) process.stdout.write(`${csvLine(AUDIT_COLUMNS)}\n`);
    // id → time of every event printed within the overlap, so that the overlap prints nothing twice.
    const seen = new Map<string, number>();
    let watermark = filter.since ? Date.parse(filter.since) : 0;
    const record = (e: AuditEvent): void => {
      const at = Date.parse(e.at);
      seen.set(e.id, at);
      watermark = Math.max(watermark, at);
    };
    for (const e of [...initial].reverse()) {
      record(e);
      print(e);
    }
    let warned = false;
    try {
      while (!stop.signal.aborted) {
        await sleep(flags.interval * 1000, undefined, { signal: stop.signal });
        let fresh: AuditEvent[];
        try {
          fresh = await this.newEvents(client, filter, watermark, seen, stop.signal);
        } catch (error) {
          if (stop.signal.aborted) break;
          if (!(error instanceof CliFailure) || !TRANSIENT.has(error.code)) throw error;
          if (!warned) this.note(`${this.config.bin}: ${error.line()} (still following; retrying every ${flags.interval} s)`);
          warned = true;
          continue;
        }
        warned = false;
        for (const e of fresh) {
          record(e);
          print(e);
        }
        for (const [id, at] of seen) if (at < watermark - OVERLAP_MS) seen.delete(id);
      }
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  /** Events since the watermark (less the overlap) not printed yet, oldest first. */
  private async newEvents(
    client: GraphQLClient,
    filter: AuditFilter,
    watermark: number,
    seen: ReadonlyMap<string, number>,
    signal: AbortSignal,
  ): Promise<AuditEvent[]> {
    const since = watermark > 0 ? new Date(Math.max(0, watermark - OVERLAP_MS)).toISOString() : filter.since;
    const query: AuditFilter = { ...filter, ...(since ? { since } : {}) };
    const fresh: AuditEvent[] = [];
    let after: string | undefined;
    // Newest first: page back until the events already printed, or the overlap, are reached.
    for (let pages = 0; pages < 50; pages++) {
      const page = await auditEvents(client, query, after === undefined ? { first: PAGE_SIZE } : { first: PAGE_SIZE, after }, signal);
      fresh.push(...page.nodes.filter((e) => !seen.has(e.id)));
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor || page.nodes.length === 0) break;
      after = page.pageInfo.endCursor;
    }
    return fresh.reverse();
  }
}
