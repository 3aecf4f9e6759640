import { ServerCommand, userIdArg } from '../base-command.js';
import { CliFailure } from '../errors.js';
import { stateBlock } from '../format.js';
import { unlockTotp, type TotpState } from '../operations.js';

export default class Unlock extends ServerCommand {
  static override summary = "Clear a user's lockout and failure count (admin).";
  static override description = `Ends a lockout at once and resets the count of failed attempts, for a user who proved who they are another way. Prints the user's state afterwards. A user with nothing enrolled exits with 1. Needs an admin key.`;
  static override examples = [
    { description: 'Unlock alice', command: '<%= config.bin %> <%= command.id %> alice' },
  ];
  static override args = { userId: userIdArg };

  async run(): Promise<TotpState> {
    const { args, flags } = await this.parse(Unlock);
    const state = await unlockTotp(this.client(flags), args.userId);
    if (!state) throw new CliFailure(`nothing is enrolled for ${args.userId}, so there is nothing to unlock`, { code: 'NOT_ENROLLED' });
    this.say(`Unlocked ${args.userId}.\n\n${stateBlock(state)}`);
    return state;
  }
}
