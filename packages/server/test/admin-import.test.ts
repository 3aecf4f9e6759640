/**
 * importTotp attacked through GraphQL, on both stores: hostile secrets (other alphabets, letters
 * that upper-case into base32, lone surrogates, padding games, too short, too long, a megabyte),
 * hostile labels and ids, parameters out of range. Each refusal is exactly one BAD_USER_INPUT
 * naming its argument (or GraphQL's own type error, or 413 for the body limit), echoes no part of
 * the secret, and writes nothing: no state, no IMPORTED event. What is accepted is the secret
 * itself, however it is spaced, cased or padded.
 */
import { codeAtStep, parseBase32Secret } from '@totp-service/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startInProcess, type InProcessServer } from './support/in-process.js';
import { storePairs } from './support/pair.js';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ';
const IMPORT = 'mutation($i: ImportTotpInput!) { importTotp(input: $i) { userId status algorithm digits period issuer accountName } }';
const STATUS = 'query($u: ID!) { totpStatus(userId: $u) { status } }';

/** [what, input fields over { userId, secret }, the argument named] */
const REFUSED: [string, Record<string, unknown>, string][] = [
  ['a character outside base32', { secret: `${SECRET.slice(0, 10)}!${SECRET.slice(11)}` }, 'secret'],
  ['a digit 1, 8, 9 or 0', { secret: SECRET.replace('3', '1') }, 'secret'],
  ['base64', { secret: Buffer.from(SECRET).toString('base64') }, 'secret'],
  ['a long s (upper-cases to S)', { secret: SECRET.replace('S', 'ſ') }, 'secret'],
  ['a dotless i (upper-cases to I)', { secret: SECRET.replace('P', 'ı') }, 'secret'],
  ['sharp s (upper-cases to SS)', { secret: SECRET.replace('SW', 'ß') }, 'secret'],
  ['full-width letters', { secret: [...SECRET].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join('') }, 'secret'],
  ['Cyrillic look-alikes', { secret: SECRET.replaceAll('P', 'Р') }, 'secret'],
  ['a lone surrogate', { secret: `${SECRET}\ud800` }, 'secret'],
  ['padding in the middle', { secret: `${SECRET.slice(0, 16)}=${SECRET.slice(16)}` }, 'secret'],
  ['padding only', { secret: '========' }, 'secret'],
  ['empty', { secret: '' }, 'secret'],
  ['80 bits', { secret: SECRET.slice(0, 16) }, 'secret'],
  ['a length no bytes encode to', { secret: SECRET.slice(0, 25) }, 'secret'],
  ['130 bytes (over 128)', { secret: 'A'.repeat(208) }, 'secret'],
  ['60,000 characters', { secret: SECRET.repeat(1875) }, 'secret'],
  ['a control character in the account name', { accountName: 'bob\u0007' }, 'accountName'],
  ['a line break in the issuer', { issuer: 'Evil\nCorp' }, 'issuer'],
  ['a NUL in the issuer', { issuer: 'a\u0000b' }, 'issuer'],
  ['a lone surrogate in the account name', { accountName: 'a\udc00' }, 'accountName'],
  ['an account name of 257 characters', { accountName: 'a'.repeat(257) }, 'accountName'],
  ['an issuer of spaces', { issuer: '   ' }, 'issuer'],
  ['an empty account name', { accountName: '' }, 'accountName'],
  ['9 digits', { digits: 9 }, 'digits'],
  ['0 digits', { digits: 0 }, 'digits'],
  ['-6 digits', { digits: -6 }, 'digits'],
  ['a period of 45 s', { period: 45 }, 'period'],
  ['a period of 0', { period: 0 }, 'period'],
  ['an empty user id', { userId: '' }, 'userId'],
  ['a user id of 257 bytes', { userId: 'é'.repeat(129) }, 'userId'],
  ['a control character in the user id', { userId: 'a\tb' }, 'userId'],
];

describe.each(storePairs)('importTotp through GraphQL, %s', (_name, open) => {
  let s: InProcessServer;
  beforeAll(async () => {
    const [store, second] = await open();
    if (second !== store) await second.close();
    s = await startInProcess({ store, production: true });
  });
  afterAll(() => s.close());

  const importTotp = (input: Record<string, unknown>) => s.gql(IMPORT, { i: input }, ADMIN_TOKEN);
  const imported = async (userId: string) => (await s.store.auditEvents({ userId, types: ['IMPORTED'], first: 10 })).nodes.length;

  it.each(REFUSED)('refuses %s, naming it, writing nothing, echoing nothing', async (what, fields, argument) => {
    const userId = `refused-${what}`.slice(0, 40);
    const input = { userId, secret: SECRET, ...fields };
    const r = await importTotp(input);
    expect(r.json!.errors, r.text.slice(0, 200)).toHaveLength(1);
    expect(r.json!.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', argument });
    expect(r.json!.data).toBeNull();
    const secret = String(input.secret);
    for (let i = 0; i + 8 <= Math.min(secret.length, 64); i += 4) expect(r.text).not.toContain(secret.slice(i, i + 8));
    expect(r.text).not.toContain(SECRET.slice(0, 8));
    if (typeof input.userId === 'string' && input.userId !== '') {
      expect((await s.gql(STATUS, { u: input.userId }, ADMIN_TOKEN)).json!.data!.totpStatus).toBeNull();
      expect(await imported(input.userId)).toBe(0);
    }
  });

  it('refuses a megabyte secret at the body limit (413), and wrong types with GraphQL’s error, before anything runs', async () => {
    const mb = await importTotp({ userId: 'mb', secret: 'A'.repeat(1 << 20) });
    expect(mb.status).toBe(413);
    expect(mb.json!.errors![0]!.extensions!.code).toBe('PAYLOAD_TOO_LARGE');
    for (const [fields, message] of [
      [{ digits: 2 ** 31 }, 'Variable "$i" got invalid value <value> at "i.digits"; Int cannot represent non 32-bit signed integer value: <value>'],
      [{ period: 30.5 }, 'Variable "$i" got invalid value <value> at "i.period"; Int cannot represent non-integer value: <value>'],
      [{ algorithm: 'MD5' }, 'Variable "$i" got invalid value <value> at "i.algorithm"; Value <value> does not exist in "TotpAlgorithm" enum.'],
      [{ secret: null }, 'Variable "$i" got invalid value <value> at "i.secret"; Expected non-nullable type "String!" not to be null.'],
    ] as const) {
      const r = await importTotp({ userId: 'typed', secret: SECRET, ...fields });
      expect(r.status).toBe(400);
      expect(r.json!.errors!.map((e) => [e.message, e.extensions!.code])).toEqual([[message, 'BAD_USER_INPUT']]);
    }
    expect(await imported('mb')).toBe(0);
    expect(await imported('typed')).toBe(0);
  });

  it('accepts the secret however it is spaced, cased or padded, and keeps unicode labels exactly', async () => {
    const bytes = parseBase32Secret(SECRET);
    const forms = [SECRET.toLowerCase(), SECRET.replace(/(.{4})/g, '$1 ').trim(), SECRET.replace(/(.{4})/g, '$1-').slice(0, -1), `${SECRET}======`, `\t${SECRET}\n`];
    for (const [i, secret] of forms.entries()) {
      const userId = `form-${i}`;
      const r = await importTotp({ userId, secret, accountName: '用户-42 🙂', issuer: 'Ünïcødé Bank' });
      expect(r.json!.errors, r.text).toBeUndefined();
      expect(r.json!.data!.importTotp).toEqual({ userId, status: 'ACTIVE', algorithm: 'SHA1', digits: 6, period: 30, issuer: 'Ünïcødé Bank', accountName: '用户-42 🙂' });
      const code = codeAtStep(bytes, Math.floor(Date.now() / 30_000), { algorithm: 'SHA1', digits: 6, period: 30 });
      const v = await s.gql('mutation($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome } }', { u: userId, c: code });
      expect((v.json!.data!.verifyTotp as { outcome: string }).outcome).toBe('ACCEPTED');
      expect(await imported(userId)).toBe(1);
    }
    // the imported event says how, never what
    const [event] = (await s.store.auditEvents({ userId: 'form-0', types: ['IMPORTED'], first: 1 })).nodes;
    expect(event).toMatchObject({ type: 'IMPORTED', actor: 'ops', detail: 'SHA1, 6 digits, 30 s' });
  });

  it('refuses an import over an active factor with ALREADY_ENROLLED, changing nothing', async () => {
    expect((await importTotp({ userId: 'twice', secret: SECRET })).json!.errors).toBeUndefined();
    const r = await importTotp({ userId: 'twice', secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', digits: 8 });
    expect(r.json!.errors!.map((e) => e.extensions!.code)).toEqual(['ALREADY_ENROLLED']);
    expect(r.text).not.toContain('GEZDGNBV');
    expect(await imported('twice')).toBe(1);
    expect((await s.gql('query { totpStatus(userId: "twice") { digits } }', {}, ADMIN_TOKEN)).json!.data!.totpStatus).toEqual({ digits: 6 });
  });
});
