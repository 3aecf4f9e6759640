import { parseCsv, type CsvRecord } from './csv.js';
import { usageError } from './errors.js';
import { parseAlgorithm, parseChoice } from './flags.js';
import type { ImportTotpInput } from './operations.js';

/**
 * The rows of an import file (docs/api.md, "Admin CLI":
 * `userId,secret[,issuer,accountName,algorithm,digits,period]`, with or without a header line). With a header, its names choose the columns, in any order;
 * without one, the columns are positional. A row that cannot become an ImportTotpInput carries
 * its problem instead, so that the import reports it and goes on.
 */
export const COLUMNS = ['userId', 'secret', 'issuer', 'accountName', 'algorithm', 'digits', 'period'] as const;
type Column = (typeof COLUMNS)[number];

export type ImportRow =
  | { readonly line: number; readonly userId: string; readonly input: ImportTotpInput }
  | { readonly line: number; readonly userId: string | null; readonly problem: string };

const byKey = new Map<string, Column>([...COLUMNS.map((c): [string, Column] => [key(c), c]), ['user', 'userId']]);

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
    columns = records[0].fields.map((name) => {
      const column = byKey.get(key(name));
      if (!column) throw usageError(`unknown column ${JSON.stringify(name)} in the header line`, `the columns are ${COLUMNS.join(', ')}`);
      return column;
    });
    if (!columns.includes('userId') || !columns.includes('secret')) {
      throw usageError('the header line must name the userId and secret columns');
    }
    records = records.slice(1);
  }
  if (records.length === 0) throw usageError('the CSV has no rows to import', `each row is ${COLUMNS.join(',')} (the last five optional)`);
  return records.map((record) => toRow(record, columns));
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
  const input: ImportTotpInput = { userId, secret: secret.trim() };
  try {
    const issuer = cell('issuer');
    const accountName = cell('accountName');
    const algorithm = cell('algorithm');
    const digits = cell('digits');
    const period = cell('period');
    if (issuer !== undefined) input.issuer = issuer.trim();
    if (accountName !== undefined) input.accountName = accountName.trim();
    if (algorithm !== undefined) input.algorithm = parseAlgorithm(algorithm, 'algorithm');
    if (digits !== undefined) input.digits = parseChoice(digits, 'digits', [6, 7, 8]);
    if (period !== undefined) input.period = parseChoice(period, 'period', [30, 60]);
  } catch (error) {
    return { line, userId, problem: (error as Error).message };
  }
  return { line, userId, input };
}
