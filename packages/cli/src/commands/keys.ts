import { ServerCommand } from '../base-command.js';
import { keyAdvice, keysTable } from '../keys.js';
import { encryptionKeys, type EncryptionKeyUsage } from '../operations.js';

export default class Keys extends ServerCommand {
  static override summary = 'List the encryption keys: how many stored values each seals, and which the server has (admin).';
  static override description = `Every key id that seals a stored secret or recovery code, and every key in the server's TOTP_ENCRYPTION_KEYS, with the number of values it seals, whether the server has it (CONFIGURED) and which one seals new values (ACTIVE). Below the table, what to do about any key that needs it: one that seals values but is missing (those users cannot verify until it is added back), one that still seals values after a rotation (\`rekey\` moves them), one that seals nothing (it can be removed). Never shows key material. Needs an admin key; \`doctor\` exits with 1 when a key is missing.`;
  static override examples = [
    { description: 'The keys and their counts', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Can k1 be removed? (it seals nothing)', command: `<%= config.bin %> <%= command.id %> --json | jq '.keys[] | select(.keyId == "k1") | .sealedValues == 0'` },
  ];

  async run(): Promise<{ keys: EncryptionKeyUsage[] }> {
    const { flags } = await this.parse(Keys);
    const keys = await encryptionKeys(this.client(flags));
    const advice = keyAdvice(keys, this.config.bin);
    this.say(advice.length ? `${keysTable(keys)}\n\n${advice.join('\n')}` : keysTable(keys));
    return { keys };
  }
}
