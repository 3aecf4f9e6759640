/**
 * The direct verify path (src/direct-verify.ts) answers exactly as Apollo does. Two servers share
 * one store and one clock: one with the direct path, one without. Each case sends the same
 * requests to both, for twin users imported with the same secret, and the answers must match byte
 * for byte (status, content type and length, body; the user ids swapped back). Each case also says
 * which path the direct server took (answered directly, left to Apollo, or begun directly and
 * replayed through Apollo), checked by calling the path itself for a third twin.
 */
import { DEFAULT_POLICY, codeAtStep, parseBase32Secret } from '@totp-service/core';
import { HeaderMap, type HTTPGraphQLRequest } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directVerify, type DirectAnswer } from '../src/direct-verify.js';
import { graphqlLimits } from '../src/limits.js';
import { buildTotpSchema } from '../src/schema.js';
import { buildServices } from '../src/services.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { TestClock } from './contract/harness.js';
import { flaky } from './support/flaky-store.js';
import { ADMIN_TOKEN, API_KEYS, APP_TOKEN, startInProcess, type InProcessServer } from './support/in-process.js';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const Q = 'mutation V($u: ID!, $c: String!, $ip: String) { verifyTotp(userId: $u, code: $c, clientIp: $ip) { valid outcome activated remainingAttempts driftSteps } }';
const EVERY = 'retryAfterSeconds remainingAttempts driftSteps deviceId deviceName';
const RECOVER = 'mutation R($u: ID!, $c: String!) { verifyRecoveryCode(userId: $u, code: $c) { valid outcome remainingAttempts } }';

type Path = 'direct' | 'apollo' | 'replay';
interface Ask {
  /** The body for a user (an object is sent as JSON, a string as is), with the user's codes. */
  readonly body: (user: string, code: (offset?: number) => string, recoveryCode: string) => unknown;
  readonly headers?: Record<string, string>;
  readonly method?: 'GET';
  readonly path: Path;
}
interface Case {
  readonly name: string;
  readonly asks: readonly Ask[];
  /** Import the twins with one secret (default), enroll each (pending), add recovery codes, or nothing. */
  readonly setup?: 'import' | 'enroll' | 'recovery' | 'none';
  /** Set up before the asks (store down), undone after. */
  readonly around?: (on: boolean) => void;
}

const clock = new TestClock();
/** Each twin's secret and first recovery code. */
const secrets = new Map<string, string>();
const recoveryCodes = new Map<string, string>();
const codeOf = (user: string) => (offset = 0) =>
  codeAtStep(parseBase32Secret(secrets.get(user) ?? SECRET), clock.step(30) + offset, { algorithm: 'SHA1', digits: 6, period: 30 });
const vars = (query: string, extra: Record<string, unknown> = {}) => (u: string, c: (offset?: number) => string) => ({ query, variables: { u, c: c(), ...extra } });
const ask = (body: Ask['body'], path: Path, headers?: Record<string, string>): Ask => ({ body, path, ...(headers ? { headers } : {}) });
const wrong = (u: string) => ({ query: Q, variables: { u, c: '000000' } });

const CASES: Case[] = [
  { name: 'a valid code', asks: [ask(vars(Q), 'direct')] },
  { name: 'a wrong code', asks: [ask(wrong, 'direct')] },
  { name: 'a code of the step before', asks: [ask((u, c) => ({ query: Q, variables: { u, c: c(-1) } }), 'direct')] },
  { name: 'the first code of a pending enrollment (activated)', setup: 'enroll', asks: [ask(vars(Q), 'direct')] },
  { name: 'the same code twice (replayed)', asks: [ask(vars(Q), 'direct'), ask(vars(Q), 'direct')] },
  {
    name: 'wrong codes up to a lockout, then a valid one, every field',
    asks: [...Array.from({ length: 6 }, () => ask(wrong, 'direct')), ask(vars(`mutation V($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { valid outcome ${EVERY} } }`), 'direct')],
  },
  { name: 'a malformed code', asks: [ask((u) => ({ query: Q, variables: { u, c: '12a4' } }), 'direct')] },
  { name: 'a user not enrolled', setup: 'none', asks: [ask(vars(Q), 'direct')] },
  { name: 'an empty user id (BAD_USER_INPUT, replayed)', asks: [ask(() => ({ query: Q, variables: { u: '', c: '123456' } }), 'replay')] },
  { name: 'a client address', asks: [ask(vars(Q, { ip: '203.0.113.7' }), 'direct')] },
  { name: 'a null client address', asks: [ask(vars(Q, { ip: null }), 'direct')] },
  { name: 'a client address that is not one', asks: [ask(vars(Q, { ip: 'not-an-address' }), 'replay')] },
  {
    name: 'literal arguments, aliases, __typename and a field twice',
    asks: [ask((u, c) => ({ query: `mutation { v: verifyTotp(userId: ${JSON.stringify(u)}, code: "${c()}", clientIp: null) { __typename ok: valid valid outcome outcome ${EVERY} t: __typename } }` }), 'direct')],
  },
  { name: 'an anonymous operation', asks: [ask(vars('mutation ($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome } }'), 'direct')] },
  { name: 'the operation named', asks: [ask((u, c) => ({ ...vars(Q)(u, c), operationName: 'V' }), 'direct')] },
  { name: 'another operation named', asks: [ask((u, c) => ({ ...vars(Q)(u, c), operationName: 'W' }), 'apollo')] },
  { name: 'an operation name that is not a string', asks: [ask((u, c) => ({ ...vars(Q)(u, c), operationName: 5 }), 'apollo')] },
  { name: 'a user id sent as a number', setup: 'none', asks: [ask(() => ({ query: Q, variables: { u: 12345, c: '123456' } }), 'apollo')] },
  { name: 'no code variable', asks: [ask((u) => ({ query: Q, variables: { u } }), 'apollo')] },
  { name: 'a null code', asks: [ask((u) => ({ query: Q, variables: { u, c: null } }), 'apollo')] },
  { name: 'a variable the document does not declare', asks: [ask(vars(Q, { extra: [1, 2] }), 'direct')] },
  { name: 'variables as an array', asks: [ask(() => ({ query: Q, variables: [1] }), 'apollo')] },
  { name: 'variables as a string', asks: [ask((u, c) => ({ query: Q, variables: JSON.stringify({ u, c: c() }) }), 'apollo')] },
  { name: 'extensions', asks: [ask((u, c) => ({ ...vars(Q)(u, c), extensions: {} }), 'apollo')] },
  { name: 'Accept: */*', asks: [ask(vars(Q), 'direct', { accept: '*/*' })] },
  { name: "axios's Accept", asks: [ask(vars(Q), 'direct', { accept: 'application/json, text/plain, */*' })] },
  { name: 'Accept: graphql-response+json', asks: [ask(vars(Q), 'apollo', { accept: 'application/graphql-response+json' })] },
  { name: 'Accept preferring JSON by q', asks: [ask(vars(Q), 'direct', { accept: 'application/graphql-response+json;q=0.5, application/json' })] },
  { name: 'Accept: text/html', asks: [ask(vars(Q), 'apollo', { accept: 'text/html' })] },
  { name: 'no token', asks: [ask(vars(Q), 'apollo', { authorization: '' })] },
  { name: 'an unknown token', asks: [ask(vars(Q), 'apollo', { authorization: 'Bearer not-a-known-token-at-all' })] },
  { name: 'an admin token', asks: [ask(vars(Q), 'direct', { authorization: `Bearer ${ADMIN_TOKEN}` })] },
  { name: 'a fragment', asks: [ask(vars('mutation V($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { ...F } } fragment F on VerifyTotpResult { outcome }'), 'apollo')] },
  { name: 'a directive', asks: [ask(vars('mutation V($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome @skip(if: false) } }'), 'apollo')] },
  { name: 'two verifies in one request', asks: [ask(vars('mutation V($u: ID!, $c: String!) { a: verifyTotp(userId: $u, code: $c) { outcome } b: verifyTotp(userId: $u, code: $c) { outcome } }'), 'apollo')] },
  {
    name: 'more aliases than the limit',
    asks: [ask(vars(`mutation V($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { ${Array.from({ length: 16 }, (_, i) => `a${i}: valid`).join(' ')} } }`), 'apollo')],
  },
  { name: 'a query, not a mutation', asks: [ask(vars('query V($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome } }'), 'apollo')] },
  { name: 'a variable with a default', asks: [ask(vars('mutation V($u: ID!, $c: String! = "1") { verifyTotp(userId: $u, code: $c) { outcome } }'), 'apollo')] },
  { name: 'a field the result lacks', asks: [ask(vars('mutation V($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { secret } }'), 'apollo')] },
  { name: 'a syntax error', asks: [ask(vars('mutation V($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome }'), 'apollo')] },
  { name: 'two operations', asks: [ask((u, c) => ({ ...vars(`${Q} mutation W { __typename }`)(u, c), operationName: 'V' }), 'apollo')] },
  { name: 'a batch', asks: [ask((u, c) => [vars(Q)(u, c)], 'apollo')] },
  { name: 'a text/plain body (CSRF)', asks: [ask((u, c) => JSON.stringify(vars(Q)(u, c)), 'apollo', { 'content-type': 'text/plain' })] },
  { name: 'a recovery code that is wrong', setup: 'recovery', asks: [ask((u) => ({ query: RECOVER, variables: { u, c: 'AAAA-BBBB-CCCC' } }), 'direct')] },
  {
    name: 'a recovery code, then the same again',
    setup: 'recovery',
    asks: [0, 1].map(() => ask((u, _c, r) => ({ query: RECOVER, variables: { u, c: r } }), 'direct')),
  },
  { name: 'a GET', asks: [{ ...ask(vars(Q), 'apollo'), method: 'GET' }] },
  {
    name: 'the store away (SERVICE_UNAVAILABLE, replayed)',
    around: (on) => (store.down = on),
    asks: [ask(vars(Q), 'replay')],
  },
];

const store = flaky(new MemoryStore({ auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 }));
let direct: InProcessServer;
let apollo: InProcessServer;
let path: (request: HTTPGraphQLRequest, authorization: string | undefined) => Promise<DirectAnswer>;

const bodyFor = (a: Ask, user: string) => a.body(user, codeOf(user), recoveryCodes.get(user) ?? '');

async function send(s: InProcessServer, a: Ask, user: string) {
  const body = bodyFor(a, user);
  const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}`, ...a.headers };
  const sent = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await (a.method === 'GET'
    ? fetch(`${s.url}?${new URLSearchParams({ query: (body as { query: string }).query, variables: JSON.stringify((body as { variables: unknown }).variables) }).toString()}`, { headers })
    : fetch(s.url, { method: 'POST', headers, body: sent }));
  const text = (await res.text()).replaceAll(user, 'USER');
  const h = (name: string) => res.headers.get(name);
  return { status: res.status, type: h('content-type'), length: h('content-length'), cache: h('cache-control'), id: h('x-request-id') !== null, text };
}

/** The twins as the case wants them. */
async function setUp(c: Case, twins: readonly string[]): Promise<void> {
  const setup = c.setup ?? 'import';
  for (const userId of setup === 'none' ? [] : twins) {
    if (setup === 'enroll') {
      const r = await apollo.gql('mutation E($u: ID!) { enrollTotp(input: { userId: $u }) { secret } }', { u: userId });
      secrets.set(userId, (r.json?.data?.enrollTotp as { secret: string }).secret);
      continue;
    }
    const r = await apollo.gql('mutation I($i: ImportTotpInput!) { importTotp(input: $i) { status } }', { i: { userId, secret: SECRET } }, ADMIN_TOKEN);
    expect(r.json?.data).toEqual({ importTotp: { status: 'ACTIVE' } });
    if (setup === 'recovery') {
      const g = await apollo.gql('mutation G($u: ID!) { generateRecoveryCodes(userId: $u) { codes } }', { u: userId });
      recoveryCodes.set(userId, (g.json?.data?.generateRecoveryCodes as { codes: string[] }).codes[0]!);
    }
  }
}

/** The path the direct verify takes for the request (its side effects on `user`, a third twin). */
async function taken(a: Ask, user: string): Promise<Path> {
  const body = bodyFor(a, user);
  const headers = new HeaderMap(Object.entries({ 'content-type': 'application/json', ...a.headers }));
  const parsed = typeof body === 'string' ? body : (JSON.parse(JSON.stringify(body)) as unknown);
  const answer = await path({ method: a.method ?? 'POST', headers, search: '', body: parsed }, a.headers?.authorization ?? `Bearer ${APP_TOKEN}`);
  return answer.body !== undefined ? 'direct' : answer.services ? 'replay' : 'apollo';
}

beforeAll(async () => {
  direct = await startInProcess({ store: store.store, clock: clock.read });
  apollo = await startInProcess({ store: store.store, clock: clock.read, directVerify: false });
  const services = buildServices({ store: store.store, keyRing: direct.keyRing, policy: DEFAULT_POLICY, issuer: 'Test', clock: clock.read });
  path = directVerify({ schema: await buildTotpSchema(), limits: graphqlLimits(), apiKeys: API_KEYS, services });
});
afterAll(async () => {
  await direct?.server.stop();
  await apollo?.close();
});

describe('the direct verify path answers as Apollo does', () => {
  for (const [n, c] of CASES.entries()) {
    it(c.name, async () => {
      const twins = ['d', 'a', 'x'].map((side) => `${side}${n}-twin`);
      await setUp(c, twins);
      c.around?.(true);
      try {
        for (const a of c.asks) {
          const [d, p] = [await send(direct, a, twins[0]!), await send(apollo, a, twins[1]!)];
          expect(d).toEqual(p);
          expect(await taken(a, twins[2]!)).toBe(a.path);
        }
      } finally {
        c.around?.(false);
      }
      clock.advance(30_000);
    });
  }
});
