import * as Args from '@oclif/core/args';
import { Command } from '@oclif/core/command';
import { CLIError } from '@oclif/core/errors';
import * as Flags from '@oclif/core/flags';
import { DEFAULT_SERVER_URL, GraphQLClient, normalizeServerUrl } from './client.js';
import { CliFailure, EXIT, oneLine, report, usageError } from './errors.js';
import { parseProblems, usageLine, type CommandShape, type ParseErrorLike } from './usage.js';

/**
 * The base of every command: `--json` (one JSON document on stdout and nothing else), and one
 * place that turns any failure into its exit status (docs/api.md: 0 done, 1 refused or
 * failed, 2 wrong usage), one readable line on stderr and, with `--json`, an `{ "error": … }`
 * document.
 * Commands return their data from run(); human output is printed only without `--json`.
 */
export abstract class LocalCommand extends Command {
  static override enableJsonFlag = true;

  /** Print human output; silent with `--json`, where run()'s return value is the output. */
  protected say(text: string): void {
    if (!this.jsonEnabled()) this.log(text);
  }

  /** One line on stderr, whatever the output mode (progress and warnings, never data). */
  protected note(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  override async catch(error: Error): Promise<void> {
    // A parse failure lands here before run() parsed anything; that is not a programming error.
    this.parsed = true;
    const id = this.id ?? '';
    const failure = toFailure(error, { bin: this.config.bin, id, shape: this.ctor });
    report(this.config.bin, failure, this.jsonEnabled());
    if (process.env.DEBUG && !(error instanceof CliFailure)) process.stderr.write(`${error.stack ?? ''}\n`);
  }
}

/** The base of the commands that call the server: `--server` and `--token`, from flags or env. */
export abstract class ServerCommand extends LocalCommand {
  static override baseFlags = {
    server: Flags.string({
      description: 'GraphQL endpoint of the TOTP server (a base URL gets /graphql added)',
      env: 'TOTP_SERVER_URL',
      default: DEFAULT_SERVER_URL,
      helpGroup: 'SERVER',
      helpValue: '<url>',
    }),
    token: Flags.string({
      description: 'API token (prefer the TOTP_TOKEN environment variable: flags show up in `ps`)',
      env: 'TOTP_TOKEN',
      helpGroup: 'SERVER',
      helpValue: '<token>',
    }),
  };

  /** A client for the server that `--server`/`--token` name; no token at all is wrong usage. */
  protected client(flags: { server: string; token?: string | undefined }): GraphQLClient {
    const url = normalizeServerUrl(flags.server);
    const token = flags.token?.trim();
    if (!token) {
      throw usageError(
        'no API token given',
        'pass --token TOKEN or set TOTP_TOKEN (the server prints an admin token at start-up when TOTP_API_KEYS is unset)',
      );
    }
    return new GraphQLClient({ url, token });
  }
}

/** The `<userId>` argument shared by the per-user commands. */
export const userIdArg = Args.string({
  name: 'userId',
  required: true,
  description: "the user's id in your application (any 1-256 byte string, compared exactly)",
});

/** The command a failure happened in: its name and its static args and flags (for the usage). */
export interface FailureSource {
  readonly bin: string;
  readonly id: string;
  readonly shape: CommandShape;
}

// oclif's errors for a call of the wrong shape, after which the usage line helps.
const SHAPE_ERROR = /^(Missing \d+ required arg|Nonexistent flag|Unexpected argument|The following errors? occurred)/;

/** Turn anything thrown into a CliFailure: parse errors are wrong usage, the unexpected is 1. */
export function toFailure(error: unknown, source: FailureSource): CliFailure {
  const command = `${source.bin} ${source.id.replaceAll(':', ' ')}`.trim();
  const help = `see \`${command} --help\``;
  if (error instanceof CliFailure) {
    // oclif rewrites the message of an error thrown while parsing a flag: restore it.
    if (error.message.startsWith('Parsing --')) error.message = usageMessage(error.message);
    return error;
  }
  if (error instanceof CLIError && 'parse' in error) {
    if (!SHAPE_ERROR.test(error.message)) return usageError(usageMessage(error.message), help);
    const problems = parseProblems(error as ParseErrorLike, source.shape);
    const usage = usageLine(source.bin, source.id, source.shape);
    return usageError(problems.join('; '), help, { problems, usage });
  }
  if (error instanceof CLIError || (error instanceof Error && error.message.startsWith('Parsing --'))) {
    const exit = (error as CLIError).oclif?.exit === EXIT.FAILED ? EXIT.FAILED : EXIT.USAGE;
    const message = usageMessage(error.message);
    return exit === EXIT.USAGE ? usageError(message, help) : new CliFailure(message, { code: 'FAILED' });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CliFailure(`unexpected error: ${oneLine(message)}`, {
    code: 'INTERNAL_CLI_ERROR',
    hint: 'run again with DEBUG=1 for the stack trace and report it',
  });
}

/** oclif's other messages (a flag value it refused), reworded to one short line in the CLI's voice. */
function usageMessage(raw: string): string {
  return oneLine(
    raw
      .replace(/See more help with --help/gi, '')
      // "Parsing --limit \n Expected …": keep the flag's name unless the message starts with it.
      .replace(/^Parsing (--[\w-]+)\s+(?=--)/, '')
      .replace(/^Parsing (--[\w-]+)\s+(\S)/, (_m, flag: string, c: string) => `${flag}: ${c.toLowerCase()}`)
      .replace(/^Expected --([\w-]+)=(.*) to be one of: (.*)$/s, (_m, flag: string, value: string, options: string) => `--${flag} ${JSON.stringify(value)} must be one of: ${oneLine(options)}`)
      .replace(/^Expected (.*) to be one of: (.*)$/s, (_m, value: string, options: string) => `${JSON.stringify(value)} must be one of: ${oneLine(options)}`),
  );
}
