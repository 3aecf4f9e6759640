import * as Flags from '@oclif/core/flags';
import { AUDIT_EVENT_TYPES, type AuditEventType } from '@totp-service/core';
import { ServerCommand } from '../base-command.js';
import { csvLine } from '../csv.js';
import { followAudit } from '../audit-follow.js';
import { usageError } from '../errors.js';
import { pageSizeFlag } from '../flags.js';
import { AUDIT_COLUMNS, auditLine, auditTable, plural } from '../format.js';
import { auditEvents, collectPages, type AuditEvent, type AuditFilter } from '../operations.js';
import { parseMoment } from '../time.js';

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
  static override description = `Every enroll, verify (with its outcome), revoke, lockout, unlock, import, recovery, rekey and device rename event, with who did it (the API key's name), from which client address, when, and the id of the device it was about (the DEVICE column; deviceId in CSV and JSON). Newest first, up to --limit, as a table, CSV or JSON. --since and --until take an ISO-8601 time (UTC unless it names a zone) or a span back from now: 30s, 15m, 24h, 7d, 2w, 1h30m.

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

    const { nodes, more, endCursor } = await collectPages((page) => auditEvents(client, filter, page), flags.limit, flags['page-size']);
    if (flags.follow) {
      if (flags.csv) this.log(csvLine(AUDIT_COLUMNS));
      await followAudit({
        client,
        filter,
        initial: nodes,
        rest: more ? endCursor : null,
        intervalSeconds: flags.interval,
        // Straight to stdout: with --json, the stream is JSON Lines (this.log is silent there).
        print: (e) => {
          const line = this.jsonEnabled() ? JSON.stringify(e) : flags.csv ? csvLine(AUDIT_COLUMNS.map((c) => e[c])) : auditLine(e);
          process.stdout.write(`${line}\n`);
        },
        warn: (line) => this.note(`${this.config.bin}: ${line}`),
      });
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
}
