/**
 * Audit cursors and filters (audit/query.ts), fuzzed on both stores against a model: any string
 * as `after` is either BAD_USER_INPUT naming `after` or a position, never a crash; a forged cursor,
 * or one taken from another user's events (in the same bucket or another), never yields an event
 * of another user; and every page is exactly the model's answer (the user's events, of the asked
 * types, in [since, until], older than the cursor, newest first, at most `first`).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseCursor } from '../src/store/audit-query.js';
import { FAIL_FAST } from '../src/store/connect.js';
import { bucketOf } from '../src/store/keys.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { RedisStore } from '../src/store/redis-store.js';
import { clusterStore } from './support/cluster.js';
import { AUDIT_EVENT_TYPES, type AuditEvent, type AuditEventType, type Store } from '../src/store/store.js';
import { makeHarness, wrongCode } from './contract/harness.js';

const redisUrl = inject('redisUrl');
const clusterSeeds = inject('redisClusterNodes');

/** A user id in the bucket of `other`, and one in another bucket. */
function idInBucket(bucket: number, not: string): string {
  for (let i = 0; ; i++) if (bucketOf(`peer-${i}`) === bucket && `peer-${i}` !== not) return `peer-${i}`;
}
const ALICE = 'alice';
const PEER = idInBucket(bucketOf(ALICE), ALICE);
const CAROL = (() => {
  for (let i = 0; ; i++) if (bucketOf(`carol-${i}`) !== bucketOf(ALICE)) return `carol-${i}`;
})();
const USERS = [ALICE, PEER, CAROL];

/** Enrollments, verifies, lockouts and revokes for three users, some in the same millisecond. */
async function fill(store: Store): Promise<void> {
  const h = makeHarness(store, { maxFailures: 3 });
  for (const user of USERS) {
    const f = await h.activate(user);
    for (let i = 0; i < 5; i++) {
      await h.verify(user, wrongCode(h.code(f)), '192.0.2.1');
      if (i % 2) h.clock.advance(7);
    }
    await h.service.unlock({ name: 'ops' }, user);
    h.clock.advance(1000);
  }
  await h.service.revoke({ name: 'ops' }, CAROL, 'fuzz');
}

const position = (e: AuditEvent) => {
  const [b, ms, seq] = e.id.split('-').map(Number) as [number, number, number];
  return [ms, seq, b] as const;
};
const before = (e: AuditEvent, c: { stream: number; ms: number; seq: number }) => {
  const [ms, seq, s] = position(e);
  return ms !== c.ms ? ms < c.ms : seq !== c.seq ? seq < c.seq : s < c.stream;
};

interface Query {
  userId?: string;
  types?: AuditEventType[];
  since?: number;
  until?: number;
  first: number;
  after?: string;
}

function model(all: readonly AuditEvent[], q: Query): AuditEvent[] {
  const c = q.after === undefined ? undefined : parseCursor(q.after);
  return all
    .filter((e) => (q.userId === undefined || e.userId === q.userId)
      && (!q.types?.length || q.types.includes(e.type))
      && (q.since === undefined || e.at >= q.since)
      && (q.until === undefined || e.at <= q.until)
      && (c === undefined || before(e, c)))
    .slice(0, q.first);
}

function suite(name: string, open: () => Promise<{ store: Store; dispose: () => Promise<void> }>, numRuns: number) {
  describe(name, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    let all: AuditEvent[];
    beforeAll(async () => {
      ({ store, dispose } = await open());
      await fill(store);
      all = [...(await store.auditEvents({ first: 10_000 })).nodes];
    });
    afterAll(() => dispose());

    it('holds the events the model is built on', () => {
      expect(all.length).toBeGreaterThan(30);
      for (const u of USERS) expect(all.some((e) => e.userId === u)).toBe(true);
      expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    });

    it('answers the first possible cursor, 0-0-0, with an empty page (found by the property below)', async () => {
      for (const q of [{ first: 1, after: '0-0-0' }, { first: 5, after: '0-0-0', userId: USERS[0] }]) {
        const page = await store.auditEvents(q).catch((err: unknown) => err);
        if (page instanceof Error) expect(page).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
        else expect(page).toMatchObject({ nodes: [], hasNextPage: false });
      }
    });

    it('answers any cursor and filter with the model’s page, or BAD_USER_INPUT on `after`', async () => {
      const times = all.map((e) => e.at);
      const [lo, hi] = [Math.min(...times), Math.max(...times)];
      const ids = all.map((e) => e.id);
      const cursor = fc.oneof(
        fc.constantFrom(...ids),
        fc.tuple(fc.nat({ max: 70 }), fc.integer({ min: lo - 5, max: hi + 5 }), fc.nat({ max: 4 })).map(([b, ms, s]) => `${b}-${ms}-${s}`),
        fc.constantFrom('', '-', '0-0-0', '31-999999999999999-999999999999999', '32-1-1', '63-1-1', '64-1-1', '1-2', '1-2-3-4', ' 1-2-3', '1-2-3\n', '+1-2-3',
          '01-2-3', '1-1e3-0', '1-0x10-0', '1-２-3', '(1-2-3', '1-2-3)', '-1-2-3', '1--2-3', '1-9999999999999999-0', `${'9'.repeat(400)}`),
        fc.string({ maxLength: 40 }),
      );
      const query = fc.record(
        {
          userId: fc.constantFrom(...USERS, 'nobody'),
          types: fc.subarray([...AUDIT_EVENT_TYPES]),
          since: fc.integer({ min: lo - 10, max: hi + 10 }),
          until: fc.integer({ min: lo - 10, max: hi + 10 }),
          first: fc.integer({ min: 1, max: 50 }),
          after: cursor,
        },
        { requiredKeys: ['first'] },
      );
      await fc.assert(
        fc.asyncProperty(query, async (q) => {
          let expected: AuditEvent[] | 'refused';
          try {
            expected = model(all, q);
          } catch {
            expected = 'refused';
          }
          const foreign = q.after !== undefined && q.userId !== undefined && expected !== 'refused'
            && parseCursor(q.after).stream !== bucketOf(q.userId);
          try {
            const page = await store.auditEvents(q);
            expect(expected).not.toBe('refused');
            expect(foreign).toBe(false);
            expect(page.nodes).toEqual(expected);
            if (q.userId !== undefined) for (const e of page.nodes) expect(e.userId).toBe(q.userId);
          } catch (err) {
            if (!(err instanceof Error) || !('code' in err)) throw err;
            expect(err).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
            expect(expected === 'refused' || foreign).toBe(true);
          }
        }),
        { numRuns },
      );
    });

    it('never shows a user the events of a peer in the same bucket, whatever cursor is replayed', async () => {
      const peers = all.filter((e) => e.userId === PEER);
      for (const e of [...peers, ...all.filter((x) => x.userId === CAROL)]) {
        try {
          const page = await store.auditEvents({ userId: ALICE, after: e.id, first: 100 });
          for (const got of page.nodes) expect(got.userId).toBe(ALICE);
        } catch (err) {
          expect(err).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
          expect(e.userId).toBe(CAROL);
        }
      }
    });
  });
}

suite('audit cursors, embedded store', async () => {
  const store = new MemoryStore({ auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 });
  return { store, dispose: () => store.close() };
}, 500);

describe.skipIf(!redisUrl)('on Redis', () => {
  suite('audit cursors, Redis store', async () => {
    const client = new Redis(redisUrl!, { ...FAIL_FAST, keyPrefix: `t${randomBytes(4).toString('hex')}:`, lazyConnect: true });
    await client.connect();
    const store = new RedisStore(client, { auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 });
    return { store, dispose: () => store.close() };
  }, 200);
});

describe.skipIf(!clusterSeeds)('on a Redis Cluster', () => {
  // 32 bucket streams over 3 masters: one XREVRANGE per stream, never a cross-slot command
  suite('audit cursors, Redis Cluster store', () => clusterStore(clusterSeeds!, { auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 }), 100);
});
