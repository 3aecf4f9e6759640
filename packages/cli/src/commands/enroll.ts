import { writeFile } from 'node:fs/promises';
import * as Flags from '@oclif/core/flags';
import { ServerCommand, userIdArg } from '../base-command.js';
import { ApiError } from '../client.js';
import { CliFailure, usageError } from '../errors.js';
import { algorithmFlag, digitsFlag, periodFlag } from '../flags.js';
import { blockWidth, deviceLabel, groupSecret, keyValues, params, shellArg, time } from '../format.js';
import { enrollTotp, type EnrollTotpInput, type TotpEnrollment } from '../operations.js';

/** A terminal QR code wider than this would wrap on a classic terminal and no longer scan. */
const MAX_QR_COLUMNS = 80;

export default class Enroll extends ServerCommand {
  static override summary = 'Enroll a user: print the secret, the otpauth URI and a QR code to scan.';
  static override description = `Creates a PENDING enrollment and shows, once, what the user's authenticator app needs: the secret (grouped by four for typing), the otpauth:// URI and a QR code drawn in the terminal, with the id and name of the device it is for. The enrollment becomes ACTIVE with the first accepted code (\`totp-admin verify\`) and lapses if none comes in time.

A user may have several devices (a phone and a backup phone, say), each with its own secret, up to the server's TOTP_MAX_DEVICES: --device names the one to enroll. A new name adds a device; the name of a PENDING device replaces its secret; the name of an ACTIVE device needs --replace, and then the old secret keeps working until the new one is confirmed. Without --device the name is "default", the one device of a user enrolled without names.`;
  static override examples = [
    { description: 'Enroll alice and show the QR code', command: '<%= config.bin %> <%= command.id %> alice' },
    { description: 'Replace the factor of a user who changes phones', command: '<%= config.bin %> <%= command.id %> alice --replace' },
    { description: 'Give alice a backup phone, beside the device she has', command: '<%= config.bin %> <%= command.id %> alice --device "backup phone"' },
    { description: 'Write the QR code as a PNG for an e-mail or a help desk ticket', command: '<%= config.bin %> <%= command.id %> bob --issuer "Acme Shop" --account-name bob@acme.example --png bob.png --no-qr' },
    { description: 'Script it: the secret and URI as JSON', command: '<%= config.bin %> <%= command.id %> carol --algorithm sha256 --digits 8 --json' },
  ];
  static override args = { userId: userIdArg };
  static override flags = {
    issuer: Flags.string({ description: "issuer shown in the app (default: the server's TOTP_ISSUER)", helpValue: '<name>' }),
    'account-name': Flags.string({ description: 'account label shown in the app (default: the userId)', helpValue: '<label>' }),
    algorithm: algorithmFlag({ description: 'HMAC algorithm (default sha1, which every app supports)' }),
    digits: digitsFlag({ description: 'digits per code (default 6)' }),
    period: periodFlag({ description: 'seconds per code (default 30)' }),
    device: Flags.string({ description: 'name of the device to enroll (default "default"); a name the user has not used adds a device', helpValue: '<name>' }),
    replace: Flags.boolean({ description: 'replace the secret of an ACTIVE device (the old one works until the new one is confirmed)' }),
    png: Flags.string({ description: 'also write the QR code as a PNG image to this file (created with mode 600: it holds the secret)', helpValue: '<file>' }),
    qr: Flags.boolean({ description: 'draw the QR code in the terminal', default: true, allowNo: true }),
  };

  async run(): Promise<TotpEnrollment & { png?: string }> {
    const { args, flags } = await this.parse(Enroll);
    const client = this.client(flags);
    if (flags.device !== undefined && flags.device.trim() === '') {
      throw usageError('--device must not be empty', 'name the device (a phone, "backup"), or leave --device out for the device named default');
    }
    const input: EnrollTotpInput = { userId: args.userId, replace: flags.replace };
    if (flags.device !== undefined) input.deviceName = flags.device;
    if (flags.issuer !== undefined) input.issuer = flags.issuer;
    if (flags['account-name'] !== undefined) input.accountName = flags['account-name'];
    if (flags.algorithm) input.algorithm = flags.algorithm;
    if (flags.digits) input.digits = flags.digits;
    if (flags.period) input.period = flags.period;
    const enrollment = await enrollTotp(client, input).catch((error: unknown) => {
      throw error instanceof ApiError && error.serverCode === 'ALREADY_ENROLLED' ? this.alreadyEnrolled(args.userId, flags.device) : error;
    });
    const wantQr = flags.qr && !this.jsonEnabled();
    // qrcode is loaded only when a QR code is drawn or written.
    const qr = wantQr || flags.png ? await import('@totp-service/core') : undefined;
    if (flags.png && qr) {
      await writeFile(flags.png, await qr.qrPng(enrollment.otpauthUri), { mode: 0o600 }).catch((error: Error) => {
        // The secret is shown only now: print it before failing, as the hint says.
        this.say(this.render(enrollment, undefined, undefined));
        throw new CliFailure(`enrolled ${args.userId}, but could not write ${flags.png}: ${error.message}`, {
          code: 'WRITE_FAILED',
          hint: 'the secret and URI are printed above; run enroll again (a PENDING enrollment is simply replaced)',
          json: { ...enrollment, error: { code: 'WRITE_FAILED', message: error.message } },
        });
      });
    }
    if (!this.jsonEnabled()) {
      const terminalQr = wantQr && qr ? await qr.qrTerminal(enrollment.otpauthUri, true) : undefined;
      this.say(this.render(enrollment, terminalQr, flags.png));
    }
    return flags.png ? { ...enrollment, png: flags.png } : enrollment;
  }

  /** ALREADY_ENROLLED, with the command that replaces that device's secret. */
  private alreadyEnrolled(userId: string, device: string | undefined): CliFailure {
    const enroll = `${this.config.bin} enroll ${shellArg(userId)}`;
    const keeps = 'the old one keeps working until the new one is confirmed';
    if (device === undefined || device === 'default') {
      return new CliFailure(`${userId} already has an ACTIVE factor (ALREADY_ENROLLED)`, {
        code: 'ALREADY_ENROLLED',
        hint: `to give them a new one, run \`${enroll} --replace\` (${keeps})`,
      });
    }
    return new CliFailure(`${userId} already has an ACTIVE device named "${device}" (ALREADY_ENROLLED)`, {
      code: 'ALREADY_ENROLLED',
      hint: `to give it a new secret, run \`${enroll} --device ${shellArg(device)} --replace\` (${keeps}); to add a device, give another --device name`,
    });
  }

  private render(e: TotpEnrollment, terminalQr: string | undefined, png: string | undefined): string {
    const columns = Math.min(process.stdout.columns || MAX_QR_COLUMNS, MAX_QR_COLUMNS);
    const lines = [
      `Enrolled ${e.userId}: ${e.status}${e.expiresAt ? ` until ${time(e.expiresAt)}` : ''}.`,
      '',
      keyValues([
        ['Device', deviceLabel({ id: e.deviceId, name: e.deviceName })],
        ['Secret', groupSecret(e.secret)],
        ['URI', e.otpauthUri],
        ['Issuer', e.issuer],
        ['Account', e.accountName],
        ['Codes', params(e)],
        ['PNG', png],
      ]),
    ];
    if (terminalQr !== undefined) {
      if (blockWidth(terminalQr) <= columns) lines.push('', terminalQr.trimEnd());
      else lines.push('', `(The QR code is ${blockWidth(terminalQr)} columns wide, more than this terminal shows: use --png FILE.)`);
    }
    lines.push(
      '',
      'Scan the QR code (or type the secret) in an authenticator app, then confirm with:',
      `  ${this.config.bin} verify ${shellArg(e.userId)} <code>`,
      'The secret is shown only now; it cannot be read back later.',
    );
    return lines.join('\n');
  }
}
