import { ServerCommand, userIdArg } from '../base-command.js';
import { CliFailure } from '../errors.js';
import { devicesTable, plural, shellArg } from '../format.js';
import { totpStatus, type TotpDevice } from '../operations.js';

export default class Devices extends ServerCommand {
  static override summary = "List a user's devices: id, name, status, codes and when each was last used.";
  static override description = `A user may have several devices (a phone and a backup phone, say), each with its own secret. This lists them, oldest first, with the id that \`totp-admin revoke --device\` and \`totp-admin rename-device\` take, the name, PENDING or ACTIVE, the code parameters, when each was created, activated and last used, and when a pending secret (a new device's, or a replacement's) lapses. Never shows a secret. A user with nothing enrolled exits with 1.`;
  static override examples = [
    { description: "alice's devices", command: '<%= config.bin %> <%= command.id %> alice' },
    { description: 'The id of the device named "backup", for a script', command: `<%= config.bin %> <%= command.id %> alice --json | jq -r '.devices[] | select(.name == "backup") | .id'` },
  ];
  static override args = { userId: userIdArg };

  async run(): Promise<{ userId: string; devices: TotpDevice[] }> {
    const { args, flags } = await this.parse(Devices);
    const state = await totpStatus(this.client(flags), args.userId);
    if (!state) {
      throw new CliFailure(`nothing is enrolled for ${args.userId}`, {
        code: 'NOT_ENROLLED',
        hint: `enroll with \`${this.config.bin} enroll ${shellArg(args.userId)}\``,
      });
    }
    this.say(`${devicesTable(state.devices)}\n\n${plural(state.devices.length, 'device')}.`);
    return { userId: state.userId, devices: state.devices };
  }
}
