import { type Command } from '@oclif/core/command';
import { Help } from '@oclif/core/help';

/**
 * Root help that lists the commands by purpose rather than alphabetically, and ends with the
 * environment and exit statuses that every command shares (API.md "Admin CLI").
 */
const GROUPS: readonly (readonly [string, readonly string[]])[] = [
  ['USER FACTORS', ['enroll', 'verify', 'status', 'revoke', 'unlock', 'recovery-codes']],
  ['OPERATIONS (admin key)', ['list', 'audit', 'import', 'rekey']],
  ['LOCAL TOOLS (no server)', ['code', 'keygen']],
];

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
      '1  refused or failed (verify: any other outcome; status: nothing enrolled)',
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

  protected override async showRootHelp(): Promise<void> {
    await super.showRootHelp();
    this.log(FOOTER.map(([title, body]) => this.section(title, body)).join('\n\n'));
    this.log('');
  }

  private renderGroup(title: string, commands: readonly Command.Loadable[]): string {
    if (commands.length === 0) return '';
    const body = this.renderList(
      commands.map((c) => [c.id, this.summary(c) ?? '']),
      { indentation: 2, spacer: '\n', stripAnsi: this.opts.stripAnsi },
    );
    return this.section(title, body);
  }
}
