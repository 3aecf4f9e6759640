/**
 * The limits on the GraphQL surface (limits.ts), attacked through the whole server in this
 * process: every over-limit request gets exactly one error, HTTP 400, code QUERY_TOO_COMPLEX,
 * naming the limit, and nothing of it runs; every legitimate operation stays under every limit.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHQL_LIMITS } from '../src/limits.js';
import { ADMIN_TOKEN, APP_TOKEN, startInProcess, type InProcessServer, type Reply } from './support/in-process.js';

const verifyField = (alias: string, userId = 'victim') =>
  `${alias}: verifyTotp(userId: "${userId}", code: "000000") { outcome }`;
const aliases = (n: number, userId?: string) => Array.from({ length: n }, (_, i) => verifyField(`a${i}`, userId)).join(' ');

function expectLimit(r: Reply, limit: string): void {
  expect(r.status, r.text).toBe(400);
  expect(r.json?.errors, r.text).toHaveLength(1);
  expect(r.json!.errors![0]!.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit });
  expect(r.json!.errors![0]!.message).toMatch(/^Query too complex: /);
  expect(r.json!.data).toBeUndefined();
}

describe('GraphQL limits', () => {
  let s: InProcessServer;
  beforeAll(async () => {
    s = await startInProcess();
  });
  afterAll(() => s.close());

  /** Verifies that reached the store: a refused request must not have run any. */
  const verifiesRun = async () => (await s.store.auditEvents({ userId: 'victim', first: 1000 })).nodes.length;

  describe('aliases', () => {
    it(`refuses ${GRAPHQL_LIMITS.maxAliases + 1} aliases and runs none of them`, async () => {
      expectLimit(await s.gql(`mutation { ${aliases(GRAPHQL_LIMITS.maxAliases + 1)} }`), 'aliases');
      expectLimit(await s.gql(`mutation { ${aliases(200)} }`), 'tokens');
      expect(await verifiesRun()).toBe(0);
    });

    it('counts aliases hidden in a fragment once per spread', async () => {
      const half = Math.ceil((GRAPHQL_LIMITS.maxAliases + 1) / 2);
      const doc = `mutation { ...F ...F } fragment F on Mutation { ${aliases(half)} }`;
      expectLimit(await s.gql(doc), 'aliases');
      expect(await verifiesRun()).toBe(0);
    });

    it('counts aliases in nested fragments and inline fragments', async () => {
      const doc = `mutation { ...A ... on Mutation { ...B } }
        fragment A on Mutation { ...B ...B }
        fragment B on Mutation { ${aliases(6)} }`;
      expectLimit(await s.gql(doc), 'aliases');
      const inline = `mutation { ${Array.from({ length: 16 }, (_, i) => `... on Mutation { ${verifyField(`i${i}`)} }`).join(' ')} }`;
      expectLimit(await s.gql(inline), 'aliases');
      expect(await verifiesRun()).toBe(0);
    });

    it('counts aliases inside nested selections', async () => {
      const fields = Array.from({ length: 16 }, (_, i) => `s${i}: status`).join(' ');
      expectLimit(await s.gql(`{ totpStatus(userId: "x") { ${fields} } }`), 'aliases');
    });

    it(`runs ${GRAPHQL_LIMITS.maxAliases} aliases (the cap itself)`, async () => {
      const r = await s.gql(`mutation { ${aliases(GRAPHQL_LIMITS.maxAliases, 'nobody')} }`);
      expect(r.status).toBe(200);
      expect(Object.values(r.json!.data!)).toHaveLength(GRAPHQL_LIMITS.maxAliases);
    });
  });

  it('refuses a document over the token limit before validating it', async () => {
    expectLimit(await s.gql(`{ ${'__typename '.repeat(GRAPHQL_LIMITS.maxTokens)} }`), 'tokens');
    // a long string is one token, bounded by the body limit instead
    expect((await s.gql(`{ totpStatus(userId: "${'x'.repeat(300)}") { status } }`)).json!.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a query deeper than the depth limit', async () => {
    let sel = 'name';
    for (let i = 0; i < GRAPHQL_LIMITS.maxDepth; i++) sel = `ofType { ${sel} }`;
    expectLimit(await s.gql(`{ __type(name: "Query") { fields { type { ${sel} } } } }`), 'depth');
  });

  it('refuses more directives than the limit', async () => {
    const fields = Array.from({ length: GRAPHQL_LIMITS.maxDirectives + 1 }, (_, i) => `f${i}: __typename @include(if: true)`).join(' ');
    expectLimit(await s.gql(`{ ${fields} }`), 'directives');
    const plain = Array.from({ length: GRAPHQL_LIMITS.maxDirectives + 1 }, () => `... @include(if: true) { __typename }`).join(' ');
    expectLimit(await s.gql(`{ ${plain} }`), 'directives');
  });

  it('refuses an exponential fragment fan-out by its cost', async () => {
    const frags = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
    expectLimit(await s.gql(`{ ...F0 } ${frags} fragment F30 on Query { totpStatus(userId: "x") { status } }`), 'cost');
  });

  describe('scans', () => {
    const scans = [
      'auditEvents(first: 1, types: [REKEYED]) { pageInfo { hasNextPage } }',
      'totpEnrollments(first: 1) { pageInfo { hasNextPage } }',
    ];
    /** Events recorded by rekeys: none may have run. */
    const rekeys = async () => (await s.store.auditEvents({ types: ['REKEYED'], first: 100 })).nodes.length;

    it('refuses two scanning fields in one request, however they are written, and runs neither', async () => {
      const before = await rekeys();
      for (const doc of [
        `{ a: ${scans[0]} b: ${scans[0]} }`,
        `{ ${scans[0]} ${scans[1]} }`,
        `{ ...F ...F } fragment F on Query { ${scans[1]} }`,
        `{ ... on Query { ${scans[0]} } ... on Query { a: ${scans[0]} } }`,
        `{ ...A ...B } fragment A on Query { ${scans[0]} } fragment B on Query { ${scans[1]} }`,
        'mutation { a: rekeyTotp { rekeyed } b: rekeyTotp { rekeyed } }',
        'mutation { ...R ...R } fragment R on Mutation { rekeyTotp { rekeyed } }',
      ]) {
        const r = await s.gql(doc, {}, ADMIN_TOKEN);
        expectLimit(r, 'scans');
        expect(r.json!.errors![0]!.message).toBe('Query too complex: at most 1 of auditEvents, totpEnrollments, rekeyTotp, exportTotp per request, found more.');
      }
      expect(await rekeys()).toBe(before);
    });

    it('runs one scanning field beside other fields, and counts a fragment fan-out without unrolling it', async () => {
      for (const doc of [`{ ${scans[0]} totpStatus(userId: "x") { status } }`, `{ ...F } fragment F on Query { ${scans[1]} }`, 'mutation { rekeyTotp { rekeyed } }']) {
        const r = await s.gql(doc, {}, ADMIN_TOKEN);
        expect(r.status, r.text).toBe(200);
        expect(r.json!.errors, r.text).toBeUndefined();
      }
      // 2^30 spreads of one fragment: refused (by cost) in about the time of any request
      const frags = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
      const started = performance.now();
      expect((await s.gql(`{ ...F0 } ${frags} fragment F30 on Query { ${scans[0]} }`, {}, ADMIN_TOKEN)).status).toBe(400);
      expect(performance.now() - started).toBeLessThan(2000);
    });
  });

  it('answers one error, the limit, when a request breaks limits and rules at once', async () => {
    const doc = `mutation { ${Array.from({ length: 20 }, (_, i) => `a${i}: noSuchField`).join(' ')} }`;
    expectLimit(await s.gql(doc), 'aliases');
    let deep = 'name';
    for (let i = 0; i < 8; i++) deep = `ofType @skip(if: false) @skip(if: false) { ${deep} }`;
    expect((await s.gql(`{ __type(name: "Query") { fields { type { ${deep} } } } }`)).json!.errors).toHaveLength(1);
  });

  it('keeps every operation of docs/api.md, with every field, under every limit', async () => {
    const state = 'userId status algorithm digits period issuer accountName createdAt activatedAt lastVerifiedAt failedAttempts lockedUntil recoveryCodesRemaining';
    const ops: [string, Record<string, unknown>][] = [
      [`mutation($input: EnrollTotpInput!) { enrollTotp(input: $input) { userId status secret otpauthUri qrCodeDataUrl qrCodeSvg algorithm digits period issuer accountName expiresAt } }`, { input: { userId: 'legit', issuer: 'I', accountName: 'a', algorithm: 'SHA512', digits: 8, period: 60, replace: true } }],
      [`mutation($userId: ID!, $code: String!, $clientIp: String) { verifyTotp(userId: $userId, code: $code, clientIp: $clientIp) { valid outcome activated retryAfterSeconds remainingAttempts driftSteps } }`, { userId: 'legit', code: '12345678', clientIp: '192.0.2.1' }],
      [`query($userId: ID!) { totpStatus(userId: $userId) { ${state} } }`, { userId: 'legit' }],
      [`mutation($userId: ID!) { unlockTotp(userId: $userId) { ${state} } }`, { userId: 'legit' }],
      [`mutation($userId: ID!, $reason: String) { revokeTotp(userId: $userId, reason: $reason) { revoked } }`, { userId: 'legit', reason: 'r' }],
      // the operators' reads, a full page with every field
      [`query($first: Int, $after: String) { auditEvents(first: $first, after: $after) { nodes { id at type userId actor clientIp outcome detail } pageInfo { endCursor hasNextPage } } }`, { first: 1000 }],
      [`{ auditEvents(first: 1000, types: [VERIFY, LOCKED]) { nodes { id at type userId actor clientIp outcome detail } pageInfo { endCursor hasNextPage } } }`, {}],
      [`{ totpEnrollments(first: 1000) { nodes { ${state} } pageInfo { endCursor hasNextPage } } }`, {}],
      ['mutation { rekeyTotp { rekeyed activeKeyId } }', {}],
      // a dashboard reading many users at once, with aliases up to the cap
      [`query { ${Array.from({ length: GRAPHQL_LIMITS.maxAliases }, (_, i) => `u${i}: totpStatus(userId: "user-${i}") { ${state} }`).join(' ')} }`, {}],
    ];
    for (const [query, variables] of ops) {
      const r = await s.gql(query, variables, ADMIN_TOKEN);
      expect(r.status, r.text).toBe(200);
      expect(r.json!.errors, r.text).toBeUndefined();
    }
  });
});

describe('the GraphQL transport', () => {
  let dev: InProcessServer;
  let prod: InProcessServer;
  beforeAll(async () => {
    dev = await startInProcess();
    prod = await startInProcess({ production: true });
  });
  afterAll(async () => {
    await dev.close();
    await prod.close();
  });

  it('refuses a JSON array (a batch) with one BAD_REQUEST, running none of it', async () => {
    const batch = Array.from({ length: 100 }, () => ({ query: `mutation { ${verifyField('v')} }` }));
    const r = await dev.post(batch);
    expect(r.status).toBe(400);
    expect(r.json!.errors).toEqual([{ message: 'Operation batching disabled.', extensions: { code: 'BAD_REQUEST' } }]);
    expect((await dev.store.auditEvents({ userId: 'victim', first: 10 })).nodes).toHaveLength(0);
  });

  it('blocks requests a browser could send cross-site (CSRF)', async () => {
    const body = JSON.stringify({ query: 'mutation { revokeTotp(userId: "victim") { revoked } }' });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await dev.post(body, { 'content-type': type });
      expect(r.status, type).toBe(400);
      expect(r.json!.errors![0]!.message).toMatch(/Cross-Site Request Forgery/);
      expect(r.json!.errors![0]!.extensions!.code).toBe('BAD_REQUEST');
    }
    const get = await fetch(`${dev.url}?query=${encodeURIComponent('{ totpStatus(userId: "x") { status } }')}`, {
      headers: { authorization: `Bearer ${APP_TOKEN}` },
    });
    expect(get.status).toBe(400);
    // with the preflight header a GET query runs; a GET mutation never does
    const preflight = { authorization: `Bearer ${APP_TOKEN}`, 'apollo-require-preflight': 'true' };
    expect((await fetch(`${dev.url}?query=${encodeURIComponent('{ totpStatus(userId: "x") { status } }')}`, { headers: preflight })).status).toBe(200);
    const mutation = await fetch(`${dev.url}?query=${encodeURIComponent('mutation { revokeTotp(userId: "x") { revoked } }')}`, { headers: preflight });
    expect(mutation.status).toBe(405);
    expect(((await mutation.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_REQUEST');
  });

  it('never suggests field, argument or type names', async () => {
    for (const server of [dev, prod]) {
      for (const query of ['{ totpStatu(userId: "x") { status } }', '{ totpStatus(userID: "x") { status } }', '{ totpStatus(userId: "x") { statu } }', 'mutation($i: EnrollTotpInpt!) { enrollTotp(input: $i) { secret } }']) {
        const r = await server.gql(query, { i: {} });
        expect(r.status).toBe(400);
        expect(r.text).not.toMatch(/did you mean/i);
      }
    }
  });

  it('answers introspection in development only', async () => {
    const query = '{ __schema { queryType { name } } }';
    expect((await dev.gql(query)).json!.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const r = await prod.gql(query);
    expect(r.status).toBe(400);
    expect(r.json!.errors).toHaveLength(1);
    expect(r.json!.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await prod.gql('{ __type(name: "Mutation") { fields { name } } }')).json!.data).toBeUndefined();
  });

  it('never sends a stack trace', async () => {
    for (const server of [dev, prod]) {
      for (const query of ['{', '{ nope }', `mutation { ${aliases(16)} }`, '{ totpStatus(userId: "") { status } }']) {
        const r = await server.gql(query);
        expect(r.text).not.toMatch(/stacktrace|\bat .*\.(js|ts):\d+/);
      }
    }
  });

  it('refuses persisted queries (not used by any client of this API)', async () => {
    const r = await dev.post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } });
    // Apollo answers persisted-query errors with 200, as its clients expect
    expect(r.status).toBe(200);
    expect(r.json!.errors).toHaveLength(1);
    expect(r.json!.errors![0]!.extensions!.code).toBe('PERSISTED_QUERY_NOT_SUPPORTED');
  });
});

describe('slow clients', () => {
  it('cuts off a request that trickles in (slowloris) with 408, and stays healthy', async () => {
    const s = await startInProcess({ requestTimeoutMs: 1000 });
    try {
      const port = Number(new URL(s.url).port);
      const started = Date.now();
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.on('data', (d) => (text += d.toString()));
        socket.on('close', () => resolve(text));
        socket.write(`POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"qu`);
        // one byte every 200 ms: never done before the timeout
        const drip = setInterval(() => (socket.writable ? socket.write(' ') : clearInterval(drip)), 200);
        socket.on('close', () => clearInterval(drip));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
