import { ServerCommand } from '../base-command.js';
import { plural } from '../format.js';
import { rekeyTotp, type RekeyResult } from '../operations.js';

export default class Rekey extends ServerCommand {
  static override summary = 'Re-encrypt every stored secret with the active encryption key (admin).';
  static override description = `After a new key is put first in TOTP_ENCRYPTION_KEYS (and every server restarted with it), this re-encrypts all secrets sealed with older keys, so that those keys can then be removed from the list. Safe to run again; codes keep working throughout. Needs an admin key.`;
  static override examples = [
    { description: 'Rotate: put k2 first in TOTP_ENCRYPTION_KEYS="k2:…,k1:…", restart, then', command: '<%= config.bin %> <%= command.id %>' },
  ];

  async run(): Promise<RekeyResult> {
    const { flags } = await this.parse(Rekey);
    const result = await rekeyTotp(this.client(flags));
    this.say(
      `Re-encrypted ${plural(result.rekeyed, 'secret')} with key ${result.activeKeyId}. Keys other than ${result.activeKeyId} can now be removed from TOTP_ENCRYPTION_KEYS.`,
    );
    return result;
  }
}
