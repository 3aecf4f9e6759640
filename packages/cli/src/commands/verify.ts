import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { ServerCommand, userIdArg } from '../base-command.js';
import { CliFailure } from '../errors.js';
import { deviceLabel, shellArg } from '../format.js';
import { verifyTotp, type VerifyTotpResult } from '../operations.js';

export default class Verify extends ServerCommand {
  static override summary = "Verify a user's code (exit 0 only when ACCEPTED).";
  static override description = `Checks a code as an application would at login, against every device of the user, and names the device whose code it was: the first accepted code of a PENDING device makes it ACTIVE. Every outcome but ACCEPTED exits with 1 and says why on stderr (INVALID_CODE, REPLAYED, LOCKED, RATE_LIMITED, NOT_ENROLLED, MALFORMED); a wrong or replayed code counts as a failure towards the lockout, like any other verify.`;
  static override examples = [
    { description: 'Confirm a new enrollment with the code the app shows', command: '<%= config.bin %> <%= command.id %> alice 492039' },
    { description: 'Check on behalf of a client address (held to TOTP_CLIENT_LIMIT)', command: '<%= config.bin %> <%= command.id %> alice "492 039" --client-ip 203.0.113.7' },
    { description: 'Use the exit status in a script', command: '<%= config.bin %> <%= command.id %> alice "$CODE" --json > result.json && echo ok' },
  ];
  static override args = {
    userId: userIdArg,
    code: Args.string({ required: true, description: 'the 6-8 digit code (spaces are ignored)' }),
  };
  static override flags = {
    'client-ip': Flags.string({ description: "the end user's address, for the per-client rate limit and the audit log", helpValue: '<ip>' }),
  };

  async run(): Promise<VerifyTotpResult & { userId: string }> {
    const { args, flags } = await this.parse(Verify);
    const result = await verifyTotp(this.client(flags), args.userId, args.code, flags['client-ip']);
    const output = { userId: args.userId, ...result };
    if (result.outcome === 'ACCEPTED') {
      this.say(accepted(args.userId, result));
      return output;
    }
    throw new CliFailure(this.explain(args.userId, result), { code: result.outcome, json: output });
  }

  /** One line per outcome, naming the next step (docs/api.md VerifyOutcome). */
  private explain(userId: string, r: VerifyTotpResult): string {
    const user = shellArg(userId);
    const left = r.remainingAttempts === null ? '' : r.remainingAttempts === 0
      ? '; that was the last attempt: the user is now locked out'
      : `; ${r.remainingAttempts} attempt${r.remainingAttempts === 1 ? '' : 's'} left before a lockout`;
    const retry = r.retryAfterSeconds === null ? 'later'
      : `in ${r.retryAfterSeconds} s (after ${new Date(Date.now() + r.retryAfterSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')})`;
    switch (r.outcome) {
      case 'INVALID_CODE':
        return `INVALID_CODE: wrong code${left}`;
      case 'REPLAYED':
        return `REPLAYED: this code (or a later one) was already used; wait for the next code${left}`;
      case 'LOCKED':
        return `LOCKED: too many failed attempts; retry ${retry}, or clear the lockout with \`${this.config.bin} unlock ${user}\``;
      case 'RATE_LIMITED':
        return `RATE_LIMITED: this client address used its attempts for now; retry ${retry}`;
      case 'NOT_ENROLLED':
        return `NOT_ENROLLED: nothing is enrolled for ${userId} (or the pending enrollment expired); enroll with \`${this.config.bin} enroll ${user}\``;
      case 'MALFORMED':
        return 'MALFORMED: the code must be the enrolled number of ASCII digits (6-8); this did not count as a failure';
      default:
        return `${r.outcome}: the code was not accepted`;
    }
  }
}

/** `ACCEPTED: the code is valid, from device "phone" (id 1).`, with any drift and activation. */
function accepted(userId: string, r: VerifyTotpResult): string {
  const device = r.deviceId === null ? '' : `, from device ${deviceLabel({ id: r.deviceId, name: r.deviceName ?? '' })}`;
  const drift = r.driftSteps ? `, with a clock drift of ${r.driftSteps > 0 ? '+' : ''}${r.driftSteps} step` : '';
  const activated = r.activated ? ` ${device ? `That device of ${userId}` : userId} is now ACTIVE.` : '';
  return `ACCEPTED: the code is valid${device}${drift}.${activated}`;
}
