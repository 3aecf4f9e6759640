import * as Flags from '@oclif/core/flags';
import { ServerCommand, userIdArg } from '../base-command.js';
import { type GraphQLClient } from '../client.js';
import { isBadDeviceId, unknownDevice } from '../devices.js';
import { CliFailure, EXIT, usageError } from '../errors.js';
import { deviceLabel, shellArg } from '../format.js';
import { revokeTotp, totpStatus } from '../operations.js';

interface RevokeResult {
  userId: string;
  /** With --device: the device revoked (or asked for). */
  deviceId?: string;
  deviceName?: string;
  revoked: boolean;
}

/** Asks the question and returns when the answer is yes; throws when it is not. */
type Ask = (question: string) => Promise<void>;

export default class Revoke extends ServerCommand {
  static override summary = "Revoke a user's factor, or one device with --device (asks first on a terminal unless --yes).";
  static override description = `Removes the user's TOTP factor, pending or active: every device, and the recovery codes with them. Codes from their apps stop working at once. With --device, only that device goes (its id, as \`totp-admin devices\` lists it); removing the last one removes the recovery codes too.

On a terminal it asks for confirmation, naming the device; without a terminal (a script, a pipe, CI) it refuses to act unless --yes is given, so that nothing is revoked by accident. A user with nothing enrolled, or without that device, exits with 1.`;
  static override examples = [
    { description: 'Revoke after confirming at the prompt', command: '<%= config.bin %> <%= command.id %> alice --reason "lost phone"' },
    { description: 'Revoke one device only (ids from `totp-admin devices alice`)', command: '<%= config.bin %> <%= command.id %> alice --device 1 --reason "lost the backup phone"' },
    { description: 'In a script: no prompt', command: '<%= config.bin %> <%= command.id %> alice --yes --reason "account closed" --json' },
  ];
  static override args = { userId: userIdArg };
  static override flags = {
    device: Flags.string({ description: 'revoke only this device: its id, as `totp-admin devices <userId>` lists it', helpValue: '<id>' }),
    reason: Flags.string({ description: 'why, recorded in the audit log', helpValue: '<text>' }),
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation (required when stdin is not a terminal)' }),
  };

  async run(): Promise<RevokeResult> {
    const { args, flags } = await this.parse(Revoke);
    const client = this.client(flags);
    const { userId } = args;
    if (flags.device !== undefined && flags.device.trim() === '') {
      throw usageError('--device must not be empty', `pass a device id, as \`${this.config.bin} devices ${shellArg(userId)}\` lists them`);
    }
    // Wrong usage (no terminal to ask on, and no --yes) is found before the server is asked anything.
    const ask = await this.asker(flags.yes, userId);
    if (flags.device !== undefined) return this.revokeDevice(client, userId, flags.device, flags.reason, ask);
    await ask(`Revoke the TOTP factor of ${userId}? Codes from all their devices stop working, and their recovery codes are removed.`);
    const revoked = await revokeTotp(client, userId, { reason: flags.reason });
    const result = { userId, revoked };
    if (!revoked) {
      throw new CliFailure(`nothing is enrolled for ${userId}, so nothing was revoked`, {
        code: 'NOT_ENROLLED',
        hint: `check the id with \`${this.config.bin} status ${shellArg(userId)}\``,
        json: result,
      });
    }
    this.say(`Revoked the factor of ${userId}.`);
    return result;
  }

  /** One device: looked up first, so that the prompt names it and an unknown id fails before any prompt. */
  private async revokeDevice(client: GraphQLClient, userId: string, deviceId: string, reason: string | undefined, ask: Ask): Promise<RevokeResult> {
    const devices = (await totpStatus(client, userId))?.devices ?? [];
    const device = devices.find((d) => d.id === deviceId);
    const unknown = (enrolled: boolean): CliFailure =>
      unknownDevice({
        bin: this.config.bin,
        userId,
        deviceId,
        enrolled,
        consequence: 'nothing was revoked',
        json: { userId, deviceId, revoked: false } satisfies RevokeResult,
      });
    if (!device) throw unknown(devices.length > 0);
    const last = devices.length === 1;
    const recovery = last ? ' It is their last device: their recovery codes are removed too.' : '';
    await ask(`Revoke device ${deviceLabel(device)} of ${userId}? Codes from that device stop working.${recovery}`);
    const revoked = await revokeTotp(client, userId, { reason, deviceId }).catch((error: unknown) => {
      throw isBadDeviceId(error) ? unknown(true) : error;
    });
    // Gone between the look-up and the revoke: revoked by someone else meanwhile.
    if (!revoked) throw unknown(true);
    this.say(`Revoked device ${deviceLabel(device)} of ${userId}.${last ? ` That was their last device: nothing is enrolled for ${userId} now.` : ''}`);
    return { userId, deviceId: device.id, deviceName: device.name, revoked };
  }

  /** With --yes, asking is a no-op; without it, there must be a terminal to ask on. */
  private async asker(yes: boolean, userId: string): Promise<Ask> {
    if (yes) return async () => {};
    const { canPrompt, confirm } = await import('../prompt.js');
    if (!canPrompt()) {
      throw usageError(`not revoking ${userId} without confirmation: stdin is not a terminal`, 'pass --yes to revoke without a prompt');
    }
    return async (question) => {
      if (!(await confirm(question))) throw new CliFailure('cancelled: nothing was revoked', { code: 'CANCELLED', exit: EXIT.FAILED });
    };
  }
}
