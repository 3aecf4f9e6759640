import { createHash, randomBytes } from 'node:crypto';
import * as Flags from '@oclif/core/flags';
import { LocalCommand } from '../base-command.js';
import { usageError } from '../errors.js';
import { keyValues } from '../format.js';

export default class Keygen extends LocalCommand {
  static override summary = 'Make a new API token, locally, with its TOTP_API_KEYS entry.';
  static override description = `Generates a random token (256 bits from the operating system's CSPRNG) and prints it with the entry name:role:sha256:<hex> to add to the server's TOTP_API_KEYS (comma-separated). The server then holds only the hash; give the token to the application or operator, and keep no other copy. Nothing is sent anywhere.`;
  static override examples = [
    { description: 'A key for a web shop backend', command: '<%= config.bin %> <%= command.id %> --name shop --role app' },
    { description: 'An operator key, as JSON', command: '<%= config.bin %> <%= command.id %> --name ops --role admin --json' },
  ];
  static override flags = {
    name: Flags.string({ description: "the key's name, shown as the actor in audit events (letters, digits, . _ - @)", required: true, helpValue: '<name>' }),
    role: Flags.option({ description: 'app: enroll, verify, revoke, status, recovery codes; admin: all of that plus list, audit, unlock, import, export, rekey', options: ['app', 'admin'] as const, required: true })(),
  };

  async run(): Promise<{ name: string; role: 'app' | 'admin'; token: string; sha256: string; entry: string }> {
    const { flags } = await this.parse(Keygen);
    // The entry is split on "," and ":" by the server, so the name may hold neither.
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(flags.name)) {
      throw usageError(`--name ${JSON.stringify(flags.name)} may hold only letters, digits, ".", "_", "-" and "@" (1-64 of them)`);
    }
    const token = `totp_${randomBytes(32).toString('base64url')}`;
    const sha256 = createHash('sha256').update(token, 'utf8').digest('hex');
    const entry = `${flags.name}:${flags.role}:sha256:${sha256}`;
    this.say(
      [
        keyValues([
          ['Token', token],
          ['TOTP_API_KEYS entry', entry],
        ]),
        '',
        'Give the token to its user (as TOTP_TOKEN or a Bearer header); it is shown only now.',
        'Add the entry to TOTP_API_KEYS on every server (comma-separated with the others) and restart them.',
      ].join('\n'),
    );
    return { name: flags.name, role: flags.role, token, sha256, entry };
  }
}
