import type { Hook } from '@oclif/core/hooks';
import { usageError } from '../errors.js';

/** An unknown command is wrong usage (exit 2), said in one line that points at the help. */
const hook: Hook<'command_not_found'> = async function (options) {
  const bin = options.config.bin;
  const failure = usageError(`unknown command "${options.id.replaceAll(':', ' ')}"`, `see \`${bin} --help\` for the commands`);
  if (options.argv?.includes('--json')) process.stdout.write(`${JSON.stringify(failure.document(), null, 2)}\n`);
  process.stderr.write(`${bin}: ${failure.line()}\n`);
  process.exitCode = failure.exit;
};

export default hook;
