/**
 * The CLI's failures and their exit statuses (API.md "Admin CLI": 0 done, 1 refused or failed,
 * 2 wrong usage). Every failure carries a stable `code` for `--json` callers and one line of
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
}

/** A failure the CLI explains: printed as one line on stderr, never with a stack trace. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
  readonly code: string;
  readonly exit: ExitStatus;
  readonly hint: string | undefined;
  readonly json: unknown;

  constructor(message: string, options: FailureOptions) {
    super(message);
    this.code = options.code;
    this.exit = options.exit ?? EXIT.FAILED;
    this.hint = options.hint;
    this.json = options.json;
  }

  /** The single stderr line: message, then the next step. */
  line(): string {
    return oneLine(this.hint ? `${this.message}; ${this.hint}` : this.message);
  }

  /** The `--json` document for this failure. */
  document(): unknown {
    if (this.json !== undefined) return this.json;
    return { error: { code: this.code, message: this.message, hint: this.hint ?? null, exitStatus: this.exit } };
  }
}

/** Wrong usage caught before anything was sent: exit status 2. */
export function usageError(message: string, hint?: string): CliFailure {
  return new CliFailure(message, { code: 'USAGE', exit: EXIT.USAGE, ...(hint ? { hint } : {}) });
}

/** Collapse whitespace so that a message, whatever its source, stays on one line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
