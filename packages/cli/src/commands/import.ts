import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import * as Args from '@oclif/core/args';
import { ServerCommand } from '../base-command.js';
import { ApiError } from '../client.js';
import { CliFailure, usageError } from '../errors.js';
import { clean, params, plural } from '../format.js';
import { COLUMNS, importRows, type ImportRow } from '../import-rows.js';
import { importTotp, type TotpState } from '../operations.js';

interface RowResult {
  line: number;
  userId: string | null;
  ok: boolean;
  state?: TotpState;
  error?: { code: string; message: string };
}

interface ImportResult {
  rows: RowResult[];
  imported: number;
  failed: number;
  /** Set when a failure that no later row could escape (auth, server down) stopped the import. */
  stoppedAt?: { line: number; code: string; message: string };
}

/** Server errors that say nothing about the row: going on would fail every later row too. */
const FATAL = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'SERVICE_UNAVAILABLE', 'GRAPHQL_VALIDATION_FAILED']);

export default class Import extends ServerCommand {
  static override summary = 'Import factors from another system, from CSV (admin).';
  static override description = `Reads rows of userId,secret[,issuer,accountName,algorithm,digits,period] from a file, or from stdin with -, and imports each as an ACTIVE factor: users keep the codes their app already shows. A header line is optional; with one, its names pick the columns in any order. Each row's result is printed and a bad row does not stop the others; the exit status is 1 if any row failed. Secrets are never printed. Needs an admin key.

A file that cannot be read as CSV at all, or has an unknown header column, is refused as a whole (exit 2) before anything is imported.`;
  static override examples = [
    { description: 'Import a file (header line optional)', command: '<%= config.bin %> <%= command.id %> users.csv' },
    { description: 'From stdin', command: 'cut -d, -f1,2 export.csv | <%= config.bin %> <%= command.id %> -' },
    { description: 'Keep the per-row results for a retry script', command: "<%= config.bin %> <%= command.id %> users.csv --json | jq '.rows[] | select(.ok | not) | .line'" },
  ];
  static override args = {
    file: Args.string({ required: true, description: `CSV file (${COLUMNS.join(',')}), or - for stdin` }),
  };

  async run(): Promise<ImportResult> {
    const { args, flags } = await this.parse(Import);
    const client = this.client(flags);
    const rows = importRows(await this.readInput(args.file));
    const result: ImportResult = { rows: [], imported: 0, failed: 0 };
    for (const row of rows) {
      const outcome = await this.importRow(client, row);
      if ('fatal' in outcome) {
        result.stoppedAt = { line: row.line, code: outcome.fatal.code, message: outcome.fatal.message };
        this.finish(result, rows.length);
        throw new CliFailure(`stopped at line ${row.line}: ${outcome.fatal.message}`, {
          code: outcome.fatal.code,
          ...(outcome.fatal.hint ? { hint: outcome.fatal.hint } : {}),
          json: result,
        });
      }
      result.rows.push(outcome);
      if (outcome.ok) result.imported++;
      else result.failed++;
      this.say(this.rowLine(outcome));
    }
    this.finish(result, rows.length);
    if (result.failed > 0) {
      const lines = result.rows.filter((r) => !r.ok).map((r) => r.line);
      const shown = lines.length > 10 ? `${lines.slice(0, 10).join(', ')}, …` : lines.join(', ');
      throw new CliFailure(`${result.failed} of ${plural(rows.length, 'row')} failed (line ${shown})`, {
        code: 'IMPORT_INCOMPLETE',
        hint: 'fix those rows and import them again; the other rows are imported',
        json: result,
      });
    }
    return result;
  }

  private async readInput(file: string): Promise<string> {
    try {
      return file === '-' ? await text(process.stdin) : await readFile(file, 'utf8');
    } catch (error) {
      throw usageError(`cannot read ${file}: ${(error as Error).message}`, 'nothing was imported');
    }
  }

  private async importRow(
    client: ReturnType<ServerCommand['client']>,
    row: ImportRow,
  ): Promise<RowResult | { fatal: CliFailure }> {
    if ('problem' in row) return { line: row.line, userId: row.userId, ok: false, error: { code: 'BAD_ROW', message: row.problem } };
    try {
      const state = await importTotp(client, row.input);
      return { line: row.line, userId: row.userId, ok: true, state };
    } catch (error) {
      if (!(error instanceof ApiError) || FATAL.has(error.serverCode)) {
        return { fatal: error instanceof CliFailure ? error : new CliFailure(String(error), { code: 'FAILED' }) };
      }
      return { line: row.line, userId: row.userId, ok: false, error: { code: error.serverCode, message: error.message } };
    }
  }

  private rowLine(r: RowResult): string {
    const who = r.userId === null ? '(no userId)' : clean(r.userId);
    if (r.ok && r.state) return `line ${r.line}  ${who}  imported: ${r.state.status}, ${params(r.state)}`;
    return `line ${r.line}  ${who}  failed: ${clean(r.error?.message)}`;
  }

  private finish(result: ImportResult, total: number): void {
    const skipped = total - result.imported - result.failed;
    this.say(
      `${plural(total, 'row')}: ${result.imported} imported, ${result.failed} failed${skipped ? `, ${skipped} not tried` : ''}.`,
    );
  }
}
