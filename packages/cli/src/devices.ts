/**
 * What the device commands (revoke --device, rename-device) share: an id that names no device of
 * the user is refused (exit 1) in one line that names the command listing the user's devices.
 */
import { ApiError } from './client.js';
import { CliFailure } from './errors.js';
import { shellArg } from './format.js';

/**
 * The server refuses an id not of the form it makes with BAD_USER_INPUT naming deviceId; to the
 * person at the terminal that is an id no device of the user has, like any other unknown id.
 */
export function isBadDeviceId(error: unknown): boolean {
  return error instanceof ApiError && error.serverCode === 'BAD_USER_INPUT' && error.argument === 'deviceId';
}

export interface UnknownDevice {
  readonly bin: string;
  readonly userId: string;
  readonly deviceId: string;
  /** Whether the user has any device at all: then the hint lists them, else it checks the user id. */
  readonly enrolled: boolean;
  /** What did not happen: `nothing was revoked`. */
  readonly consequence: string;
  /** The `--json` document, when the command has one for this case. */
  readonly json?: unknown;
}

/** NOT_ENROLLED (exit 1) for a device id the user does not have. */
export function unknownDevice(u: UnknownDevice): CliFailure {
  const user = shellArg(u.userId);
  const message = u.enrolled
    ? `${u.userId} has no device with id ${JSON.stringify(u.deviceId)}, so ${u.consequence}`
    : `nothing is enrolled for ${u.userId}, so ${u.consequence}`;
  const hint = u.enrolled
    ? `\`${u.bin} devices ${user}\` lists their devices and ids`
    : `check the id with \`${u.bin} status ${user}\``;
  return new CliFailure(message, { code: 'NOT_ENROLLED', hint, ...(u.json === undefined ? {} : { json: u.json }) });
}
