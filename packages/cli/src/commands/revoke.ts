import * as Flags from '@oclif/core/flags';
import { ServerCommand, userIdArg } from '../base-command.js';
import { CliFailure, EXIT, usageError } from '../errors.js';
import { shellArg } from '../format.js';
import { revokeTotp } from '../operations.js';

export default class Revoke extends ServerCommand {
  static override summary = "Revoke a user's factor (asks first on a terminal unless --yes).";
  static override description = `Removes the user's TOTP factor, pending or active: codes from their app stop working at once. On a terminal it asks for confirmation; without a terminal (a script, a pipe, CI) it refuses to act unless --yes is given, so that nothing is revoked by accident. A user with nothing enrolled exits with 1.`;
  static override examples = [
    { description: 'Revoke after confirming at the prompt', command: '<%= config.bin %> <%= command.id %> alice --reason "lost phone"' },
    { description: 'In a script: no prompt', command: '<%= config.bin %> <%= command.id %> alice --yes --reason "account closed" --json' },
  ];
  static override args = { userId: userIdArg };
  static override flags = {
    reason: Flags.string({ description: 'why, recorded in the audit log', helpValue: '<text>' }),
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation (required when stdin is not a terminal)' }),
  };

  async run(): Promise<{ userId: string; revoked: boolean }> {
    const { args, flags } = await this.parse(Revoke);
    const client = this.client(flags);
    if (!flags.yes) {
      const { canPrompt, confirm } = await import('../prompt.js');
      if (!canPrompt()) {
        throw usageError(`not revoking ${args.userId} without confirmation: stdin is not a terminal`, 'pass --yes to revoke without a prompt');
      }
      const yes = await confirm(`Revoke the TOTP factor of ${args.userId}? Codes from their authenticator app stop working.`);
      if (!yes) throw new CliFailure('cancelled: nothing was revoked', { code: 'CANCELLED', exit: EXIT.FAILED });
    }
    const revoked = await revokeTotp(client, args.userId, { reason: flags.reason });
    const result = { userId: args.userId, revoked };
    if (!revoked) {
      throw new CliFailure(`nothing is enrolled for ${args.userId}, so nothing was revoked`, {
        code: 'NOT_ENROLLED',
        hint: `check the id with \`${this.config.bin} status ${shellArg(args.userId)}\``,
        json: result,
      });
    }
    this.say(`Revoked the factor of ${args.userId}.`);
    return result;
  }
}
