import { csvRecords, parseCsv, type CsvRecord } from './csv.js';
import { usageError } from './errors.js';
import { parseAlgorithm, parseChoice } from './flags.js';
import type { ImportTotpInput } from './operations.js';

/**
 * The rows of an import, whatever the format: each is an ImportTotpInput to send, a problem the
 * import reports and goes past, or a reason to skip it (a PENDING device in an export, an HOTP
 * account). `line` is where the row starts in the file; `entry` numbers the accounts of one
 * Google Authenticator line.
 *
 * CSV (docs/api.md, "Admin CLI": `userId,secret[,issuer,accountName,algorithm,digits,period]`,
 * with or without a header line): with a header, its names choose the columns, in any order, and
 * may also name the columns of `export --format csv` (deviceName, lastUsedAt, status; deviceId,
 * createdAt and activatedAt are read and ignored); without one, the first seven are positional.
 */
export const COLUMNS = ['userId', 'secret', 'issuer', 'accountName', 'algorithm', 'digits', 'period'] as const;
/** What `export --format csv` writes after the positional columns, all readable with a header. */
export const EXPORT_COLUMNS = ['deviceName', 'lastUsedAt', 'status', 'deviceId', 'createdAt', 'activatedAt'] as const;
type Column = (typeof COLUMNS)[number] | (typeof EXPORT_COLUMNS)[number];

interface RowBase {
  readonly line: number;
  readonly entry?: number;
  readonly userId: string | null;
}

export type ImportRow =
  | (RowBase & { readonly userId: string; readonly input: ImportTotpInput })
  | (RowBase & { readonly problem: string })
  | (RowBase & { readonly skip: string });

const ALL: readonly Column[] = [...COLUMNS, ...EXPORT_COLUMNS];
const byKey = new Map<string, Column>([...ALL.map((c): [string, Column] => [key(c), c]), ['user', 'userId']]);

function key(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_-]/g, '');
}

/**
 * Whether a record is a header line: it starts with the userId column's name, or every field
 * names a column and one of them is userId. A real first row never does: its secret is base32.
 */
function isHeader(record: CsvRecord): boolean {
  const keys = record.fields.map(key);
  if (['userid', 'user'].includes(keys[0] ?? '')) return true;
  return keys.includes('userid') && keys.every((k) => byKey.has(k));
}

function headerColumns(record: CsvRecord): Column[] {
  const columns = record.fields.map((name) => {
    const column = byKey.get(key(name));
    if (!column) throw usageError(`unknown column ${JSON.stringify(name)} in the header line`, `the columns are ${ALL.join(', ')}`);
    return column;
  });
  if (!columns.includes('userId') || !columns.includes('secret')) {
    throw usageError('the header line must name the userId and secret columns');
  }
  return columns;
}

const NO_ROWS = () => usageError('the CSV has no rows to import', `each row is ${COLUMNS.join(',')} (the last five optional)`);

/** Parse CSV text into import rows; a file that cannot be read as a whole is wrong usage. */
export function importRows(text: string): ImportRow[] {
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch (error) {
    throw usageError(`the CSV cannot be read: ${(error as Error).message}`, 'fix the file; nothing was imported');
  }
  let columns: readonly Column[] = COLUMNS;
  if (records[0] && isHeader(records[0])) {
    columns = headerColumns(records[0]);
    records = records.slice(1);
  }
  if (records.length === 0) throw NO_ROWS();
  return records.map((record) => toRow(record, columns));
}

/** The rows of CSV that arrives in chunks, as they complete (CsvSyntaxError and usage errors are the file's). */
export async function* csvImportRows(chunks: AsyncIterable<string>): AsyncGenerator<ImportRow> {
  let columns: readonly Column[] | undefined;
  let rows = 0;
  for await (const record of csvRecords(chunks)) {
    if (columns === undefined && isHeader(record)) {
      columns = headerColumns(record);
      continue;
    }
    columns ??= COLUMNS;
    rows++;
    yield toRow(record, columns);
  }
  if (rows === 0) throw NO_ROWS();
}

function toRow(record: CsvRecord, columns: readonly Column[]): ImportRow {
  const { line, fields } = record;
  const cell = (column: Column): string | undefined => {
    const index = columns.indexOf(column);
    const value = index === -1 ? undefined : fields[index];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const userId = cell('userId') ?? null;
  if (fields.length > columns.length) {
    return { line, userId, problem: `${fields.length} fields, at most ${columns.length} expected (quote fields that hold commas)` };
  }
  const secret = cell('secret');
  if (userId === null) return { line, userId, problem: 'the userId is empty' };
  if (secret === undefined) return { line, userId, problem: 'the secret is empty' };
  const status = cell('status')?.trim().toUpperCase();
  if (status === 'PENDING') return { line, userId, skip: PENDING_SKIP };
  const input: ImportTotpInput = { userId, secret: secret.trim() };
  try {
    if (status !== undefined && status !== 'ACTIVE') throw new Error(`status ${JSON.stringify(status)} must be ACTIVE or PENDING`);
    const text = (column: 'issuer' | 'accountName' | 'deviceName' | 'lastUsedAt'): void => {
      const value = cell(column);
      if (value !== undefined) input[column] = value.trim();
    };
    text('issuer');
    text('accountName');
    text('deviceName');
    text('lastUsedAt');
    const algorithm = cell('algorithm');
    const digits = cell('digits');
    const period = cell('period');
    if (algorithm !== undefined) input.algorithm = parseAlgorithm(algorithm, 'algorithm');
    if (digits !== undefined) input.digits = parseChoice(digits, 'digits', [6, 7, 8]);
    if (period !== undefined) input.period = parseChoice(period, 'period', [30, 60]);
  } catch (error) {
    return { line, userId, problem: (error as Error).message };
  }
  return { line, userId, input };
}

/** Why an export's PENDING device is not imported. */
export const PENDING_SKIP = 'a PENDING device (never confirmed by its user): not imported';
