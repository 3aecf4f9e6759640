/**
 * auditEvents and totpEnrollments attacked through GraphQL, on both stores: forged, foreign,
 * truncated, padded and huge cursors are BAD_USER_INPUT naming `after` (never a crash, never
 * another user's events); `first` out of range, hostile time ranges and type filters get their
 * exact answers. Properties: any string as `after`, and any position forged into a well-made
 * cursor, give a refusal or a page of the asked user's events only.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf } from '../src/store/keys.js';
import { AUDIT_EVENT_TYPES } from '../src/store/store.js';
import { auditScope, encodeCursor } from '../src/totp/cursor.js';
import { ADMIN_TOKEN, startInProcess, type InProcessServer } from './support/in-process.js';
import { storePairs } from './support/pair.js';

const AUDIT = 'query($u: ID, $t: [AuditEventType!], $s: DateTime, $e: DateTime, $f: Int, $a: String) { auditEvents(userId: $u, types: $t, since: $s, until: $e, first: $f, after: $a) { nodes { id at type userId } pageInfo { endCursor hasNextPage } } }';
const LIST = 'query($s: TotpStatus, $f: Int, $a: String) { totpEnrollments(status: $s, first: $f, after: $a) { nodes { userId status } pageInfo { endCursor hasNextPage } } }';
const NOT_A_CURSOR = 'after is not a cursor; pass a pageInfo.endCursor of the same query';
const ANOTHER = 'after is a cursor of another query; pass a pageInfo.endCursor of the same query';

type Page = { nodes: { id: string; at: string; type: string; userId: string | null }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
type Listing = { nodes: { userId: string; status: string }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };

/** A user in another bucket than `of`. */
const elsewhere = (of: string) => Array.from({ length: 100 }, (_, i) => `carol-${i}`).find((id) => bucketOf(id) !== bucketOf(of))!;
const ALICE = 'alice';
const CAROL = elsewhere(ALICE);

describe.each(storePairs)('auditEvents and totpEnrollments through GraphQL, %s', (_name, open) => {
  let s: InProcessServer;
  beforeAll(async () => {
    const [store, second] = await open();
    if (second !== store) await second.close();
    s = await startInProcess({ store, production: true });
    for (const [userId, secret] of [[ALICE, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ'], [CAROL, 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ']]) {
      await s.gql('mutation($u: ID!, $s: String!) { importTotp(input: { userId: $u, secret: $s }) { status } }', { u: userId, s: secret }, ADMIN_TOKEN);
      for (let i = 0; i < 3; i++) await s.gql('mutation($u: ID!) { verifyTotp(userId: $u, code: "000000") { outcome } }', { u: userId });
    }
    await s.gql('mutation { enrollTotp(input: { userId: "pending" }) { status } }');
  });
  afterAll(() => s.close());

  const audit = async (vars: Record<string, unknown>) => s.gql(AUDIT, vars, ADMIN_TOKEN);
  const page = async (vars: Record<string, unknown>) => {
    const r = await audit(vars);
    expect(r.json!.errors, r.text.slice(0, 300)).toBeUndefined();
    return r.json!.data!.auditEvents as Page;
  };
  const list = async (vars: Record<string, unknown>) => s.gql(LIST, vars, ADMIN_TOKEN);
  const refused = (r: { json: unknown }, argument: string, message?: string) => {
    const errors = (r.json as { errors?: { message: string; extensions: unknown }[] }).errors;
    expect(errors).toHaveLength(1);
    expect(errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', argument });
    if (message) expect(errors![0]!.message).toBe(message);
  };

  it('refuses hostile cursors for auditEvents, naming `after`', async () => {
    const mine = (await page({ u: ALICE, f: 1 })).pageInfo.endCursor!;
    const everyone = (await page({ f: 1 })).pageInfo.endCursor!;
    const listing = ((await list({ f: 1 })).json!.data!.totpEnrollments as Listing).pageInfo.endCursor!;
    const carolsPosition = (await page({ u: CAROL, f: 1 })).nodes[0]!.id;
    const cases: [string, string, string | undefined, string][] = [
      ['empty', '', undefined, NOT_A_CURSOR],
      ['a word', 'cursor', undefined, NOT_A_CURSOR],
      ['truncated', mine.slice(0, -1), ALICE, NOT_A_CURSOR],
      ['padded with =', `${mine}=`, ALICE, NOT_A_CURSOR],
      ['padded with a character', `${mine}A`, ALICE, NOT_A_CURSOR],
      ['1,025 characters', 'A'.repeat(1025), undefined, NOT_A_CURSOR],
      ['60,000 characters', 'A'.repeat(60_000), undefined, NOT_A_CURSOR],
      ['a listing cursor', listing, undefined, 'after is a cursor of totpEnrollments; pass a pageInfo.endCursor of the same query'],
      ["alice's cursor, for carol", mine, CAROL, ANOTHER],
      ["alice's cursor, for everyone", mine, undefined, ANOTHER],
      ["everyone's cursor, for alice", everyone, ALICE, ANOTHER],
      ['a position in no stream', encodeCursor('audit', '*', '64-1-0'), undefined, 'after is not a cursor returned by this API'],
      ['a position that is no event id', encodeCursor('audit', '*', '1-2'), undefined, 'after is not a cursor returned by this API'],
      ["carol's position in alice's scope", encodeCursor('audit', auditScope(ALICE), carolsPosition), ALICE, 'after is a cursor of another query'],
      ['another version', Buffer.from(JSON.stringify([2, 'audit', '*', '1-1-0'])).toString('base64url'), undefined, NOT_A_CURSOR],
      ['JSON that is no cursor', Buffer.from('{"after":"1-1-0"}').toString('base64url'), undefined, NOT_A_CURSOR],
    ];
    for (const [what, after, userId, message] of cases) {
      const r = await audit({ a: after, u: userId });
      expect(r.json!.data, what).toBeNull();
      refused(r, 'after', message);
    }
  });

  it('never answers another user’s events, whatever is sent as `after` (property)', async () => {
    const positions = (await page({ f: 1000 })).nodes.map((e) => e.id);
    const after = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.base64String({ maxLength: 80 }).map((b) => b.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')),
      fc.tuple(fc.constantFrom('*', auditScope(ALICE), auditScope(CAROL), ''), fc.oneof(fc.constantFrom(...positions), fc.string({ maxLength: 20 }),
        fc.tuple(fc.nat(40), fc.nat(), fc.nat(9)).map(([b, ms, q]) => `${b}-${ms}-${q}`))).map(([scope, at]) => encodeCursor('audit', scope, at)),
    );
    await fc.assert(
      fc.asyncProperty(after, fc.constantFrom(ALICE, undefined), async (a, u) => {
        const r = await audit({ a, u, f: 50 });
        if (r.json!.errors) return refused(r, 'after');
        const got = r.json!.data!.auditEvents as Page;
        if (u !== undefined) for (const e of got.nodes) expect(e.userId).toBe(ALICE);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses hostile cursors for totpEnrollments, and pages on from any well-made position', async () => {
    const active = ((await list({ s: 'ACTIVE', f: 1 })).json!.data!.totpEnrollments as Listing).pageInfo.endCursor!;
    const auditCursor = (await page({ f: 1 })).pageInfo.endCursor!;
    for (const [after, status, message] of [
      ['', undefined, NOT_A_CURSOR], [active.slice(0, -2), 'ACTIVE', NOT_A_CURSOR], [`${active}==`, 'ACTIVE', NOT_A_CURSOR], ['B'.repeat(5000), undefined, NOT_A_CURSOR],
      [active, 'PENDING', ANOTHER], [active, undefined, ANOTHER], [auditCursor, undefined, 'after is a cursor of auditEvents; pass a pageInfo.endCursor of the same query'],
      [encodeCursor('enrollments', 'ALL', 'not base64url!'), undefined, NOT_A_CURSOR], [encodeCursor('enrollments', 'ALL', 'A'.repeat(401)), undefined, NOT_A_CURSOR],
    ] as const) {
      refused(await list({ a: after, s: status }), 'after', message);
    }
    // a forged position is only a place in the order of ids: what follows it, as anyone would see it
    const all = ((await list({ f: 1000 })).json!.data!.totpEnrollments as Listing).nodes.map((n) => n.userId);
    const member = (id: string) => Buffer.from(id).toString('base64url');
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 30 }), async (id) => {
        const r = await list({ a: encodeCursor('enrollments', 'ALL', member(id)), f: 1000 });
        const got = (r.json!.data!.totpEnrollments as Listing).nodes.map((n) => n.userId);
        expect(got).toEqual(all.filter((u) => member(u) > member(id)));
      }),
      { numRuns: 100 },
    );
  });

  it('answers `first` out of range, as a variable and as a literal', async () => {
    for (const first of [0, -1, 1001, 1_000_000]) {
      refused(await audit({ f: first }), 'first', 'first must be from 1 to 1000');
      refused(await list({ f: first }), 'first', 'first must be from 1 to 1000');
    }
    for (const first of [0, -5, 1001]) {
      refused(await s.gql(`{ auditEvents(first: ${first}) { nodes { id } } }`, {}, ADMIN_TOKEN), 'first', 'first must be from 1 to 1000');
    }
    // not an Int at all: GraphQL's own type error, before any resolver
    const typeError = async (query: string, variables: Record<string, unknown>) => {
      const r = await s.gql(query, variables, ADMIN_TOKEN);
      expect(r.status).toBe(400);
      return r.json!.errors!.map((e) => [e.extensions!.code, e.message]);
    };
    expect(await typeError(AUDIT, { f: 2 ** 31 })).toEqual([['BAD_USER_INPUT', 'Variable "$f" got invalid value <value>; Int cannot represent non 32-bit signed integer value: <value>']]);
    expect(await typeError(LIST, { f: 1.5 })).toEqual([['BAD_USER_INPUT', 'Variable "$f" got invalid value <value>; Int cannot represent non-integer value: <value>']]);
    expect(await typeError('{ auditEvents(first: 1.5) { nodes { id } } }', {})).toEqual([['GRAPHQL_VALIDATION_FAILED', 'Int cannot represent non-integer value: <value>']]);
    // a literal page size is multiplied into the query's cost: a huge one is refused by cost
    expect(await typeError(`{ auditEvents(first: ${2 ** 31}) { nodes { id } } }`, {})).toEqual([['QUERY_TOO_COMPLEX', expect.stringMatching(/^Query too complex: Query Cost limit of 50000 exceeded/)]]);
  });

  it('answers hostile time ranges and type filters', async () => {
    const alice = (await page({ u: ALICE, f: 1000 })).nodes;
    expect(alice.length).toBeGreaterThanOrEqual(4);
    const ids = (p: Page) => p.nodes.map((e) => e.id);
    // the far past and the far future
    expect(ids(await page({ u: ALICE, s: '0001-01-01T00:00:00Z' }))).toEqual(alice.map((e) => e.id));
    expect(ids(await page({ u: ALICE, e: '0001-01-01T00:00:00Z' }))).toEqual([]);
    expect(ids(await page({ u: ALICE, s: '9999-12-31T23:59:59.999Z' }))).toEqual([]);
    expect(ids(await page({ u: ALICE, e: '9999-12-31T23:59:59.999Z' }))).toEqual(alice.map((e) => e.id));
    // both ends inclusive: one instant
    const one = alice.at(-1)!;
    expect(ids(await page({ u: ALICE, s: one.at, e: one.at })).includes(one.id)).toBe(true);
    refused(await audit({ s: '2024-01-02T00:00:00Z', e: '2024-01-01T23:59:59Z' }), 'until', 'until is earlier than since');
    for (const bad of ['not a date', '2024-02-30T00:00:00Z', '2024-01-01', '+275760-09-13T00:00:00.000Z', '']) {
      const r = await audit({ s: bad });
      expect(r.json!.errors!.map((e) => [e.extensions!.code, e.message])).toEqual([
        ['BAD_USER_INPUT', 'Variable "$s" got invalid value <value>; DateTime cannot represent an invalid date-time-string <value>'],
      ]);
    }
    // types: duplicates, every value, or none at all are the same filters as their sets
    expect(ids(await page({ u: ALICE, t: ['VERIFY', 'VERIFY', 'VERIFY'] }))).toEqual(ids(await page({ u: ALICE, t: ['VERIFY'] })));
    expect(ids(await page({ u: ALICE, t: [...AUDIT_EVENT_TYPES, ...AUDIT_EVENT_TYPES] }))).toEqual(alice.map((e) => e.id));
    expect(ids(await page({ u: ALICE, t: [] }))).toEqual(alice.map((e) => e.id));
    expect(ids(await page({ u: ALICE, t: ['REKEYED'] }))).toEqual([]);
  });
});
