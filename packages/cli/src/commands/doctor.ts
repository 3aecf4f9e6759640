import { ServerCommand } from '../base-command.js';
import { GraphQLClient, normalizeServerUrl } from '../client.js';
import { runChecks, type Check } from '../doctor.js';
import { CliFailure } from '../errors.js';
import { clean, plural } from '../format.js';

const MARK = { ok: 'ok  ', fail: 'FAIL', skipped: '--  ' } as const;

export default class Doctor extends ServerCommand {
  static override summary = 'Check the server, the token and its role, the store and the encryption keys, one line each (exit 1 when any fails).';
  static override description = `The first thing to run when something is off, and the last step of a deployment: is the server up (GET /healthz), is the token valid and which role has it, does the store answer (GET /readyz), and does every stored secret have its encryption key (the encryptionKeys query, as \`keys\` shows it). A check that cannot be made (the keys with an app token, anything past a server that does not answer) is shown as not checked and fails the run too. Exit 0 when every check passed, else 1.`;
  static override examples = [
    { description: 'Check everything', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'In a deployment script', command: '<%= config.bin %> <%= command.id %> --json > doctor.json || echo "the TOTP service needs attention"' },
  ];

  async run(): Promise<{ ok: boolean; checks: Check[] }> {
    const { flags } = await this.parse(Doctor);
    const url = normalizeServerUrl(flags.server);
    const token = flags.token?.trim();
    // No token is a failed check here, not wrong usage: the server and the store are checked anyway.
    const checks = await runChecks(url, token ? new GraphQLClient({ url, token, timeoutMs: 5_000 }) : undefined);
    this.say(checks.map((c) => `${MARK[c.status]}  ${c.check.padEnd(6)}  ${clean(c.detail)}`).join('\n'));
    const failed = checks.filter((c) => c.status !== 'ok');
    const output = { ok: failed.length === 0, checks };
    if (failed.length > 0) {
      throw new CliFailure(`${plural(failed.length, 'check')} did not pass: ${failed.map((c) => c.check).join(', ')}`, {
        code: 'CHECK_FAILED',
        json: output,
      });
    }
    return output;
  }
}
