/**
 * What a rejected request costs the server: 1,000 of each attack against the built server on
 * Redis, one after another on a kept-alive connection; latency median and p99 as the client sees
 * them, and the server process's CPU time per request (from /proc). The numbers are printed (the
 * report quotes them); the bounds asserted are loose, for a loaded two-core machine: what they
 * catch is a rejection that does real work (parsing a huge document, running a batch, a lookup).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { measure, type Cost } from './support/http.js';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';

const redisUrl = inject('redisUrl');
const N = 1000;

describe.skipIf(!redisUrl)('the cost of rejected requests', () => {
  let server: ServerProcess;
  const results: Record<string, Cost & { status: number; code: string }> = {};
  beforeAll(async () => {
    server = await startServer({
      env: { NODE_ENV: 'production', REDIS_URL: redisUrl!, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: `ac${randomBytes(3).toString('hex')}:`, LOG_LEVEL: 'warn' },
    });
  });
  afterAll(async () => {
    console.table(results);
    expect(server.stderr()).toBe('');
    expect(await server.stop()).toBe(0);
  });

  const body = (query: string) => JSON.stringify({ query });
  const verify = (alias: string, code = '000000') => `${alias}: verifyTotp(userId: "cost-victim", code: "${code}") { outcome }`;
  const frags = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');

  const attacks: [string, string, Record<string, string>, number, string, number?][] = [
    ['16 aliases of verifyTotp', body(`mutation { ${Array.from({ length: 16 }, (_, i) => verify(`a${i}`)).join(' ')} }`), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['16 aliases of verifyRecoveryCode', body(`mutation { ${Array.from({ length: 16 }, (_, i) => `a${i}: verifyRecoveryCode(userId: "cost-victim", code: "abcd-efgh-jkmn") { outcome }`).join(' ')} }`), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['2 sparse audit scans (admin)', body(`{ a: auditEvents(first: 1, types: [REKEYED]) { pageInfo { hasNextPage } } b: auditEvents(first: 1, types: [REKEYED]) { pageInfo { hasNextPage } } }`), { authorization: `Bearer ${ADMIN_TOKEN}` }, 400, 'QUERY_TOO_COMPLEX'],
    ['an import with the secret in a list (type error, value not echoed)', JSON.stringify({ query: 'mutation($i: ImportTotpInput!) { importTotp(input: $i) { status } }', variables: { i: { userId: 'x', secret: ['JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'] } } }), { authorization: `Bearer ${ADMIN_TOKEN}` }, 400, 'BAD_USER_INPUT'],
    ['16 aliases hidden in a fragment spread twice', body(`mutation { ...F ...F } fragment F on Mutation { ${Array.from({ length: 8 }, (_, i) => verify(`a${i}`)).join(' ')} }`), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['500 aliases (over the token limit)', body(`mutation { ${Array.from({ length: 500 }, (_, i) => verify(`a${i}`)).join(' ')} }`), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['depth 9', body('{ __type(name: "Query") { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } }'), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['2^30 fields through fragments (cost)', body(`{ ...F0 } ${frags} fragment F30 on Query { totpStatus(userId: "x") { status } }`), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['11 directives', body(`{ ${Array.from({ length: 11 }, () => '... @include(if: true) { __typename }').join(' ')} }`), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['a batch of 100 verifies (JSON array)', JSON.stringify(Array.from({ length: 100 }, () => ({ query: `mutation { ${verify('v')} }` }))), {}, 400, 'BAD_REQUEST'],
    ['CSRF: text/plain', body('mutation { revokeTotp(userId: "x") { revoked } }'), { 'content-type': 'text/plain' }, 400, 'BAD_REQUEST'],
    ['bad JSON', '{"query": "{', {}, 400, 'BAD_REQUEST'],
    ['unknown token', body(`mutation { ${verify('v')} }`), { authorization: 'Bearer not-a-token-of-this-server' }, 401, 'UNAUTHENTICATED'],
    ['introspection (production)', body('{ __schema { types { name fields { name } } } }'), {}, 400, 'GRAPHQL_VALIDATION_FAILED'],
    ['60 KiB of whitespace and one field', body(`{${' '.repeat(60_000)}__typename }`), {}, 200, '', 200],
    ['a body of 1 MiB (declared length)', body(`{ __typename } #${'x'.repeat(1 << 20)}`), {}, 413, 'PAYLOAD_TOO_LARGE', 200],
  ];

  it.each(attacks)('%s', async (name, payload, headers, status, code, n = N) => {
    let last = { status: 0, code: '' };
    const send = async () => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}`, ...headers },
        body: payload,
      });
      const text = await res.text();
      last = { status: res.status, code: (JSON.parse(text) as { errors?: { extensions: { code: string } }[] }).errors?.[0]?.extensions.code ?? '' };
    };
    const cost = await measure(server.process.pid!, n, send);
    results[name] = { ...cost, ...last };
    expect(last).toEqual({ status, code });
    expect(cost.medianMs).toBeLessThan(50);
    expect(cost.p99Ms).toBeLessThan(250);
    if (cost.cpuMs !== null) expect(cost.cpuMs).toBeLessThan(20);
  });

  it('for comparison: a legitimate verify (two Redis round trips)', async () => {
    const cost = await measure(server.process.pid!, N, () =>
      server.gql('mutation($u: ID!) { verifyTotp(userId: $u, code: "123456") { outcome } }', { u: `nobody-${randomBytes(4).toString('hex')}` }, APP_TOKEN));
    results['legitimate verify (NOT_ENROLLED)'] = { ...cost, status: 200, code: '' };
    expect(cost.medianMs).toBeLessThan(50);
  });
});
