import type { Hook } from '@oclif/core/hooks';

/** An unknown command is wrong usage (exit 2), said in one line that points at the help. */
const hook: Hook<'command_not_found'> = async function (options) {
  const name = options.id.replaceAll(':', ' ');
  process.stderr.write(`${options.config.bin}: unknown command "${name}"; see \`${options.config.bin} --help\` for the commands\n`);
  process.exitCode = 2;
};

export default hook;
