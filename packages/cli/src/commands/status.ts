import { ServerCommand, userIdArg } from '../base-command.js';
import { CliFailure } from '../errors.js';
import { shellArg, stateBlock } from '../format.js';
import { totpStatus, type TotpState } from '../operations.js';

export default class Status extends ServerCommand {
  static override summary = "Show one user's state (exit 1 when nothing is enrolled).";
  static override description = `Shows whether the user's factor is PENDING or ACTIVE, its parameters, when it was last verified, the failures counted towards a lockout, any lockout, how many recovery codes are left, and each of the user's devices (as \`totp-admin devices\` lists them); with several devices, the parameters are those of the oldest ACTIVE one. Never shows a secret. A user with nothing enrolled exits with 1, so scripts can test enrollment with the exit status.`;
  static override examples = [
    { description: "alice's state", command: '<%= config.bin %> <%= command.id %> alice' },
    { description: 'Is bob enrolled?', command: '<%= config.bin %> <%= command.id %> bob --json >/dev/null && echo enrolled' },
  ];
  static override args = { userId: userIdArg };

  async run(): Promise<TotpState> {
    const { args, flags } = await this.parse(Status);
    const state = await totpStatus(this.client(flags), args.userId);
    if (!state) {
      throw new CliFailure(`nothing is enrolled for ${args.userId}`, {
        code: 'NOT_ENROLLED',
        hint: `enroll with \`${this.config.bin} enroll ${shellArg(args.userId)}\``,
      });
    }
    this.say(stateBlock(state));
    return state;
  }
}
