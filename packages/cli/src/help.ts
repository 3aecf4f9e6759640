import { type Command } from '@oclif/core/command';
import { Help } from '@oclif/core/help';
import { report } from './errors.js';
import { unknownCommand } from './unknown-command.js';

/**
 * Root help that lists the commands by purpose rather than alphabetically, and ends with the
 * environment and exit statuses that every command shares (docs/api.md "Admin CLI").
 */
const GROUPS: readonly (readonly [string, readonly string[]])[] = [
  ['USER FACTORS', ['enroll', 'verify', 'status', 'devices', 'rename-device', 'revoke', 'unlock', 'recovery-codes']],
  ['OPERATIONS (admin key)', ['list', 'audit', 'import', 'export', 'rekey', 'keys', 'doctor']],
  ['LOCAL TOOLS (no server)', ['code', 'keygen', 'export-key']],
  ['HELP AND SHELL', ['help', 'autocomplete', 'version']],
];

/** For the plugins' commands that come without a summary. */
const SUMMARIES: Readonly<Record<string, string>> = {
  version: 'Show the version of totp-admin, Node.js and the platform (--verbose: more).',
};

const FOOTER: readonly (readonly [string, string])[] = [
  [
    'ENVIRONMENT',
    [
      'TOTP_SERVER_URL  GraphQL endpoint (--server); default http://127.0.0.1:4000/graphql',
      'TOTP_TOKEN       API token (--token); an admin key for the operations',
    ].join('\n'),
  ],
  [
    'EXIT STATUS',
    [
      '0  done (verify: ACCEPTED)',
      '1  refused or failed (verify: any other outcome; status: nothing enrolled; doctor: a check did not pass)',
      '2  wrong usage',
    ].join('\n'),
  ],
  ['OUTPUT', 'Every command takes --json: one JSON document on stdout, errors as {"error": {...}}.'],
];

export default class GroupedHelp extends Help {
  protected override formatCommands(commands: Command.Loadable[]): string {
    if (commands.length === 0) return '';
    const byId = new Map(commands.map((c) => [c.id, c]));
    const listed = new Set<string>();
    const sections = GROUPS.map(([title, ids]) => {
      const members = ids.map((id) => byId.get(id)).filter((c): c is Command.Loadable => c !== undefined);
      for (const c of members) listed.add(c.id);
      return this.renderGroup(title, members);
    });
    sections.push(this.renderGroup('OTHER COMMANDS', commands.filter((c) => !listed.has(c.id))));
    return sections.filter(Boolean).join('\n\n');
  }

  /**
   * Help for a command that does not exist (`help enrol`, `enrol --help`) is wrong usage like
   * the command itself: exit 2 and a line naming the command most likely meant.
   */
  override async showHelp(argv: string[]): Promise<void> {
    try {
      await super.showHelp(argv);
    } catch (error) {
      const missing = error instanceof Error ? /^Command (.+) not found\.$/.exec(error.message) : null;
      if (!missing) throw error;
      report(this.config.bin, unknownCommand(this.config, missing[1]!, [], true), argv.includes('--json'));
    }
  }

  protected override async showRootHelp(): Promise<void> {
    await super.showRootHelp();
    this.log(FOOTER.map(([title, body]) => this.section(title, body)).join('\n\n'));
    this.log('');
  }

  private renderGroup(title: string, commands: readonly Command.Loadable[]): string {
    if (commands.length === 0) return '';
    const body = this.renderList(
      commands.map((c) => [c.id, this.summary(c) ?? SUMMARIES[c.id] ?? '']),
      { indentation: 2, spacer: '\n', stripAnsi: this.opts.stripAnsi },
    );
    return this.section(title, body);
  }
}
