import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildKeyUri, encodeBase32, generateSecret, type KeyUriParams } from '../src/index.js';
import { runPython } from './support/python.js';
import { requireTool } from '../../../test/support/tools.js';

const python = requireTool('pyotp');

const base: KeyUriParams = {
  secret: 'JBSWY3DPEHPK3PXP',
  issuer: 'Example',
  accountName: 'alice',
  algorithm: 'SHA1',
  digits: 6,
  period: 30,
};

/** Read a Key URI back the way a careful authenticator app does: split the raw label at its
 * first ':' (an encoded one, %3A, belongs to a part), then decode each part. */
function readBack(uri: string) {
  const url = new URL(uri);
  const rawLabel = url.pathname.slice(1);
  const colon = rawLabel.indexOf(':');
  return {
    scheme: url.protocol,
    type: url.host,
    labelIssuer: decodeURIComponent(rawLabel.slice(0, colon)),
    accountName: decodeURIComponent(rawLabel.slice(colon + 1)),
    secret: url.searchParams.get('secret'),
    issuer: url.searchParams.get('issuer'),
    algorithm: url.searchParams.get('algorithm'),
    digits: url.searchParams.get('digits'),
    period: url.searchParams.get('period'),
  };
}

const AWKWARD = [
  'ACME Co',
  'a:b',
  'Acme: Staging',
  'alice@example.com',
  'R&D',
  'who?',
  'C# #1',
  'a/b/c',
  '100%',
  '%41',
  'C++ shop',
  'x=y;z',
  "O'Brien (ops)",
  'Zürich Bank',
  '東京支店',
  'Crème brûlée 🔐',
  ' spaced ',
  '{x}:y',
];

describe('buildKeyUri', () => {
  it('writes the Key URI Format with the issuer in the label and as a parameter', () => {
    expect(buildKeyUri(base)).toBe(
      'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example&algorithm=SHA1&digits=6&period=30',
    );
    expect(
      buildKeyUri({ ...base, accountName: 'alice@example.com', algorithm: 'SHA512', digits: 8, period: 60 }),
    ).toBe(
      'otpauth://totp/Example:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example&algorithm=SHA512&digits=8&period=60',
    );
    expect(buildKeyUri({ ...base, issuer: 'TOTP Service', algorithm: 'SHA256', digits: 7 })).toBe(
      'otpauth://totp/TOTP%20Service:alice?secret=JBSWY3DPEHPK3PXP&issuer=TOTP%20Service&algorithm=SHA256&digits=7&period=30',
    );
  });

  it('encodes issuer and account separately, so the first raw ":" separates them', () => {
    expect(buildKeyUri({ ...base, issuer: 'a:b', accountName: 'c:d' })).toMatch(
      /^otpauth:\/\/totp\/a%3Ab:c%3Ad\?/,
    );
    for (const issuer of AWKWARD) {
      for (const accountName of AWKWARD) {
        const uri = buildKeyUri({ ...base, issuer, accountName });
        expect(uri).toMatch(/^[\x21-\x7e]+$/); // printable ASCII only: no space, no raw Unicode
        expect(readBack(uri)).toEqual({
          scheme: 'otpauth:',
          type: 'totp',
          labelIssuer: issuer,
          accountName,
          secret: base.secret,
          issuer,
          algorithm: 'SHA1',
          digits: '6',
          period: '30',
        });
      }
    }
  });

  it('round-trips any issuer and account through new URL()', () => {
    // Well-formed strings: a lone surrogate has no UTF-8 form to percent-encode.
    const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(text, text, (issuer, accountName) => {
        const read = readBack(buildKeyUri({ ...base, issuer, accountName }));
        expect([read.labelIssuer, read.accountName, read.issuer]).toEqual([issuer, accountName, issuer]);
      }),
    );
  });

  describe.skipIf(!python)('read back by pyotp.parse_uri', () => {
    // pyotp 2.6 unquotes the whole URI before parsing it, so it misreads names holding an
    // encoded '&', '#', '?', '%', ':' or '/', and then decodes the query a second time, turning
    // a '+' of the issuer into a space (then refusing the URI: label and parameter differ).
    // Whoever encodes the URI, only names without those characters can be compared.
    const names: [string, string][] = [
      ['Example', 'alice'],
      ['ACME Co', 'alice@example.com'],
      ['Zürich Bank', 'josé.müller'],
      ['東京支店', '用户-42'],
      ['Shop', 'a.b+c@example.com'],
    ];
    const PARSE = `
import json, sys, pyotp
out = []
for uri in json.load(sys.stdin):
    t = pyotp.parse_uri(uri)
    out.append({'secret': t.secret, 'issuer': t.issuer, 'name': t.name, 'digits': t.digits,
                'period': t.interval, 'algorithm': t.digest().name.upper()})
print(json.dumps(out))
`;

    it('gives back the secret, issuer, account, digits, period and algorithm', () => {
      const params = names.flatMap(([issuer, accountName], i) =>
        (['SHA1', 'SHA256', 'SHA512'] as const).map((algorithm) => ({
          issuer,
          accountName,
          algorithm,
          secret: encodeBase32(generateSecret(algorithm)),
          digits: ([6, 7, 8] as const)[i % 3]!,
          period: ([30, 60] as const)[i % 2]!,
        })),
      );
      const read = runPython<object[]>(python!, PARSE, params.map(buildKeyUri));
      expect(read).toEqual(
        params.map((p) => ({
          secret: p.secret,
          issuer: p.issuer,
          name: p.accountName,
          digits: p.digits,
          period: p.period,
          algorithm: p.algorithm,
        })),
      );
    });
  });
});
