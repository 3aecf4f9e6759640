import { describe, expect, it } from 'vitest';
import { parseKeyUri, splitLabel, UriProblem } from '../src/otpauth-uri.js';

const S = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('parseKeyUri', () => {
  it('reads the label, the issuer and the parameters; the userId is the account name by default', () => {
    expect(parseKeyUri(`otpauth://totp/ACME%20Co:john.doe@example.com?secret=${S}&issuer=ACME%20Co&algorithm=SHA512&digits=8&period=60`, 'account')).toEqual({
      userId: 'john.doe@example.com',
      secret: S,
      accountName: 'john.doe@example.com',
      issuer: 'ACME Co',
      algorithm: 'SHA512',
      digits: 8,
      period: 60,
    });
  });

  it('takes the whole label as the userId with --user-from label', () => {
    expect(parseKeyUri(`otpauth://totp/ACME:alice?secret=${S}`, 'label')).toMatchObject({ userId: 'ACME:alice', accountName: 'alice', issuer: 'ACME' });
  });

  it('reads an escaped colon, spaces after it, unicode labels, a lower-case type and a + as a space in the issuer', () => {
    expect(parseKeyUri(`OTPAUTH://TOTP/%E7%94%A8%E6%88%B7%3A%20%20%C3%A9l%C3%A8ve?secret=${S.toLowerCase()}&issuer=Caf%C3%A9+Cr%C3%A8me`, 'account')).toEqual({
      userId: 'élève',
      secret: S.toLowerCase(),
      accountName: 'élève',
      issuer: 'Café Crème',
    });
  });

  it('leaves the issuer out when there is none, and prefers the parameter to the prefix', () => {
    expect(parseKeyUri(`otpauth://totp/alice?secret=${S}`, 'account')).toEqual({ userId: 'alice', secret: S, accountName: 'alice' });
    expect(parseKeyUri(`otpauth://totp/Old:alice?secret=${S}&issuer=New`, 'account')).toMatchObject({ issuer: 'New' });
  });

  it.each([
    ['an HOTP URI', `otpauth://hotp/alice?secret=${S}&counter=3`, /HOTP \(counter-based\)/],
    ['another type', `otpauth://steam/alice?secret=${S}`, /otpauth type "steam": only totp/],
    ['no secret', 'otpauth://totp/alice?issuer=x', /no secret parameter/],
    ['an empty secret', 'otpauth://totp/alice?secret=', /no secret parameter/],
    ['a secret given twice', `otpauth://totp/alice?secret=${S}&secret=${S}`, /secret is given twice/],
    ['a period the service does not offer', `otpauth://totp/alice?secret=${S}&period=15`, /period "15" must be 30 or 60/],
    ['too many digits', `otpauth://totp/alice?secret=${S}&digits=10`, /digits "10" must be 6, 7 or 8/],
    ['MD5', `otpauth://totp/alice?secret=${S}&algorithm=MD5`, /algorithm "MD5" must be/],
    ['no account name', `otpauth://totp/ACME:?secret=${S}`, /no account name/],
    ['a broken escape', `otpauth://totp/al%ZZice?secret=${S}`, /broken %-escape/],
    ['not a URI', 'https://example.com/', /not an otpauth:\/\/ URI/],
  ])('refuses %s, never repeating the secret', (_what, uri, message) => {
    let caught: unknown;
    try {
      parseKeyUri(uri, 'account');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UriProblem);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toContain(S);
  });
});

describe('splitLabel', () => {
  it('splits at the first colon only', () => {
    expect(splitLabel('a:b:c')).toEqual({ label: 'a:b:c', issuer: 'a', accountName: 'b:c' });
    expect(splitLabel('plain')).toEqual({ label: 'plain', issuer: undefined, accountName: 'plain' });
  });
});
