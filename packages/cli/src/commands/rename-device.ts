import * as Args from '@oclif/core/args';
import { ServerCommand, userIdArg } from '../base-command.js';
import { ApiError } from '../client.js';
import { isBadDeviceId, unknownDevice } from '../devices.js';
import { CliFailure, usageError } from '../errors.js';
import { deviceLabel, shellArg } from '../format.js';
import { renameTotpDevice, type TotpDevice } from '../operations.js';

export default class RenameDevice extends ServerCommand {
  static override summary = "Rename one of a user's devices.";
  static override description = `Gives a device a new name, the label that \`totp-admin devices\` shows and that \`totp-admin enroll --device\` refers to. Names are unique within the user and 1-64 characters long; the id stays the same. A device id the user does not have, or a name already in use, exits with 1.`;
  static override examples = [
    { description: 'Call device 1 of alice "old phone"', command: '<%= config.bin %> <%= command.id %> alice 1 "old phone"' },
  ];
  static override args = {
    userId: userIdArg,
    deviceId: Args.string({ required: true, description: 'the id of the device, as `totp-admin devices <userId>` lists it' }),
    name: Args.string({ required: true, description: "the new name: 1-64 characters, not already used by another of the user's devices" }),
  };

  async run(): Promise<{ userId: string; device: TotpDevice }> {
    const { args, flags } = await this.parse(RenameDevice);
    const { userId, deviceId, name } = args;
    const list = `\`${this.config.bin} devices ${shellArg(userId)}\``;
    if (deviceId.trim() === '') throw usageError('the device id must not be empty', `${list} lists their devices and ids`);
    if (name.trim() === '') throw usageError('the new name must not be empty');
    const client = this.client(flags);
    const device = await renameTotpDevice(client, userId, deviceId, name).catch((error: unknown) => {
      if (isBadDeviceId(error) || (error instanceof ApiError && error.serverCode === 'NOT_ENROLLED')) {
        // Also for a user with no device at all: the listing then says so, and how to enroll.
        throw unknownDevice({ bin: this.config.bin, userId, deviceId, enrolled: true, consequence: 'nothing was renamed' });
      }
      if (error instanceof ApiError && error.serverCode === 'BAD_USER_INPUT' && error.argument === 'name') {
        throw new CliFailure(error.message, { code: error.serverCode, hint: `choose another name (${list} shows the names in use)` });
      }
      throw error;
    });
    this.say(`Renamed device ${device.id} of ${userId}: it is now ${deviceLabel(device)}.`);
    return { userId, device };
  }
}
