/**
 * RFC 4180 CSV, both ways: quoted fields may hold commas, quotes ("") and line breaks; CRLF or LF
 * ends a record; a byte-order mark is dropped. Each record keeps the line it started on, so that
 * errors can point at it.
 */

export interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

export class CsvSyntaxError extends Error {
  override readonly name = 'CsvSyntaxError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** Parse CSV text into records; blank lines are skipped. */
export function parseCsv(text: string): CsvRecord[] {
  const input = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  // start: at a field's first character; plain: inside an unquoted field;
  // quoted: inside quotes; closed: just after a field's closing quote.
  let state: 'start' | 'plain' | 'quoted' | 'closed' = 'start';
  let line = 1;
  let recordLine = 1;
  const endRecord = (): void => {
    fields.push(field);
    const blank = fields.length === 1 && fields[0] === '' && state === 'start';
    if (!blank) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
  };
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    if (state === 'quoted') {
      if (ch === '"' && input[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        state = 'closed';
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      state = 'start';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && input[i + 1] === '\n') i++;
      endRecord();
      state = 'start';
      line++;
      recordLine = line;
    } else if (state === 'closed') {
      throw new CsvSyntaxError(line, 'text after a closing quote (double a quote inside a quoted field: "")');
    } else if (ch === '"' && state === 'start') {
      state = 'quoted';
    } else if (ch === '"') {
      throw new CsvSyntaxError(line, 'a quote inside an unquoted field (quote the whole field and double the quote)');
    } else {
      field += ch;
      state = 'plain';
    }
  }
  if (state === 'quoted') throw new CsvSyntaxError(recordLine, 'a quoted field is never closed');
  if (state !== 'start' || fields.length > 0) endRecord();
  return records;
}

/** One CSV line (without the line break), quoting only the fields that need it. */
export function csvLine(values: readonly (string | number | null | undefined)[]): string {
  return values
    .map((value) => {
      const text = value === null || value === undefined ? '' : String(value);
      return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
    })
    .join(',');
}
