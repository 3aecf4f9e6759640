/**
 * The CLI's failures and their exit statuses (docs/api.md, "Admin CLI": 0 done, 1 refused or
 * failed, 2 wrong usage). Every failure carries a stable `code` for `--json` callers and one line of
 * text for people, which says what to do next.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;
export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

export interface FailureOptions {
  /** Stable, machine-readable: a server error code, a verify outcome, or one of the CLI's own. */
  readonly code: string;
  readonly exit?: ExitStatus;
  /** What to do next, appended to the message on stderr. */
  readonly hint?: string;
  /** With `--json`: the document to print instead of the `{ "error": … }` envelope. */
  readonly json?: unknown;
  /** Wrong usage found several things at once (two missing flags): one line each on stderr. */
  readonly problems?: readonly string[];
  /** How the command is called (`totp-admin keygen --name <name> --role <app|admin>`), for usage errors. */
  readonly usage?: string;
}

/** A failure the CLI explains: printed as one line on stderr, never with a stack trace. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
  readonly code: string;
  readonly exit: ExitStatus;
  readonly hint: string | undefined;
  readonly json: unknown;
  readonly problems: readonly string[];
  readonly usage: string | undefined;

  constructor(message: string, options: FailureOptions) {
    super(message);
    this.code = options.code;
    this.exit = options.exit ?? EXIT.FAILED;
    this.hint = options.hint;
    this.json = options.json;
    this.problems = options.problems ?? [];
    this.usage = options.usage;
  }

  /** The single stderr line: message, then the next step (and how the command is called). */
  line(): string {
    const next = this.hint ? `${this.message}; ${this.hint}` : this.message;
    return oneLine(this.usage ? `${next} (usage: ${this.usage})` : next);
  }

  /**
   * What stderr gets: the one line, or, when usage went wrong in several ways at once, one line
   * per problem and a last one with the usage and the next step.
   */
  lines(): string[] {
    if (this.problems.length < 2) return [this.line()];
    const last = [this.usage ? `usage: ${this.usage}` : undefined, this.hint].filter(Boolean).join('; ');
    return [...this.problems.map(oneLine), ...(last ? [oneLine(last)] : [])];
  }

  /** The `--json` document for this failure. */
  document(): unknown {
    if (this.json !== undefined) return this.json;
    return { error: { code: this.code, message: this.message, hint: this.hint ?? null, exitStatus: this.exit } };
  }
}

/** Wrong usage caught before anything was sent: exit status 2. */
export function usageError(message: string, hint?: string, more: Pick<FailureOptions, 'problems' | 'usage'> = {}): CliFailure {
  return new CliFailure(message, { code: 'USAGE', exit: EXIT.USAGE, ...(hint ? { hint } : {}), ...more });
}

/**
 * Report a failure: each of its lines on stderr after `bin: `, the `--json` document on stdout
 * when asked for, and its exit status for when the process ends.
 */
export function report(bin: string, failure: CliFailure, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(failure.document(), null, 2)}\n`);
  process.stderr.write(failure.lines().map((line) => `${bin}: ${line}\n`).join(''));
  process.exitCode = failure.exit;
}

/** Collapse whitespace so that a message, whatever its source, stays on one line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
