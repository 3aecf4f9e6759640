/**
 * The authorization matrix, over HTTP against the built server: every query and mutation of
 * docs/api.md × {no Authorization header, a malformed one, an unknown token, an app key, an admin key},
 * each with the exact answer: UNAUTHENTICATED (HTTP 401, nothing run), FORBIDDEN (nothing done),
 * or the operation's own answer (data, or its domain error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ADMIN_TOKEN, APP_TOKEN, startServer, type ServerProcess } from './support/server.js';

type Credential = 'none' | 'malformed' | 'unknown' | 'app' | 'admin';
const CREDENTIALS: Readonly<Record<Credential, string | undefined>> = {
  none: undefined,
  malformed: `Token ${APP_TOKEN}`,
  unknown: 'Bearer unknown-token-0123456789abcdef',
  app: `Bearer ${APP_TOKEN}`,
  admin: `Bearer ${ADMIN_TOKEN}`,
};

interface Operation {
  readonly name: string;
  readonly role: 'app' | 'admin';
  /** The document and variables, for a caller (so each caller works on users of its own). */
  readonly request: (who: string) => { query: string; variables?: Record<string, unknown> };
  /** What an allowed caller gets: the field's data, or a domain error code. */
  readonly expect: (who: string) => { data: unknown } | { code: string };
}

const secret = () => randomBytes(20).toString('hex').toUpperCase().replace(/[^A-Z2-7]/g, 'A').padEnd(32, 'A').slice(0, 32);

const OPERATIONS: readonly Operation[] = [
  {
    name: 'totpStatus', role: 'app',
    request: (who) => ({ query: 'query($u: ID!) { totpStatus(userId: $u) { status } }', variables: { u: `${who}-active` } }),
    expect: () => ({ data: { status: 'ACTIVE' } }),
  },
  {
    name: 'enrollTotp', role: 'app',
    request: (who) => ({ query: 'mutation($u: ID!) { enrollTotp(input: {userId: $u}) { status } }', variables: { u: `${who}-new` } }),
    expect: () => ({ data: { status: 'PENDING' } }),
  },
  {
    name: 'verifyTotp', role: 'app',
    request: (who) => ({ query: 'mutation($u: ID!) { verifyTotp(userId: $u, code: "12345") { outcome } }', variables: { u: `${who}-active` } }),
    expect: () => ({ data: { outcome: 'MALFORMED' } }),
  },
  {
    name: 'revokeTotp', role: 'app',
    request: (who) => ({ query: 'mutation($u: ID!) { revokeTotp(userId: $u) { revoked } }', variables: { u: `${who}-nobody` } }),
    expect: () => ({ data: { revoked: false } }),
  },
  {
    name: 'generateRecoveryCodes', role: 'app',
    request: (who) => ({ query: 'mutation($u: ID!) { generateRecoveryCodes(userId: $u) { codes } }', variables: { u: `${who}-nobody` } }),
    expect: () => ({ code: 'NOT_ENROLLED' }),
  },
  {
    name: 'verifyRecoveryCode', role: 'app',
    request: (who) => ({ query: 'mutation($u: ID!) { verifyRecoveryCode(userId: $u, code: "not-a-code") { outcome } }', variables: { u: `${who}-active` } }),
    expect: () => ({ data: { outcome: 'MALFORMED' } }),
  },
  {
    name: 'unlockTotp', role: 'admin',
    request: (who) => ({ query: 'mutation($u: ID!) { unlockTotp(userId: $u) { failedAttempts } }', variables: { u: `${who}-active` } }),
    expect: () => ({ data: { failedAttempts: 0 } }),
  },
  {
    name: 'importTotp', role: 'admin',
    request: (who) => ({
      query: 'mutation($u: ID!, $s: String!) { importTotp(input: {userId: $u, secret: $s}) { status } }',
      variables: { u: `${who}-imported`, s: secret() },
    }),
    expect: () => ({ data: { status: 'ACTIVE' } }),
  },
  {
    name: 'rekeyTotp', role: 'admin',
    request: () => ({ query: 'mutation { rekeyTotp { activeKeyId } }' }),
    expect: () => ({ data: { activeKeyId: 'k1' } }),
  },
  {
    name: 'totpEnrollments', role: 'admin',
    request: () => ({ query: '{ totpEnrollments(first: 1) { pageInfo { hasNextPage } } }' }),
    expect: () => ({ data: { pageInfo: { hasNextPage: true } } }),
  },
  {
    name: 'auditEvents', role: 'admin',
    request: (who) => ({ query: 'query($u: ID) { auditEvents(userId: $u, types: [IMPORTED]) { nodes { type } } }', variables: { u: `${who}-active` } }),
    expect: () => ({ data: { nodes: [{ type: 'IMPORTED' }] } }),
  },
];

describe('authorization matrix over HTTP', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    // the embedded store: the matrix is about the GraphQL surface, not the store
    server = await startServer({ env: { REDIS_URL: undefined, TOTP_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` } });
    for (const who of ['none', 'malformed', 'unknown', 'app', 'admin']) {
      const r = await server.gql('mutation($u: ID!, $s: String!) { importTotp(input: {userId: $u, secret: $s}) { status } }', {
        u: `${who}-active`, s: secret(),
      });
      expect(r.errors).toBeUndefined();
    }
  });
  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
  });

  async function call(op: Operation, credential: Credential) {
    const { query, variables } = op.request(credential);
    const authorization = CREDENTIALS[credential];
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] };
    return { status: res.status, data: body.data?.[op.name], codes: (body.errors ?? []).map((e) => e.extensions?.code) };
  }

  const cells = OPERATIONS.flatMap((op) => (['none', 'malformed', 'unknown', 'app', 'admin'] as const).map((c) => [op, c] as const));
  it.each(cells.map(([op, c]) => [op.name, c, op] as const))('%s with %s', async (_name, credential, op) => {
    const r = await call(op, credential);
    if (credential === 'none' || credential === 'malformed' || credential === 'unknown') {
      expect(r).toMatchObject({ status: 401, codes: ['UNAUTHENTICATED'] });
      expect(r.data).toBeUndefined();
    } else if (op.role === 'admin' && credential === 'app') {
      expect(r.codes).toEqual(['FORBIDDEN']);
      expect(r.data ?? null).toBeNull();
    } else {
      const want = op.expect(credential);
      if ('code' in want) expect(r.codes).toEqual([want.code]);
      else {
        expect(r.codes).toEqual([]);
        expect(r.data).toEqual(want.data);
      }
    }
  });

  it('did nothing for a refused caller', async () => {
    const status = async (u: string) => (await server.gql<{ totpStatus: unknown }>('query($u: ID!) { totpStatus(userId: $u) { status } }', { u })).data!.totpStatus;
    for (const who of ['none', 'malformed', 'unknown', 'app']) {
      expect(await status(`${who}-imported`), who).toBeNull();
      if (who !== 'app') expect(await status(`${who}-new`), who).toBeNull();
    }
    const audit = await server.gql<{ auditEvents: { nodes: { actor: string; type: string }[] } }>('{ auditEvents(types: [REKEYED, UNLOCKED]) { nodes { actor type } } }');
    expect(audit.data!.auditEvents.nodes).toEqual([{ actor: 'ops', type: 'REKEYED' }, { actor: 'ops', type: 'UNLOCKED' }]);
  });

  it('answers an app key field by field in a request that mixes roles', async () => {
    // unlockTotp may be null: the app's own field is answered beside the refusal
    const mixed = await server.gql<Record<string, unknown>>(
      'mutation { revokeTotp(userId: "app-nobody") { revoked } unlockTotp(userId: "app-active") { status } }', undefined, APP_TOKEN,
    );
    expect(mixed.data).toEqual({ revokeTotp: { revoked: false }, unlockTotp: null });
    expect(mixed.errors?.map((e) => [e.extensions?.code, (e as { path?: string[] }).path])).toEqual([['FORBIDDEN', ['unlockTotp']]]);
    // totpEnrollments may not be null, so its refusal takes the whole answer with it
    const query = await server.gql('{ totpStatus(userId: "app-active") { status } totpEnrollments { nodes { userId } } }', undefined, APP_TOKEN);
    expect(query.data).toBeNull();
    expect(query.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });
});
