/**
 * GraphQL's own errors (parse, validation, variable coercion) never repeat the value they refused
 * (graphql-messages.ts): a secret, code or recovery code sent with the wrong type, unquoted, or
 * next to a misspelt field comes back as `<value>`, with the rest of the message (which variable,
 * which path, which type) intact. Exact messages for the shapes a client gets wrong, then
 * properties over arbitrary JSON and arbitrary literals. Names (of fields, variables, types) are
 * repeated: they are the schema's words, not values.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startInProcess, type InProcessServer } from './support/in-process.js';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ';
const RECOVERY = 'abcd-efgh-jkmn';
const IMPORT = 'mutation($i: ImportTotpInput!) { importTotp(input: $i) { status } }';
const VERIFY = 'mutation($c: String!) { verifyTotp(userId: "u", code: $c) { outcome } }';
const RECOVER = 'mutation($c: String!) { verifyRecoveryCode(userId: "u", code: $c) { outcome } }';

describe('GraphQL errors without the values they refused', () => {
  let s: InProcessServer;
  beforeAll(async () => {
    s = await startInProcess({ production: true });
  });
  afterAll(() => s.close());

  const answer = async (query: string, variables: Record<string, unknown> = {}) => {
    const r = await s.gql(query, variables, ADMIN_TOKEN);
    expect(r.status).toBe(400);
    expect(r.json!.errors).toHaveLength(1);
    return { text: r.text, message: r.json!.errors![0]!.message, code: r.json!.errors![0]!.extensions!.code };
  };

  it.each([
    ['an import with a misspelt field', IMPORT, { i: { userId: 'a', secret: SECRET, digit: 6 } },
      'Variable "$i" got invalid value <value>; Field "digit" is not defined by type "ImportTotpInput".'],
    ['a secret in a list', IMPORT, { i: { userId: 'a', secret: [SECRET] } },
      'Variable "$i" got invalid value <value> at "i.secret"; String cannot represent a non string value: <value>'],
    ['a secret as the algorithm', IMPORT, { i: { userId: 'a', secret: 'x', algorithm: SECRET } },
      'Variable "$i" got invalid value <value> at "i.algorithm"; Value <value> does not exist in "TotpAlgorithm" enum.'],
    ['a secret where the input goes', IMPORT, { i: SECRET },
      'Variable "$i" got invalid value <value>; Expected type "ImportTotpInput" to be an object.'],
    ['a code as a number', VERIFY, { c: 123456 }, 'Variable "$c" got invalid value <value>; String cannot represent a non string value: <value>'],
    ['a recovery code in an object', RECOVER, { c: { code: RECOVERY } },
      'Variable "$c" got invalid value <value>; String cannot represent a non string value: <value>'],
    ['a secret as a date', 'query($d: DateTime) { auditEvents(since: $d) { nodes { id } } }', { d: SECRET },
      'Variable "$d" got invalid value <value>; DateTime cannot represent an invalid date-time-string <value>'],
    ['a secret among the event types', 'query($t: [AuditEventType!]) { auditEvents(types: $t) { nodes { id } } }', { t: ['VERIFY', SECRET] },
      'Variable "$t" got invalid value <value> at "t[1]"; Value <value> does not exist in "AuditEventType" enum.'],
    ['a secret unquoted', `mutation { importTotp(input: {userId: "a", secret: ${SECRET}}) { status } }`, {},
      'String cannot represent a non string value: <value>'],
    ['a secret as an enum literal', `mutation { importTotp(input: {userId: "a", secret: "x", algorithm: ${SECRET}}) { status } }`, {},
      'Value <value> does not exist in "TotpAlgorithm" enum.'],
    ['a code unquoted', 'mutation { verifyTotp(userId: "u", code: 123456) { outcome } }', {}, 'String cannot represent a non string value: <value>'],
    ['a code broken in two', 'mutation { verifyTotp(userId: "u", code: "1234" 56) { outcome } }', {}, 'Syntax Error: Expected Name, found Int <value>.'],
    ['a recovery code as a name', `mutation { verifyRecoveryCode(userId: "u", code: ${RECOVERY.replaceAll('-', '_')}) { outcome } }`, {},
      'String cannot represent a non string value: <value>'],
    ['a secret after a missing colon', `mutation { importTotp(input: {userId: "a" secret "${SECRET}"}) { status } }`, {},
      'Syntax Error: Expected ":", found String <value>.'],
  ])('%s', async (_what, query, variables, message) => {
    const r = await answer(query, variables);
    expect(r.message).toBe(message);
    for (const value of [SECRET, RECOVERY, 'efgh', '123456']) expect(r.text).not.toContain(value);
  });

  it('keeps the messages that quote no value', async () => {
    expect((await answer('query($u: ID!) { totpStatus(userId: $u) { status } }')).message).toBe('Variable "$u" of required type "ID!" was not provided.');
    expect((await answer('{ totpStatus(userId: "a") { nope } }')).message).toBe('Cannot query field "nope" on type "TotpState".');
    expect((await answer(`mutation { importTotp(input: {userId: "a", secret: "${SECRET}`)).message).toBe('Syntax Error: Unterminated string.');
  });

  it('never repeats a marker hidden anywhere in a variable of the wrong type', async () => {
    const marker = fc.stringMatching(/^[A-Z2-7]{16,40}$/);
    const json = (m: string) =>
      fc.letrec<{ v: unknown }>((tie) => ({
        v: fc.oneof({ depthSize: 'small' }, fc.constant(m), fc.integer(), fc.boolean(), fc.array(tie('v'), { maxLength: 3 }),
          fc.dictionary(fc.constantFrom('userId', 'secret', 'digits', 'issuer', 'x'), tie('v'), { maxKeys: 4 })),
      })).v;
    const sent = marker.chain((m) => fc.tuple(fc.constant(m), json(m), fc.constantFrom(IMPORT, VERIFY, RECOVER)));
    await fc.assert(
      fc.asyncProperty(sent, async ([m, value, query]) => {
        const variable = query === IMPORT ? 'i' : 'c';
        const r = await s.gql(query, { [variable]: value }, ADMIN_TOKEN);
        if (r.status === 400) expect(r.json!.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
        if (r.json!.errors) for (const e of r.json!.errors) expect(e.message).not.toContain(m);
      }),
      { numRuns: 200 },
    );
  });

  it('never repeats a marker written as a literal of the wrong type', async () => {
    const literal = fc.stringMatching(/^[A-Z][A-Z2-7]{15,40}$/).chain((m) =>
      fc.tuple(fc.constant(m), fc.constantFrom(m, `[${m}]`, `["${m}"]`, `{ x: "${m}" }`, `[1, ${m}]`, `"${m}" ${m}`, `${m}!`, `"${m}`)));
    const fields = (v: string) => [
      `mutation { importTotp(input: { userId: "a", secret: ${v} }) { status } }`,
      `mutation { importTotp(input: { userId: "a", secret: "x", algorithm: ${v} }) { status } }`,
      `mutation { importTotp(input: { userId: "a", secret: "x", digits: ${v} }) { status } }`,
      `mutation { verifyTotp(userId: "u", code: ${v}) { outcome } }`,
      `{ auditEvents(since: ${v}) { nodes { id } } }`,
    ];
    await fc.assert(
      fc.asyncProperty(literal, fc.nat(4), async ([m, v], which) => {
        const r = await s.gql(fields(v)[which]!, {}, ADMIN_TOKEN);
        for (const e of r.json!.errors ?? []) expect(e.message, fields(v)[which]).not.toContain(m);
      }),
      { numRuns: 200 },
    );
  });
});
