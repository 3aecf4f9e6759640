import { describe, expect, it } from 'vitest';
import { CliFailure } from '../src/errors.js';
import { importRows, PENDING_SKIP } from '../src/import-rows.js';
import { jsonRow } from '../src/import-sources.js';

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

  it('reads the columns export --format csv writes: devices and lastUsedAt, PENDING devices skipped', () => {
    const header = 'userId,secret,issuer,accountName,algorithm,digits,period,deviceName,lastUsedAt,status,deviceId,createdAt,activatedAt';
    const rows = importRows(
      [header, `ann,${S},Acme,ann@x,SHA512,8,60,phone,2024-05-01T12:00:30.000Z,ACTIVE,1,2024-01-01T00:00:00.000Z,2024-01-01T00:01:00.000Z`, `bob,${S},Acme,bob,SHA1,6,30,default,,PENDING,0,2024-01-01T00:00:00.000Z,`].join('\n'),
    );
    expect(rows).toEqual([
      {
        line: 2,
        userId: 'ann',
        input: { userId: 'ann', secret: S, issuer: 'Acme', accountName: 'ann@x', deviceName: 'phone', lastUsedAt: '2024-05-01T12:00:30.000Z', algorithm: 'SHA512', digits: 8, period: 60 },
      },
      { line: 3, userId: 'bob', skip: PENDING_SKIP },
    ]);
  });
});

describe('jsonRow', () => {
  const factor = { userId: 'ann', deviceId: '1', deviceName: 'phone', status: 'ACTIVE', secret: S, algorithm: 'SHA256', digits: 7, period: 60, issuer: 'Acme', accountName: 'ann@x', lastUsedAt: '2024-05-01T12:00:30.000Z', createdAt: 'x', activatedAt: null };
  const row = (value: unknown) => jsonRow({ line: 4, index: 3, text: typeof value === 'string' ? value : JSON.stringify(value) });

  it('restores a factor of an export: device name, parameters and lastUsedAt', () => {
    expect(row(factor)).toEqual({
      line: 4,
      userId: 'ann',
      input: { userId: 'ann', secret: S, issuer: 'Acme', accountName: 'ann@x', deviceName: 'phone', lastUsedAt: '2024-05-01T12:00:30.000Z', algorithm: 'SHA256', digits: 7, period: 60 },
    });
    expect(row({ ...factor, lastUsedAt: null })).toMatchObject({ input: expect.not.objectContaining({ lastUsedAt: expect.anything() as unknown }) as unknown });
  });

  it.each([
    [{ ...factor, status: 'PENDING' }, { skip: PENDING_SKIP }],
    ['{"userId": ', { problem: 'factor 3 is not JSON' }],
    [[1, 2], { problem: 'factor 3 is not an object' }],
    [{ ...factor, userId: 7 }, { problem: 'no userId' }],
    [{ ...factor, secret: undefined }, { problem: 'no secret' }],
    [{ ...factor, digits: 9 }, { problem: 'digits "9" must be 6, 7 or 8' }],
    [{ ...factor, algorithm: { a: 1 } }, { problem: expect.stringMatching(/^algorithm .* must be sha1, sha256 or sha512$/) as string }],
    [{ ...factor, deviceName: 5 }, { problem: 'deviceName must be a string' }],
    [{ ...factor, status: 'LOST' }, { problem: 'status "LOST" must be ACTIVE or PENDING' }],
  ])('%j: %j', (value, expected) => {
    expect(row(value)).toMatchObject(expected);
  });
});
