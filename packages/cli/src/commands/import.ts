import { open } from 'node:fs/promises';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { loadIdentities } from '../age.js';
import { ServerCommand } from '../base-command.js';
import { CliFailure, EXIT, usageError } from '../errors.js';
import { clean, params, plural } from '../format.js';
import { loadSecrets } from '../import-check.js';
import { COLUMNS } from '../import-rows.js';
import { ImportRun, type RowResult } from '../import-run.js';
import { FORMATS, importSource, type ImportFormat, type SourceOptions } from '../import-sources.js';

interface ImportResult {
  format: ImportFormat;
  dryRun: boolean;
  rows: RowResult[];
  imported: number;
  skipped: number;
  failed: number;
  /** With --dry-run: the rows that would be imported. */
  valid?: number;
  /** With --dry-run: whether the rows were also checked against the users' devices on the server. */
  checkedOnServer?: boolean;
  /** Set when a failure that no later row could escape (auth, server down, a broken stdin) stopped the import. */
  stoppedAt?: { line: number; code: string; message: string };
}

export default class Import extends ServerCommand {
  static override summary = 'Import factors from another system: CSV, an export, otpauth URIs, Google Authenticator (admin).';
  static override description = `Imports each factor of a file (or stdin, with -) as an ACTIVE device at once: users keep the codes their app already shows. Each row's result is printed and a bad row does not stop the others; a summary line follows, and the exit status is 1 if any row failed. Secrets are never printed. Needs an admin key.

--format csv (the default): rows of userId,secret[,issuer,accountName,algorithm,digits,period]; a header line is optional, and with one its names pick the columns in any order and may add deviceName and lastUsedAt (what export --format csv writes).
--format json: the plaintext that \`totp-admin export --identity FILE\` writes, restored as it was: device names, parameters, and lastUsedAt, so that a code used before the move is REPLAYED after it. PENDING devices (never confirmed) are skipped. With --identity, the file is what \`export\` writes without one (the encrypted pages), decrypted here a page at a time.
--format uri: one otpauth://totp/ URI per line; the label gives the account name, and --user-from whether the userId is the whole label or the account name. HOTP URIs are refused.
--format otpauth-migration: the lines of Google Authenticator's "Transfer accounts" QR codes (otpauth-migration://offline?data=…, read from the QR codes with a reader such as zbarimg). HOTP accounts are skipped.
In the line formats, blank lines and lines starting with # are skipped.

--dry-run checks every row and writes nothing: the server's rules for ids, labels and secrets (at least 128 bits), a device imported twice by the file, and, with a token, the devices each user already has. A file is read twice, a chunk at a time: once to check that all of it can be read (a file that cannot, such as a cut-short export, is refused as a whole with exit 2 before anything is imported), then to import. Standard input is read once, as it comes.`;
  static override examples = [
    { description: 'Import a CSV file (header line optional)', command: '<%= config.bin %> <%= command.id %> users.csv' },
    { description: 'Check an export before restoring it on another server', command: '<%= config.bin %> <%= command.id %> factors.json --format json --dry-run' },
    { description: 'Restore an export (devices and replay protection included)', command: '<%= config.bin %> <%= command.id %> factors.json --format json' },
    { description: 'Restore the encrypted pages of `export --out factors.age`', command: '<%= config.bin %> <%= command.id %> factors.age --format json --identity key.txt' },
    { description: "Google Authenticator's transfer QR codes, read with zbarimg", command: 'zbarimg -q --raw transfer-*.png | <%= config.bin %> <%= command.id %> - --format otpauth-migration --user-from label' },
    { description: 'otpauth:// URIs, the userId being the account name', command: '<%= config.bin %> <%= command.id %> uris.txt --format uri --device phone' },
    { description: 'Keep the per-row results for a retry script', command: "<%= config.bin %> <%= command.id %> users.csv --json | jq '.rows[] | select(.ok | not) | .line'" },
  ];
  static override args = {
    file: Args.string({ required: true, description: `the file to import, or - for stdin (CSV: ${COLUMNS.join(',')})` }),
  };
  static override flags = {
    format: Flags.option({ description: 'what the file holds (see above)', options: FORMATS, default: 'csv' as const })(),
    'dry-run': Flags.boolean({ description: 'check every row and write nothing' }),
    'user-from': Flags.option({
      description: 'uri and otpauth-migration: the userId is the whole label ("ACME:alice") or its account name ("alice")',
      options: ['label', 'account'] as const,
      default: 'account' as const,
    })(),
    device: Flags.string({ description: 'device name for rows that name none (default "default")', helpValue: '<name>' }),
    identity: Flags.string({
      char: 'i',
      description: 'json: the file holds the encrypted pages of `export` without --identity; decrypt them with this age identity file',
      helpValue: '<file>',
    }),
    'batch-size': Flags.integer({ hidden: true, default: 15, min: 1, max: 15, description: 'rows per request' }),
  };

  async run(): Promise<ImportResult> {
    const { args, flags } = await this.parse(Import);
    const dryRun = flags['dry-run'];
    // --dry-run without a token checks what it can locally; a real import needs the server.
    const client = dryRun && !flags.token?.trim() ? null : this.client(flags);
    if (flags.device !== undefined && flags.device.trim() === '') throw usageError('--device must not be empty');
    if (flags.identity !== undefined && flags.format !== 'json') throw usageError('--identity goes with --format json (the pages that export writes without --identity)');
    const identities = flags.identity === undefined ? undefined : await loadIdentities(flags.identity);
    const options: SourceOptions = { userFrom: flags['user-from'], secrets: await loadSecrets(), identities };
    if (args.file !== '-') await this.checkReadable(args.file, flags.format, options);
    const result: ImportResult = { format: flags.format, dryRun, rows: [], imported: 0, skipped: 0, failed: 0, ...(dryRun ? { valid: 0, checkedOnServer: client !== null } : {}) };
    const run = new ImportRun({
      client,
      dryRun,
      secrets: options.secrets,
      batchSize: flags['batch-size'],
      deviceName: flags.device,
      now: Date.now(),
      report: (row) => this.record(result, row),
    });
    try {
      await run.run(importSource(flags.format, await this.chunks(args.file), options));
    } catch (error) {
      // Only standard input gets here: a file was read whole once before anything was sent.
      const line = this.seen.lastLine;
      run.stop = { line, failure: usageError(`${args.file === '-' ? 'stdin' : args.file} cannot be read as ${flags.format}: ${(error as Error).message}`) };
    }
    return this.finish(result, run.stop);
  }

  /** The first pass over a file: every row must be readable, or nothing is imported (exit 2). */
  private async checkReadable(file: string, format: ImportFormat, options: SourceOptions): Promise<void> {
    try {
      for await (const row of importSource(format, await this.chunks(file), options)) void row;
    } catch (error) {
      if (error instanceof CliFailure) throw error;
      throw usageError(`${file} cannot be read as ${format}: ${(error as Error).message}`, `fix the file, or name its format with --format (${FORMATS.join(', ')}); nothing was imported`);
    }
  }

  /** The file (or stdin) as text chunks; a file that cannot be opened is wrong usage. */
  private async chunks(file: string): Promise<AsyncIterable<string>> {
    if (file === '-') return process.stdin.setEncoding('utf8');
    try {
      const handle = await open(file, 'r');
      if ((await handle.stat()).isDirectory()) {
        await handle.close();
        throw new Error('it is a directory');
      }
      return handle.createReadStream({ encoding: 'utf8' });
    } catch (error) {
      throw usageError(`cannot read ${file}: ${(error as Error).message}`, 'nothing was imported');
    }
  }

  /** Rows counted, and the failed rows' lines, whether or not the rows themselves are kept. */
  private seen = { rows: 0, lastLine: 0, failedLines: [] as number[] };

  private record(result: ImportResult, row: RowResult): void {
    // Only --json prints the rows: without it none is kept, so a long import holds no growing list.
    if (this.jsonEnabled()) result.rows.push(row);
    this.seen.rows++;
    this.seen.lastLine = row.line;
    if (!row.ok && this.seen.failedLines.at(-1) !== row.line) this.seen.failedLines.push(row.line);
    if (row.outcome === 'imported') result.imported++;
    else if (row.outcome === 'skipped') result.skipped++;
    else if (row.outcome === 'failed') result.failed++;
    else result.valid = (result.valid ?? 0) + 1;
    this.say(rowLine(row));
  }

  private finish(result: ImportResult, stop: { line: number; failure: CliFailure } | undefined): ImportResult {
    if (this.seen.rows > 0 || !stop) this.say(summary(result, this.seen.rows));
    if (stop) {
      result.stoppedAt = { line: stop.line, code: stop.failure.code, message: stop.failure.message };
      const exit = this.seen.rows === 0 && stop.failure.exit === EXIT.USAGE ? EXIT.USAGE : EXIT.FAILED;
      const reading = stop.failure.code === 'USAGE';
      throw new CliFailure(reading ? stop.failure.message : `stopped at line ${stop.line}: ${stop.failure.message}`, {
        code: stop.failure.code,
        exit,
        hint: stop.failure.hint ?? (result.imported > 0 ? `the ${plural(result.imported, 'row')} reported above were imported` : 'nothing was imported'),
        json: result,
      });
    }
    if (result.failed > 0) {
      const lines = this.seen.failedLines;
      const shown = lines.length > 10 ? `${lines.slice(0, 10).join(', ')}, …` : lines.join(', ');
      const verb = result.dryRun ? 'would fail' : 'failed';
      throw new CliFailure(`${result.failed} of ${plural(this.seen.rows, 'row')} ${verb} (line ${shown})`, {
        code: 'IMPORT_INCOMPLETE',
        hint: result.dryRun ? 'fix those rows before importing; nothing was written (dry run)' : 'fix those rows and import them again; the other rows are imported',
        json: result,
      });
    }
    return result;
  }
}

/** `line 3` / `line 3 account 2`, and the user. */
function where(r: RowResult): string {
  const who = r.userId === null ? '(no userId)' : clean(r.userId);
  return `line ${r.line}${r.entry === undefined ? '' : ` account ${r.entry}`}  ${who}`;
}

function rowLine(r: RowResult): string {
  const device = r.deviceName === undefined || r.deviceName === 'default' ? '' : ` device "${clean(r.deviceName)}"`;
  switch (r.outcome) {
    case 'imported':
      return `${where(r)}  imported${device}: ACTIVE, ${r.params ? params(r.params) : ''}`;
    case 'valid':
      return `${where(r)}  ok, would import${device}: ${r.params ? params(r.params) : ''}`;
    case 'skipped':
      return `${where(r)}  skipped: ${clean(r.reason)}`;
    case 'failed':
      return `${where(r)}  failed: ${clean(r.error?.message)}`;
  }
}

function summary(r: ImportResult, rows: number): string {
  const skipped = r.skipped > 0 ? `, ${r.skipped} skipped` : '';
  if (r.dryRun) {
    const server = r.checkedOnServer ? '' : '; not checked against the server: no token';
    return `${plural(rows, 'row')} checked: ${r.valid ?? 0} would be imported${skipped}, ${r.failed} would fail; nothing was written (dry run${server}).`;
  }
  return `${plural(rows, 'row')}: ${r.imported} imported${skipped}, ${r.failed} failed.`;
}
