import type { Config } from '@oclif/core/interfaces';
import type { Hook } from '@oclif/core/hooks';
import { report } from '../errors.js';
import { meant, unknownCommand } from '../unknown-command.js';

/**
 * An unknown command is wrong usage (exit 2, docs/api.md), said in one line that suggests the command
 * most likely meant: `unknown command "enrol"; did you mean `totp-admin enroll alice`?`.
 *
 * On a terminal, and without --json, @oclif/plugin-not-found then asks "Did you mean enroll?"
 * and runs it on yes, as oclif CLIs do. The plugin is not registered as a plugin of its own: its
 * hook would also run for scripts and pipes, where it exits 127 with no suggestion and no
 * `--json` document. So this hook calls it, only for the interactive case, offering it only the
 * command found here (so that its question and this line name the same command), and reports a
 * "no" (or its 10 s timeout) the CLI's way.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const { config } = options;
  const rest = options.argv ?? [];
  const failure = unknownCommand(config, options.id, rest);
  const [typed = '', ...args] = options.id.split(':');
  const suggestion = meant(config, typed);
  const interactive = process.stdin.isTTY && process.stdout.isTTY && !rest.includes('--json') && !/(^|:)help(:|$)/.test(options.id);
  if (!suggestion || !interactive) {
    report(config.bin, failure, rest.includes('--json'));
    return undefined;
  }

  process.stderr.write(`${config.bin}: ${failure.message}\n`);
  const { default: notFound } = await import('@oclif/plugin-not-found');
  const declined = new Error('declined');
  try {
    return await notFound.call(
      { ...this, warn: () => {}, error: () => { throw declined; } },
      // The mistyped word as the id and everything after it as argv: given both flags and words
      // joined into the id (`kode SECRET --at X`), the plugin would drop the words.
      { ...options, id: typed, argv: [...args, ...rest], config: offering(config, suggestion) },
    );
  } catch (error) {
    if (error !== declined) throw error;
    process.stderr.write(`${config.bin}: see \`${config.bin} help\` for the commands\n`);
    process.exitCode = failure.exit;
    return undefined;
  }
};

/** The configuration as the plugin sees it: one command to suggest, everything else as is. */
function offering(config: Config, id: string): Config {
  return new Proxy(config, {
    get(target, property) {
      if (property === 'commandIDs') return [id];
      if (property === 'commands') return target.commands.filter((c) => c.id === id);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export default hook;
