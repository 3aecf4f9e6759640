import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExportSyntaxError, FactorScanner, factorTexts } from '../src/json-factors.js';

/** Scan `text` fed in the given chunk sizes (cycled). */
function scan(text: string, sizes: readonly number[] = [text.length || 1]): { line: number; index: number; value: unknown }[] {
  const scanner = new FactorScanner();
  const found = [];
  let at = 0;
  for (let i = 0; at < text.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length]!);
    found.push(...scanner.push(text.slice(at, at + size)));
    at += size;
  }
  scanner.end();
  return found.map((f) => ({ line: f.line, index: f.index, value: JSON.parse(f.text) as unknown }));
}

const F1 = { userId: 'ann', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', note: 'a } ] " \\ , {' };
const F2 = { userId: '用户', deviceName: 'phone', lastUsedAt: null };

describe('FactorScanner', () => {
  it('hands out each factor with the line it starts on', () => {
    const text = `{"version": 1, "factors": [\n${JSON.stringify(F1)},\n${JSON.stringify(F2)}\n]}\n`;
    expect(scan(text)).toEqual([
      { line: 2, index: 1, value: F1 },
      { line: 3, index: 2, value: F2 },
    ]);
  });

  it('reads pretty-printed documents, members in any order, and several documents in a row', () => {
    const a = JSON.stringify({ factors: [F1], extra: { a: [1, 2] }, version: 1 }, null, 2);
    const b = JSON.stringify({ version: 1, factors: [] });
    const c = JSON.stringify({ version: 1, factors: [F2] });
    expect(scan(`${a}\n${b}${c}`).map((f) => [f.index, f.value])).toEqual([
      [1, F1],
      [2, F2],
    ]);
  });

  it('finds the same factors however the input is cut into chunks', () => {
    const factor = fc.record({ userId: fc.string(), secret: fc.string(), digits: fc.integer(), lastUsedAt: fc.option(fc.string()) });
    fc.assert(
      fc.property(fc.array(factor, { maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }), (factors, sizes) => {
        const text = JSON.stringify({ version: 1, factors }, null, sizes[0]! % 3);
        expect(scan(text, sizes).map((f) => f.value)).toEqual(factors);
      }),
    );
  });

  it('passes a factor that is not an object through, for the row to report', () => {
    expect(scan('{"version":1,"factors":[42, "x", null]}').map((f) => f.value)).toEqual([42, 'x', null]);
  });

  it.each([
    ['a file cut short', '{"version": 1, "factors": [\n{"userId": "a"},\n{"userId": "b", "sec', /^line 3: the input ends inside the export/],
    ['an empty file', '', /no export in the input/],
    ['CSV', 'userId,secret\nann,JBSW', /^line 1: unexpected "u"/],
    ['another version', '{"version": 2, "factors": []}', /export version 2: this totp-admin reads version 1/],
    ['no version', '{"factors": []}', /without "version"/],
    ['no factors', '{"version": 1}', /without "factors"/],
    ['factors that are no list', '{"version": 1, "factors": {}}', /"factors" must be a list/],
    ['a missing comma', '{"version": 1, "factors": [{} {}]}', /unexpected "\{"/],
    ['a huge value', `{"version": 1, "factors": ["${'A'.repeat(70_000)}"]}`, /longer than 65536/],
  ])('refuses %s as a whole, naming the line', (_what, text, message) => {
    expect(() => scan(text, [5])).toThrow(ExportSyntaxError);
    expect(() => scan(text, [5])).toThrow(message);
  });

  it('streams from an async source, dropping a byte-order mark', async () => {
    async function* chunks(): AsyncGenerator<string> {
      yield '\uFEFF{"version":1,"fac';
      yield `tors":[${JSON.stringify(F1)}]}`;
    }
    const found = [];
    for await (const f of factorTexts(chunks())) found.push(JSON.parse(f.text) as unknown);
    expect(found).toEqual([F1]);
  });
});
