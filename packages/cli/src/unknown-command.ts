/**
 * An unknown command, from the command line (`totp-admin enrol alice`) or from help
 * (`totp-admin help enrol`): wrong usage (exit 2), said in one line that names the command most
 * likely meant, written out with the rest of what was typed so that it runs as shown.
 */
import type { Config } from '@oclif/core/interfaces';
import { usageError, type CliFailure } from './errors.js';
import { shellArg } from './format.js';
import { closest } from './suggest.js';

/** The command names a user may type: every visible command and alias. */
export function commandNames(config: Config): string[] {
  return config.commands.filter((c) => !c.hidden).flatMap((c) => [c.id, ...c.aliases]);
}

/** The command `word` most likely meant (`enrol` → `enroll`), or undefined. */
export function meant(config: Config, word: string): string | undefined {
  return closest(word, commandNames(config));
}

/**
 * `args` as they would be typed again, quoted for a POSIX shell; the value of `--token` is not
 * repeated (an error line can end up in a log): the TOTP_TOKEN variable is the way to pass it.
 */
export function retype(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--token') i++;
    else if (!arg.startsWith('--token=')) out.push(shellArg(arg));
  }
  return out;
}

/**
 * The failure for an unknown command: `words` are what was typed as the command (oclif joins the
 * words before the first flag: `enrol alice` arrives as `enrol:alice`), `rest` what came after.
 * Only the first word is the mistake (every command here is one word); the others are arguments.
 * With `help` (for `totp-admin help enrol`), the suggestion is `totp-admin help enroll`.
 */
export function unknownCommand(config: Config, id: string, rest: readonly string[], help = false): CliFailure {
  const [typed = '', ...args] = id.split(':');
  const suggestion = meant(config, typed);
  const words = help ? ['help', suggestion] : [suggestion, ...retype([...args, ...rest])];
  const hint = suggestion
    ? `did you mean \`${[config.bin, ...words].join(' ')}\`? (\`${config.bin} help\` lists the commands)`
    : `see \`${config.bin} help\` for the commands`;
  return usageError(`unknown command ${JSON.stringify(typed)}`, hint);
}
