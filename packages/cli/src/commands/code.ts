import { readFileSync } from 'node:fs';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { LocalCommand } from '../base-command.js';
import { CliFailure, EXIT, usageError } from '../errors.js';
import { algorithmFlag, digitsFlag, parseAlgorithm, parseChoice, periodFlag } from '../flags.js';
import type { TotpAlgorithm } from '../operations.js';
import { parseMoment } from '../time.js';
import { loadTotp } from '../totp.js';

interface Factor {
  secret: string;
  algorithm: TotpAlgorithm;
  digits: number;
  period: number;
}

export default class Code extends LocalCommand {
  static override summary = 'Print the current code of a secret, computed locally (no server).';
  static override description = `Computes the RFC 6238 code of a base32 secret on this machine, with the seconds it stays valid: useful to confirm an enrollment, test a verify, or check a clock. The secret can also be an otpauth:// URI (its parameters are then used), or - to read it from stdin and keep it out of the shell history.`;
  static override examples = [
    { description: 'The current code of a secret', command: '<%= config.bin %> <%= command.id %> JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' },
    { description: 'Read the secret from stdin', command: 'pass show alice-totp | <%= config.bin %> <%= command.id %> -' },
    { description: 'An 8-digit SHA256 code, as JSON', command: '<%= config.bin %> <%= command.id %> JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP --algorithm sha256 --digits 8 --json' },
    { description: 'The code at another moment', command: '<%= config.bin %> <%= command.id %> JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP --at 2030-01-01T00:00:00Z' },
  ];
  static override args = {
    secret: Args.string({ required: true, description: 'base32 secret (spaces and case ignored), an otpauth:// URI, or - for stdin' }),
  };
  static override flags = {
    algorithm: algorithmFlag(),
    digits: digitsFlag(),
    period: periodFlag(),
    at: Flags.string({ description: 'compute for this moment instead of now: ISO-8601 time, Unix seconds, or a span ago like 30s', helpValue: '<time>' }),
  };

  async run(): Promise<{ code: string; secondsRemaining: number; validUntil: string; algorithm: TotpAlgorithm; digits: number; period: number }> {
    const { args, flags } = await this.parse(Code);
    const raw = args.secret === '-' ? readFileSync(0, 'utf8').trim() : args.secret;
    const factor = raw.toLowerCase().startsWith('otpauth://') ? fromUri(raw) : { secret: raw, algorithm: 'SHA1' as const, digits: 6, period: 30 };
    const algorithm = flags.algorithm ?? factor.algorithm;
    const digits = flags.digits ?? factor.digits;
    const period = flags.period ?? factor.period;
    const at = flags.at === undefined ? new Date() : /^\d+$/.test(flags.at) ? new Date(Number(flags.at) * 1000) : parseMoment(flags.at, '--at');
    // The core (otplib) is loaded only here, so that other commands start without it.
    const core = await loadTotp();
    let bytes: Uint8Array;
    try {
      bytes = core.parseBase32Secret(factor.secret, 'secret');
    } catch (error) {
      throw new CliFailure(error instanceof Error ? error.message : String(error), {
        code: 'BAD_SECRET',
        exit: EXIT.USAGE,
        hint: 'pass the base32 secret that enrollment printed (letters A-Z, digits 2-7)',
      });
    }
    const epochSeconds = Math.floor(at.getTime() / 1000);
    const params = { algorithm, digits, period } as Parameters<typeof core.codeAt>[2];
    const code = core.codeAt(bytes, epochSeconds, params);
    const nextStepAt = (core.timeStep(epochSeconds, period) + 1) * period;
    const result = {
      code,
      secondsRemaining: nextStepAt - epochSeconds,
      validUntil: new Date(nextStepAt * 1000).toISOString(),
      algorithm,
      digits,
      period,
    };
    this.say(`${code}  (${result.secondsRemaining} s left)`);
    return result;
  }
}

/** The secret and parameters of an otpauth://totp/ Key URI. */
function fromUri(uri: string): Factor {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw usageError('the otpauth:// URI is malformed');
  }
  const secret = url.searchParams.get('secret');
  if (url.host.toLowerCase() !== 'totp' || !secret) throw usageError('the URI is not an otpauth://totp/ URI with a secret');
  const get = (name: string): string | null => url.searchParams.get(name);
  return {
    secret,
    algorithm: get('algorithm') ? parseAlgorithm(get('algorithm')!, 'the URI algorithm') : 'SHA1',
    digits: get('digits') ? parseChoice(get('digits')!, 'the URI digits', [6, 7, 8]) : 6,
    period: get('period') ? parseChoice(get('period')!, 'the URI period', [30, 60]) : 30,
  };
}
