import * as Flags from '@oclif/core/flags';
import { ServerCommand } from '../base-command.js';
import { pageSizeFlag } from '../flags.js';
import { plural, shortParams, table, time } from '../format.js';
import { collectPages, totpEnrollments, type TotpState, type TotpStatus } from '../operations.js';

interface ListResult {
  enrollments: TotpState[];
  /** More enrollments exist past --limit. */
  more: boolean;
}

export default class List extends ServerCommand {
  static override summary = 'List enrollments, pending and active (admin).';
  static override description = `A table of the enrolled users and their state, fetched page by page up to --limit: how many devices each has, and the codes, creation and last verify of the oldest ACTIVE one. \`totp-admin devices <userId>\` lists one user's devices. Needs an admin key.`;
  static override examples = [
    { description: 'The first 100 enrollments', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Enrollments never confirmed', command: '<%= config.bin %> <%= command.id %> --status pending' },
    { description: 'Every active user id, for a script', command: "<%= config.bin %> <%= command.id %> --status active --limit 100000 --json | jq -r '.enrollments[].userId'" },
  ];
  static override flags = {
    status: Flags.option({ description: 'only enrollments in this state', options: ['pending', 'active'] as const })(),
    limit: Flags.integer({ description: 'at most this many enrollments', default: 100, min: 1, helpValue: '<n>' }),
    'page-size': pageSizeFlag,
  };

  async run(): Promise<ListResult> {
    const { flags } = await this.parse(List);
    const client = this.client(flags);
    const status = flags.status?.toUpperCase() as TotpStatus | undefined;
    const { nodes, more } = await collectPages(
      (page) => totpEnrollments(client, { ...page, ...(status ? { status } : {}) }),
      flags.limit,
      flags['page-size'],
    );
    if (nodes.length === 0) {
      this.say(status ? `No ${status} enrollments.` : 'No enrollments.');
    } else {
      this.say(
        table(
          ['USER', 'STATUS', 'DEVICES', 'CODES', 'CREATED', 'LAST VERIFIED', 'FAILURES', 'LOCKED UNTIL'],
          nodes.map((s) => [
            s.userId,
            s.status,
            s.devices.length,
            shortParams(s),
            time(s.createdAt),
            time(s.lastVerifiedAt) || 'never',
            s.failedAttempts,
            s.lockedUntil && new Date(s.lockedUntil).getTime() > Date.now() ? time(s.lockedUntil) : '',
          ]),
        ),
      );
      this.say(`\n${plural(nodes.length, 'enrollment')}${more ? ` shown; more exist (raise --limit, now ${flags.limit})` : ''}.`);
    }
    return { enrollments: nodes, more };
  }
}
