/**
 * The last resort of bin/run.js, for an error that no command reported. The CLI's own commands
 * report their failures themselves (LocalCommand.catch); the oclif plugins' commands do not
 * (`totp-admin autocomplete fish`, `totp-admin help --json`), and oclif's default report is a
 * help screen, a stack trace or exit status 1 for wrong usage. Reported here the CLI's way:
 * lines on stderr, the `--json` document when asked for, 2 for wrong usage and 1 otherwise.
 * Loaded only when something failed, so it costs nothing at start-up.
 */
import { Config } from '@oclif/core/config';
import { report } from './errors.js';
import { toFailure } from './base-command.js';
import type { CommandShape } from './usage.js';

export async function reportUncaught(error: unknown, argv: readonly string[], root: string): Promise<void> {
  const exit = error as { code?: string; oclif?: { exit?: number } };
  if (exit?.code === 'EEXIT') {
    process.exitCode = exit.oclif?.exit ?? 0;
    return;
  }
  let bin = 'totp-admin';
  let id = '';
  let shape: CommandShape = {};
  try {
    const config = await Config.load(root);
    bin = config.bin;
    const firstFlag = argv.findIndex((arg) => arg.startsWith('-'));
    const words = firstFlag === -1 ? argv : argv.slice(0, firstFlag);
    // The longest run of leading words that names a command (`autocomplete script` before `autocomplete`).
    for (let n = Math.min(words.length, 3); n > 0; n--) {
      const command = config.findCommand(words.slice(0, n).join(':'));
      if (command) {
        id = command.id;
        shape = command as unknown as CommandShape;
        break;
      }
    }
  } catch {
    // Reporting must not fail as well: the plain bin name and no usage will do.
  }
  report(bin, toFailure(error, { bin, id, shape }), argv.includes('--json'));
  if (process.env.DEBUG && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
}
