/**
 * Google Authenticator transfer lines, decoded with protobufjs and the .proto schema. The data
 * strings are published test vectors of open-source extractors of the format (only the data is
 * copied): scito/extract_otp_secrets (example_export.txt) and johncallahan/otpauth_migration
 * (test/otpauth_migration_test.dart) on GitHub, with the secrets those projects expect.
 */
import { describe, expect, it } from 'vitest';
import { decodeMigrationLine, migrationAccount, payloadBytes } from '../src/migration.js';
import { loadSecrets } from '../src/import-check.js';
import { UriProblem } from '../src/otpauth-uri.js';

// scito/extract_otp_secrets, example_export.txt: the Raspberry Pi example, an HOTP account, a unicode name.
const PI = 'otpauth-migration://offline?data=CjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACjr4JKK%2B%2F%2F%2F%2F%2F8B';
const HOTP = 'otpauth-migration://offline?data=CiUKEPqlBekzoNEukL7qlsjBCDYSCWhvdHAgZGVtbyABKAEwATgEEAEYASAAKNuv15j6%2F%2F%2F%2F%2FwE%3D';
const UNICODE = 'otpauth-migration://offline?data=CjYKEPqlBekzoNEukL7qlsjBCDYSHGVuY29kaW5nOiDCv8Okw4TDqcOJPyAoZGVtbykgASgBMAIQARgBIAAorfCurv%2F%2F%2F%2F%2F%2FAQ%3D%3D';
// johncallahan/otpauth_migration, test/otpauth_migration_test.dart: four accounts in one payload (raw '+' and '/' in the data).
const FOUR =
  'otpauth-migration://offline?data=Cj8KFGnEpnTMQ7KDguNWnddyGyCbSVLaEhhBQ01FIENvOmpvaG5AZXhhbXBsZS5jb20aB0FDTUUgQ28gASgBMAIKRAoUXkj+5MY2arwKjsnH2aDsbm6TAlYSG0JldGEgTHRkLjpob21lckBleGFtcGxlLmNvbRoJQmV0YSBMdGQuIAEoATACCkgKFDDFyzUNPgYoI3q/KGHBdcNU9ptWEh1DYXRzICYgRG9nczptYXJnZUBleGFtcGxlLmNvbRoLQ2F0cyAmIERvZ3MgASgBMAIKSAoUunHzbm5h/LUO0yilLMI+dYZY1eISHURhaWx5IEJ1Z2xlOnBldGVyQGV4YW1wbGUuY29tGgtEYWlseSBCdWdsZSABKAEwAhABGAEgACjDnb+uAg==';
// johncallahan/otpauth_migration: an 80-bit secret (JBSWY3DPEHPK3PXP), algorithm and digits left unspecified.
const SHORT = 'otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8SGEV4YW1wbGU6YWxpY2VAZ29vZ2xlLmNvbRoHRXhhbXBsZTAC';

describe('otpauth-migration', () => {
  it('decodes the published vectors to the secrets the extractors expect', async () => {
    const { encodeBase32 } = await loadSecrets();
    const four = await decodeMigrationLine(FOUR);
    expect(four.otpParameters.map((p) => [p.name, p.issuer, encodeBase32(p.secret)])).toEqual([
      ['ACME Co:john@example.com', 'ACME Co', 'NHCKM5GMIOZIHAXDK2O5O4Q3ECNUSUW2'],
      ['Beta Ltd.:homer@example.com', 'Beta Ltd.', 'LZEP5ZGGGZVLYCUOZHD5TIHMNZXJGASW'],
      ['Cats & Dogs:marge@example.com', 'Cats & Dogs', 'GDC4WNINHYDCQI32X4UGDQLVYNKPNG2W'],
      ['Daily Bugle:peter@example.com', 'Daily Bugle', 'XJY7G3TOMH6LKDWTFCSSZQR6OWDFRVPC'],
    ]);
    const pi = await decodeMigrationLine(PI);
    expect(encodeBase32(pi.otpParameters[0]!.secret)).toBe('7KSQL2JTUDIS5EF65KLMRQIIGY');
    expect(encodeBase32((await decodeMigrationLine(SHORT)).otpParameters[0]!.secret)).toBe('JBSWY3DPEHPK3PXP');
  });

  it("maps Google's enums: TOTP imported as SHA1, 6 digits; HOTP skipped; the label split", async () => {
    const [pi] = (await decodeMigrationLine(PI)).otpParameters;
    expect(migrationAccount(pi!, 'account')).toMatchObject({ kind: 'totp', userId: 'pi@raspberrypi', accountName: 'pi@raspberrypi', issuer: 'raspberrypi', algorithm: 'SHA1', digits: 6 });
    const [hotp] = (await decodeMigrationLine(HOTP)).otpParameters;
    expect(migrationAccount(hotp!, 'account')).toEqual({ kind: 'skip', userId: 'hotp demo', reason: expect.stringMatching(/HOTP \(counter-based\) account, counter 4/) as string });
    const [unicode] = (await decodeMigrationLine(UNICODE)).otpParameters;
    expect(migrationAccount(unicode!, 'label')).toMatchObject({ kind: 'totp', userId: 'encoding: ¿äÄéÉ? (demo)', accountName: '¿äÄéÉ? (demo)', issuer: 'encoding' });
    const [short] = (await decodeMigrationLine(SHORT)).otpParameters;
    expect(migrationAccount(short!, 'account')).toMatchObject({ kind: 'totp', userId: 'alice@google.com', algorithm: 'SHA1', digits: 6 });
  });

  it('maps SHA256/SHA512 and eight digits, and refuses MD5 and an unknown type on the row', () => {
    const p = { secret: new Uint8Array(20), name: 'x:y', issuer: '', counter: '0' };
    expect(migrationAccount({ ...p, algorithm: 3, digits: 2, type: 2 }, 'account')).toMatchObject({ algorithm: 'SHA512', digits: 8 });
    expect(migrationAccount({ ...p, algorithm: 2, digits: 1, type: 2 }, 'account')).toMatchObject({ algorithm: 'SHA256', digits: 6 });
    expect(migrationAccount({ ...p, algorithm: 4, digits: 1, type: 2 }, 'account')).toMatchObject({ kind: 'problem', reason: expect.stringMatching(/MD5 is not supported/) as string });
    expect(migrationAccount({ ...p, algorithm: 1, digits: 1, type: 0 }, 'account')).toMatchObject({ kind: 'problem', reason: expect.stringMatching(/unknown type 0/) as string });
    expect(migrationAccount({ ...p, algorithm: 1, digits: 7, type: 2 }, 'account')).toMatchObject({ kind: 'problem' });
  });

  it.each([
    ['a truncated payload', SHORT.slice(0, -12), /cut short or damaged/],
    ['a character outside base64', SHORT.replace('CjEK', 'Cj!K'), /not base64/],
    ['base64 of a length no bytes have', `${SHORT}A`, /not base64/],
    ['no data', 'otpauth-migration://offline?foo=1', /no data parameter/],
    ['another scheme', 'otpauth://totp/x?secret=A', /not an otpauth-migration/],
    ['a payload with no accounts', 'otpauth-migration://offline?data=EAEYASAA', /holds no accounts/],
  ])('refuses %s with a clear problem', async (_what, line, message) => {
    await expect(decodeMigrationLine(line)).rejects.toThrow(UriProblem);
    await expect(decodeMigrationLine(line)).rejects.toThrow(message);
  });

  it('reads URL-safe base64, missing padding and a + turned into a space', () => {
    const bytes = payloadBytes(FOUR);
    const b64 = Buffer.from(bytes).toString('base64');
    expect(payloadBytes(`otpauth-migration://offline?data=${b64.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')}`)).toEqual(bytes);
    expect(payloadBytes(`otpauth-migration://offline?data=${b64.replaceAll('+', ' ')}`)).toEqual(bytes);
  });
});
