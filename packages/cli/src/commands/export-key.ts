import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import * as Flags from '@oclif/core/flags';
import { LocalCommand } from '../base-command.js';
import { CliFailure } from '../errors.js';
import { keyValues } from '../format.js';

export default class ExportKey extends LocalCommand {
  static override summary = 'Make an age identity for exports, locally, and print its recipient.';
  static override description = `Writes a new X25519 age identity to --out (created with mode 600, never over an existing file), in the format of \`age-keygen -o\`, so that \`age\` and \`totp-admin export --identity\` both read it, and prints its recipient (age1…) for the server's TOTP_EXPORT_RECIPIENTS (comma-separated with the other operators'). The same as \`age-keygen -o key.txt\` where age is not installed. Nothing is sent anywhere; keep the file safe: whoever holds it can read every export made to its recipient.`;
  static override examples = [
    { description: 'Make an identity and show the line for the server', command: '<%= config.bin %> <%= command.id %> --out key.txt' },
    { description: 'Then, with TOTP_EXPORT_RECIPIENTS set on the server', command: '<%= config.bin %> export --identity key.txt --out factors.json' },
  ];
  static override flags = {
    out: Flags.string({ char: 'o', description: 'the identity file to create (mode 600)', required: true, helpValue: '<file>' }),
  };

  async run(): Promise<{ file: string; recipient: string; entry: string }> {
    const { flags } = await this.parse(ExportKey);
    const age = await import('age-encryption');
    const identity = await age.generateIdentity();
    const recipient = await age.identityToRecipient(identity);
    const text = `# created: ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}\n# public key: ${recipient}\n${identity}\n`;
    try {
      const handle = await open(flags.out, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await handle.writeFile(text);
      await handle.close();
    } catch (error) {
      const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
      throw new CliFailure(exists ? `${flags.out} exists; nothing was written` : `cannot write ${flags.out}: ${(error as Error).message}`, {
        code: exists ? 'OUT_EXISTS' : 'WRITE_FAILED',
        hint: exists ? 'name another file with --out (an identity is never overwritten: exports made to it would be lost)' : 'choose a directory you can write to',
      });
    }
    const entry = `TOTP_EXPORT_RECIPIENTS=${recipient}`;
    this.say(
      [
        keyValues([
          ['Identity', `${flags.out} (mode 600)`],
          ['Recipient', recipient],
        ]),
        '',
        `Set ${entry} on the server (comma-separated with other operators' recipients) and restart it;`,
        `then \`${this.config.bin} export --identity ${flags.out}\` decrypts its exports. Keep ${flags.out} safe.`,
      ].join('\n'),
    );
    return { file: flags.out, recipient, entry };
  }
}
