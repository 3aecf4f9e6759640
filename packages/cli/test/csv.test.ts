import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvParser, CsvSyntaxError, csvLine, parseCsv } from '../src/csv.js';

describe('parseCsv', () => {
  it('reads records with their line numbers, skipping blank lines', () => {
    expect(parseCsv('a,b\n\nc,d\r\ne,f')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 3, fields: ['c', 'd'] },
      { line: 4, fields: ['e', 'f'] },
    ]);
  });

  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    expect(parseCsv('"a,b","say ""hi""","two\nlines"\nnext')).toEqual([
      { line: 1, fields: ['a,b', 'say "hi"', 'two\nlines'] },
      { line: 3, fields: ['next'] },
    ]);
  });

  it('keeps empty fields and drops a byte-order mark', () => {
    expect(parseCsv('\uFEFFa,,c,\n')).toEqual([{ line: 1, fields: ['a', '', 'c', ''] }]);
    expect(parseCsv('""\n')).toEqual([{ line: 1, fields: [''] }]);
  });

  it('reports broken quoting with its line', () => {
    expect(() => parseCsv('a,b\n"open,c')).toThrow(new CsvSyntaxError(2, 'a quoted field is never closed'));
    expect(() => parseCsv('a,b"c')).toThrow(CsvSyntaxError);
    expect(() => parseCsv('"a"b,c')).toThrow(/line 1: text after a closing quote/);
  });

  it('reads back whatever csvLine writes', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'Z', ',', '"', '\n', '\r\n', ' ', 'é', '用') });
    fc.assert(
      fc.property(fc.array(fc.array(field, { minLength: 2, maxLength: 5 }), { minLength: 1, maxLength: 5 }), (rows) => {
        const text = rows.map((row) => csvLine(row)).join('\r\n');
        expect(parseCsv(text).map((r) => r.fields)).toEqual(rows);
      }),
    );
  });
});

describe('CsvParser', () => {
  it('reads the same records however the text is cut into chunks (a CRLF or a doubled quote split in two too)', () => {
    const field = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r\n', '\r', ' ', '用') });
    const rows = fc.array(fc.array(field, { minLength: 2, maxLength: 4 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(rows, fc.constantFrom('\n', '\r\n', '\r'), fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), (records, eol, sizes) => {
        const text = `\uFEFF${records.map((row) => csvLine(row)).join(eol)}`;
        const parser = new CsvParser();
        const found = [];
        for (let at = 0, i = 0; at < text.length; i++) {
          const size = sizes[i % sizes.length]!;
          found.push(...parser.push(text.slice(at, at + size)));
          at += size;
        }
        found.push(...parser.end());
        expect(found).toEqual(parseCsv(text));
        expect(found.map((r) => r.fields)).toEqual(records);
      }),
    );
  });

  it('counts lines across CRLF inside quotes', () => {
    expect(parseCsv('"a\r\nb",c\r\nd')).toEqual([
      { line: 1, fields: ['a\r\nb', 'c'] },
      { line: 3, fields: ['d'] },
    ]);
  });
});

describe('csvLine', () => {
  it('quotes only the fields that need it', () => {
    expect(csvLine(['a', 'b,c', 'say "hi"', null, 3, undefined])).toBe('a,"b,c","say ""hi""",,3,');
  });
});
