import { ServerCommand, userIdArg } from '../base-command.js';
import { time } from '../format.js';
import { generateRecoveryCodes, type RecoveryCodes } from '../operations.js';

export default class RecoveryCodesCommand extends ServerCommand {
  static override summary = 'Generate a new set of recovery codes for a user and print it.';
  static override description = `Makes ten single-use recovery codes for a user who may lose their authenticator, and prints them once: the server keeps only their hashes. A new set replaces any earlier one, whose codes stop working. Give the codes to the user to store offline.`;
  static override examples = [
    { description: 'New codes for alice', command: '<%= config.bin %> <%= command.id %> alice' },
    { description: 'As JSON, for a provisioning script', command: '<%= config.bin %> <%= command.id %> alice --json' },
  ];
  static override args = { userId: userIdArg };

  async run(): Promise<RecoveryCodes & { userId: string }> {
    const { args, flags } = await this.parse(RecoveryCodesCommand);
    const result = await generateRecoveryCodes(this.client(flags), args.userId);
    this.say(
      [
        `Recovery codes for ${args.userId} (generated ${time(result.generatedAt)}; each works once; earlier codes no longer work):`,
        '',
        ...result.codes.map((code) => `  ${code}`),
        '',
        'They are shown only now: hand them to the user to keep offline.',
      ].join('\n'),
    );
    return { userId: args.userId, ...result };
  }
}
