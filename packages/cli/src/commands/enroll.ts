import { writeFile } from 'node:fs/promises';
import * as Flags from '@oclif/core/flags';
import { ServerCommand, userIdArg } from '../base-command.js';
import { ApiError } from '../client.js';
import { CliFailure } from '../errors.js';
import { algorithmFlag, digitsFlag, periodFlag } from '../flags.js';
import { blockWidth, groupSecret, keyValues, params, shellArg, time } from '../format.js';
import { enrollTotp, type EnrollTotpInput, type TotpEnrollment } from '../operations.js';

/** A terminal QR code wider than this would wrap on a classic terminal and no longer scan. */
const MAX_QR_COLUMNS = 80;

export default class Enroll extends ServerCommand {
  static override summary = 'Enroll a user: print the secret, the otpauth URI and a QR code to scan.';
  static override description = `Creates a PENDING enrollment and shows, once, what the user's authenticator app needs: the secret (grouped by four for typing), the otpauth:// URI and a QR code drawn in the terminal. The enrollment becomes ACTIVE with the first accepted code (\`totp-admin verify\`) and lapses if none comes in time. A user who is already ACTIVE needs --replace: the old secret keeps working until the new one is confirmed.`;
  static override examples = [
    { description: 'Enroll alice and show the QR code', command: '<%= config.bin %> <%= command.id %> alice' },
    { description: 'Replace the factor of a user who changes phones', command: '<%= config.bin %> <%= command.id %> alice --replace' },
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
    replace: Flags.boolean({ description: 'replace the factor of an ACTIVE user (the old one works until the new one is confirmed)' }),
    png: Flags.string({ description: 'also write the QR code as a PNG image to this file (created with mode 600: it holds the secret)', helpValue: '<file>' }),
    qr: Flags.boolean({ description: 'draw the QR code in the terminal', default: true, allowNo: true }),
  };

  async run(): Promise<TotpEnrollment & { png?: string }> {
    const { args, flags } = await this.parse(Enroll);
    const client = this.client(flags);
    const input: EnrollTotpInput = { userId: args.userId, replace: flags.replace };
    if (flags.issuer !== undefined) input.issuer = flags.issuer;
    if (flags['account-name'] !== undefined) input.accountName = flags['account-name'];
    if (flags.algorithm) input.algorithm = flags.algorithm;
    if (flags.digits) input.digits = flags.digits;
    if (flags.period) input.period = flags.period;
    let enrollment: TotpEnrollment;
    try {
      enrollment = await enrollTotp(client, input);
    } catch (error) {
      if (error instanceof ApiError && error.serverCode === 'ALREADY_ENROLLED') {
        throw new CliFailure(`${args.userId} already has an ACTIVE factor (ALREADY_ENROLLED)`, {
          code: 'ALREADY_ENROLLED',
          hint: `to give them a new one, run \`${this.config.bin} enroll ${shellArg(args.userId)} --replace\` (the old one keeps working until the new one is confirmed)`,
        });
      }
      throw error;
    }
    const wantQr = flags.qr && !this.jsonEnabled();
    // qrcode is loaded only when a QR code is drawn or written.
    const qr = wantQr || flags.png ? await import('@totp-service/core') : undefined;
    if (flags.png && qr) {
      await writeFile(flags.png, await qr.qrPng(enrollment.otpauthUri), { mode: 0o600 }).catch((error: Error) => {
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

  private render(e: TotpEnrollment, terminalQr: string | undefined, png: string | undefined): string {
    const columns = Math.min(process.stdout.columns || MAX_QR_COLUMNS, MAX_QR_COLUMNS);
    const lines = [
      `Enrolled ${e.userId}: ${e.status}${e.expiresAt ? ` until ${time(e.expiresAt)}` : ''}.`,
      '',
      keyValues([
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
