/**
 * Hostile and malformed requests against the built server in production mode, on Redis: each is
 * answered with a small 4xx (a GraphQL-shaped error with a code where there is a body), never a
 * 5xx, never an unhandled rejection; the server stays healthy after each, and at the end its
 * stderr is empty and it exits cleanly.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rawRequest } from './support/http.js';
import { APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';

const redisUrl = inject('redisUrl');

interface Answer {
  readonly status: number;
  readonly text: string;
}

describe.skipIf(!redisUrl)('malformed and hostile HTTP, production mode', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({
      env: { NODE_ENV: 'production', REDIS_URL: redisUrl!, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: `hh${randomBytes(3).toString('hex')}:` },
    });
  });
  afterAll(async () => {
    expect(server.process.exitCode).toBeNull();
    expect(server.stderr()).toBe('');
    expect(server.stdout()).not.toMatch(/unhandled|uncaught|"level":(50|60)/i);
    expect(await server.stop()).toBe(0);
  });

  const post = async (body: string | Buffer, headers: Record<string, string> = {}, method = 'POST'): Promise<Answer> => {
    const res = await fetch(server.url, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}`, ...headers },
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
    });
    return { status: res.status, text: await res.text() };
  };
  const json = (x: unknown) => JSON.stringify(x);
  const Q = '{ totpStatus(userId: "x") { status } }';

  /** [what, send, status, code] — code is the first error's extensions.code, null for no body. */
  const cases: [string, () => Promise<Answer>, number, string | null][] = [
    ['wrong content type (XML)', () => post(json({ query: Q }), { 'content-type': 'application/xml' }), 400, 'BAD_REQUEST'],
    ['a CSRF-able content type (text/plain)', () => post(json({ query: Q }), { 'content-type': 'text/plain' }), 400, 'BAD_REQUEST'],
    ['no content type', () => post(json({ query: Q }), { 'content-type': '' }), 400, 'BAD_REQUEST'],
    ['bad JSON', () => post('{"query": "{ totpStatus'), 400, 'BAD_REQUEST'],
    ['an empty body', () => post(''), 400, 'BAD_REQUEST'],
    ['JSON that is a number', () => post('42'), 400, 'BAD_REQUEST'],
    ['JSON that is null', () => post('null'), 400, 'BAD_REQUEST'],
    ['JSON that is a string', () => post('"{ __typename }"'), 400, 'BAD_REQUEST'],
    ['a JSON array (a batch)', () => post(json([{ query: Q }, { query: Q }])), 400, 'BAD_REQUEST'],
    ['a query that is not a string', () => post(json({ query: { a: 1 } })), 400, 'BAD_REQUEST'],
    ['variables that are not an object', () => post(json({ query: Q, variables: 'x' })), 400, 'BAD_REQUEST'],
    ['extensions that are not an object', () => post(json({ query: Q, extensions: [1] })), 400, 'BAD_REQUEST'],
    ['an unknown operation name', () => post(json({ query: Q, operationName: 'Nope' })), 400, 'OPERATION_RESOLUTION_FAILURE'],
    ['two operations and no name', () => post(json({ query: 'query A { __typename } query B { __typename }' })), 400, 'OPERATION_RESOLUTION_FAILURE'],
    ['invalid UTF-8', () => post(Buffer.concat([Buffer.from('{"query":"{ totpStatus(userId: \\"'), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('\\") { status } }"}')])), 200, null],
    ['JSON nested 20,000 deep', () => post(`{"query":${json(Q)},"variables":{"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`), 200, null],
    ['a NUL in the query', () => post(json({ query: '{ totpStatus(userId: "x") \u0000 { status } }' })), 400, 'GRAPHQL_PARSE_FAILED'],
    ['an unterminated query', () => post(json({ query: '{ totpStatus(userId: "x" { status ' })), 400, 'GRAPHQL_PARSE_FAILED'],
    ['a variable of the wrong type', () => post(json({ query: 'query($u: ID!) { totpStatus(userId: $u) { status } }', variables: { u: { $gt: '' } } })), 400, 'BAD_USER_INPUT'],
    ['an undeclared variable', () => post(json({ query: '{ totpStatus(userId: $u) { status } }', variables: { u: 'x' } })), 400, 'GRAPHQL_VALIDATION_FAILED'],
    ['introspection', () => post(json({ query: '{ __schema { types { name } } }' })), 400, 'GRAPHQL_VALIDATION_FAILED'],
    ['a body over the limit, declared', () => post(json({ query: Q, pad: 'x'.repeat(70_000) })), 413, 'PAYLOAD_TOO_LARGE'],
    ['wrong method (PUT)', () => post(json({ query: Q }), {}, 'PUT'), 405, 'METHOD_NOT_ALLOWED'],
    ['wrong method (DELETE)', () => post('', {}, 'DELETE'), 405, 'METHOD_NOT_ALLOWED'],
    ['GET without a query', () => post('', { 'apollo-require-preflight': '1' }, 'GET'), 400, 'BAD_REQUEST'],
    ['an unknown path', async () => { const r = await fetch(`${server.base}/admin`); return { status: r.status, text: await r.text() }; }, 404, 'NOT_FOUND'],
    ['no token', () => post(json({ query: Q }), { authorization: '' }), 401, 'UNAUTHENTICATED'],
    ['a token of 4 KB', () => post(json({ query: Q }), { authorization: `Bearer ${'x'.repeat(4096)}` }), 401, 'UNAUTHENTICATED'],
    ['a non-ASCII token', () => post(json({ query: Q }), { authorization: `Bearer ${Buffer.from('jetón-ünïcode-токен').toString('latin1')}` }), 401, 'UNAUTHENTICATED'],
    ['a body over the limit, chunked', () => rawRequest(server.port,
      `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${APP_TOKEN}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`
      + `${(100_000).toString(16)}\r\n${'x'.repeat(100_000)}\r\n0\r\n\r\n`), 413, 'PAYLOAD_TOO_LARGE'],
    ['headers of 64 KB', () => rawRequest(server.port, `GET /healthz HTTP/1.1\r\nhost: x\r\nx-junk: ${'a'.repeat(65_536)}\r\n\r\n`), 431, null],
    ['a malformed request line', () => rawRequest(server.port, 'GARBAGE / HTTP/9.9\r\n\r\n'), 400, null],
    ['a bad chunk size', () => rawRequest(server.port, `POST /graphql HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n`), 400, null],
    ['a body shorter than its content-length', () => rawRequest(server.port,
      `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${APP_TOKEN}\r\ncontent-length: 1000\r\n\r\n{"query":`, 300), 0, null],
  ];

  it.each(cases)('%s', async (_what, send, status, code) => {
    const r = await send();
    expect(r.status, r.text.slice(0, 300)).toBe(status);
    expect(r.status).toBeLessThan(500);
    if (code !== null) {
      const body = JSON.parse(r.text.includes('\r\n\r\n') ? r.text.split('\r\n\r\n').slice(1).join('') : r.text) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe(code);
      expect(r.text).not.toMatch(/stacktrace|\.js:\d+|\.ts:\d+/);
      expect(r.text.length).toBeLessThan(2048);
    }
    const health = await fetch(`${server.base}/healthz`);
    expect(health.status).toBe(200);
  });
});
