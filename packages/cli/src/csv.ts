/**
 * RFC 4180 CSV, both ways: quoted fields may hold commas, quotes ("") and line breaks; CRLF, LF or
 * CR ends a record; a byte-order mark is dropped. Each record keeps the line it started on, so that
 * errors can point at it. CsvParser reads a file chunk by chunk (a big import is never held whole).
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

/**
 * An incremental parser: push() text as it arrives and take the records it completes; end() at
 * the end of the input. A quote, CR or doubled quote split across two chunks reads the same as
 * in one. Blank lines are skipped.
 */
export class CsvParser {
  private fields: string[] = [];
  private field = '';
  // start: at a field's first character; plain: inside an unquoted field; quoted: inside quotes;
  // closed: just after a quote inside quotes (the field's end, or the first of a doubled quote).
  private state: 'start' | 'plain' | 'quoted' | 'closed' = 'start';
  private line = 1;
  private recordLine = 1;
  private afterCR = false;
  private first = true;
  private out: CsvRecord[] = [];

  push(text: string): CsvRecord[] {
    let input = text;
    if (this.first && input.length > 0) {
      this.first = false;
      if (input.startsWith('\uFEFF')) input = input.slice(1);
    }
    for (const ch of input) this.char(ch);
    return this.take();
  }

  end(): CsvRecord[] {
    if (this.state === 'quoted') throw new CsvSyntaxError(this.recordLine, 'a quoted field is never closed');
    if (this.state !== 'start' || this.fields.length > 0) this.endRecord();
    return this.take();
  }

  private take(): CsvRecord[] {
    const done = this.out;
    this.out = [];
    return done;
  }

  private char(ch: string): void {
    const afterCR = this.afterCR;
    this.afterCR = false;
    if (this.state === 'quoted') {
      if (ch === '"') this.state = 'closed';
      else {
        if (ch === '\r' || (ch === '\n' && !afterCR)) this.line++;
        this.afterCR = ch === '\r';
        this.field += ch;
      }
    } else if (this.state === 'closed' && ch === '"') {
      this.field += '"';
      this.state = 'quoted';
    } else if (ch === ',') {
      this.fields.push(this.field);
      this.field = '';
      this.state = 'start';
    } else if (ch === '\n' && afterCR) {
      // the LF of a CRLF whose CR ended the record
    } else if (ch === '\n' || ch === '\r') {
      this.endRecord();
      this.afterCR = ch === '\r';
      this.line++;
      this.recordLine = this.line;
    } else if (this.state === 'closed') {
      throw new CsvSyntaxError(this.line, 'text after a closing quote (double a quote inside a quoted field: "")');
    } else if (ch === '"' && this.state === 'start') {
      this.state = 'quoted';
    } else if (ch === '"') {
      throw new CsvSyntaxError(this.line, 'a quote inside an unquoted field (quote the whole field and double the quote)');
    } else {
      this.field += ch;
      this.state = 'plain';
    }
  }

  private endRecord(): void {
    this.fields.push(this.field);
    const blank = this.fields.length === 1 && this.fields[0] === '' && this.state === 'start';
    if (!blank) this.out.push({ line: this.recordLine, fields: this.fields });
    this.fields = [];
    this.field = '';
    this.state = 'start';
  }
}

/** Parse CSV text into records; blank lines are skipped. */
export function parseCsv(text: string): CsvRecord[] {
  const parser = new CsvParser();
  return [...parser.push(text), ...parser.end()];
}

/** The records of CSV text that arrives in chunks (a file stream), as they complete. */
export async function* csvRecords(chunks: AsyncIterable<string>): AsyncGenerator<CsvRecord> {
  const parser = new CsvParser();
  for await (const chunk of chunks) yield* parser.push(chunk);
  yield* parser.end();
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
