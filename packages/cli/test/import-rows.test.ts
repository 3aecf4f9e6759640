import { describe, expect, it } from 'vitest';
import { CliFailure } from '../src/errors.js';
import { importRows } from '../src/import-rows.js';

const S = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('importRows', () => {
  it('reads positional rows without a header', () => {
    expect(importRows(`alice,${S}\nbob,${S},Acme,bob@acme.example,sha256,8,60\n`)).toEqual([
      { line: 1, userId: 'alice', input: { userId: 'alice', secret: S } },
      {
        line: 2,
        userId: 'bob',
        input: { userId: 'bob', secret: S, issuer: 'Acme', accountName: 'bob@acme.example', algorithm: 'SHA256', digits: 8, period: 60 },
      },
    ]);
  });

  it('takes the columns from a header line, in any order and case', () => {
    expect(importRows(`secret,Digits,user_id\n${S},7,carol\n`)).toEqual([
      { line: 2, userId: 'carol', input: { userId: 'carol', secret: S, digits: 7 } },
    ]);
  });

  it('leaves empty optional fields to the server defaults and keeps the userId exactly', () => {
    expect(importRows(`userId,secret,issuer\n" a b ",${S},\n`)).toEqual([
      { line: 2, userId: ' a b ', input: { userId: ' a b ', secret: S } },
    ]);
  });

  it('marks bad rows with their problem and keeps the others', () => {
    const rows = importRows(
      [`ok,${S}`, `,${S}`, 'nosecret,', `badalg,${S},,,md5`, `baddigits,${S},,,,9`, `toomany,${S},a,b,sha1,6,30,extra`].join('\n'),
    );
    expect(rows.map((r) => ('problem' in r ? `${r.line}:${r.problem}` : `${r.line}:ok`))).toEqual([
      '1:ok',
      '2:the userId is empty',
      '3:the secret is empty',
      '4:algorithm "md5" must be sha1, sha256 or sha512',
      '5:digits "9" must be 6, 7 or 8',
      '6:8 fields, at most 7 expected (quote fields that hold commas)',
    ]);
  });

  it.each([
    ['an unknown header column', `userId,secret,colour\na,${S},red`, /unknown column "colour"/],
    ['a header without secret', 'userId,issuer\na,b', /must name the userId and secret/],
    ['no rows', 'userId,secret\n', /no rows/],
    ['an empty file', '', /no rows/],
    ['broken quoting', `"a,${S}`, /cannot be read: line 1/],
  ])('refuses %s as a whole, as wrong usage', (_what, text, message) => {
    let caught: unknown;
    try {
      importRows(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CliFailure);
    expect((caught as CliFailure).exit).toBe(2);
    expect((caught as CliFailure).message).toMatch(message);
  });
});
