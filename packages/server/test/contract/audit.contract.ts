import { encodeBase32 } from '@totp-service/core';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bucketOf } from '../../src/store/keys.js';
import type { AuditArgs, AuditEventView } from '../../src/totp/admin.service.js';
import { freshPerTest, ADMIN, APP, makeHarness, wrongCode, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

/** Every page of an audit query, following the cursors. */
async function readAll(h: Harness, args: AuditArgs, first: number): Promise<AuditEventView[]> {
  const out: AuditEventView[] = [];
  let after: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const p = await h.admin.auditEvents({ ...args, first, after });
    out.push(...p.nodes);
    if (!p.pageInfo.hasNextPage) return out;
    after = p.pageInfo.endCursor;
  }
  throw new Error('audit query did not end');
}

/** type/outcome/detail/actor/clientIp of each event, oldest first: the story as a table. */
const story = (events: readonly AuditEventView[]) =>
  [...events].reverse().map((e) => [e.type, e.outcome ?? '', e.detail ?? '', e.actor, e.clientIp ?? ''].join(' | '));

/** The audit trail: what each operation records, and how it is read back. */
export function auditContract(factory: StoreFactory): void {
  describe('audit', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));

    it('records every operation with its actor, client address, outcome and detail, and nothing secret', async () => {
      const ip = '203.0.113.5';
      const secrets: string[] = [];
      const step = () => h.clock.advance(1000);
      const e1 = await h.service.enroll(APP, { userId: 'alice' });
      secrets.push(e1.secret);
      const f = await h.enroll('alice');
      const codes = [h.code(f), wrongCode(h.code(f))];
      step();
      await h.verify('alice', codes[1]!, ip);
      await h.verify('alice', codes[0]!, ip);
      await h.verify('alice', codes[0]!, ip);
      step();
      for (let i = 0; i < 4; i++) await h.verify('alice', codes[1]!, ip);
      await h.verify('alice', codes[0]!, ip);
      step();
      await h.service.unlock(ADMIN, 'alice');
      const set = await h.recovery.generate(APP, 'alice');
      await h.recovery.verify(APP, 'alice', set.codes[0]!, ip);
      await h.recovery.verify(APP, 'alice', set.codes[0]!);
      const again = await h.recovery.generate(APP, 'alice');
      const next = await h.service.enroll(APP, { userId: 'alice', replace: true });
      secrets.push(next.secret);
      step();
      await h.service.revoke(APP, 'alice', 'lost phone');
      await h.verify('alice', codes[0]!);
      const imported = encodeBase32(randomBytes(20));
      secrets.push(imported);
      await h.admin.importTotp(ADMIN, { userId: 'alice', secret: imported.toLowerCase() });
      await h.admin.rekey(ADMIN);

      const mine = await readAll(h, { userId: 'alice' }, 1000);
      expect(story(mine)).toEqual([
        'ENROLLED |  |  | test-app | ',
        'ENROLLED |  |  | test-app | ',
        'VERIFY | INVALID_CODE |  | test-app | 203.0.113.5',
        'VERIFY | ACCEPTED |  | test-app | 203.0.113.5',
        'ACTIVATED |  |  | test-app | 203.0.113.5',
        'VERIFY | REPLAYED |  | test-app | 203.0.113.5',
        'VERIFY | INVALID_CODE |  | test-app | 203.0.113.5',
        'VERIFY | INVALID_CODE |  | test-app | 203.0.113.5',
        'VERIFY | INVALID_CODE |  | test-app | 203.0.113.5',
        'VERIFY | INVALID_CODE |  | test-app | 203.0.113.5',
        'LOCKED |  | locked for 60s after 5 failures | test-app | 203.0.113.5',
        'VERIFY | LOCKED |  | test-app | 203.0.113.5',
        'UNLOCKED |  | was locked | test-admin | ',
        'RECOVERY_CODES_GENERATED |  | 10 codes | test-app | ',
        'RECOVERY_CODE_USED | ACCEPTED | 9 codes left | test-app | 203.0.113.5',
        'RECOVERY_CODE_USED | INVALID_CODE |  | test-app | ',
        'RECOVERY_CODES_GENERATED |  | 10 codes, replacing 9 unused | test-app | ',
        'ENROLLED |  | replace | test-app | ',
        'REVOKED |  | lost phone | test-app | ',
        'IMPORTED |  | SHA1, 6 digits, 30 s | test-admin | ',
      ]);
      expect(mine.every((e) => e.userId === 'alice')).toBe(true);
      // times are the operations' own
      const first = h.clock.now - 4000;
      expect([...mine].reverse().map((e) => e.at.getTime() - first)).toEqual([0, 0, 1000, 1000, 1000, 1000, 2000, 2000, 2000, 2000, 2000, 2000,
        3000, 3000, 3000, 3000, 3000, 3000, 4000, 4000]);
      // the verify after the revocation concerned an id with nothing enrolled: recorded in the log of
      // such events, which only a query over everyone reads
      const stray = (await h.admin.auditEvents({ types: ['VERIFY'], first: 1 })).nodes[0];
      expect(stray).toMatchObject({ userId: 'alice', outcome: 'NOT_ENROLLED', at: new Date(first + 4000) });
      // the rekey run is one event of no user
      const [rekey] = (await h.admin.auditEvents({ types: ['REKEYED'] })).nodes;
      expect(rekey).toMatchObject({ type: 'REKEYED', userId: null, actor: 'test-admin', detail: '0 sealed values re-sealed with key "k1"' });

      // nothing secret, in any field of any event: secrets, codes, recovery codes in any spelling
      const all = await readAll(h, {}, 1000);
      const text = JSON.stringify(all).toLowerCase();
      const forbidden = [...secrets, ...codes, ...set.codes, ...again.codes].flatMap((s) => [s, s.replaceAll('-', '')]);
      for (const s of forbidden) expect(text, s).not.toContain(s.toLowerCase());
    });

    it('records RATE_LIMITED with the address, and the verifies of unknown ids in the log only', async () => {
      const c = makeHarness(handle.store, { clientLimit: 1 });
      const f = await c.activate('u');
      await c.verify('u', wrongCode(c.code(f)), '2001:db8::1');
      await c.verify('u', c.code(f), '2001:db8::2');
      // newest first across streams is by time: the ghost's verify comes a moment later
      c.clock.advance(1000);
      await c.verify('ghost', '123456');
      expect(story((await c.admin.auditEvents({ userId: 'u', types: ['VERIFY'] })).nodes).slice(-2)).toEqual([
        'VERIFY | INVALID_CODE |  | test-app | 2001:db8::1',
        'VERIFY | RATE_LIMITED |  | test-app | 2001:db8::2',
      ]);
      expect((await c.admin.auditEvents({})).nodes[0]).toMatchObject({ type: 'VERIFY', userId: 'ghost', outcome: 'NOT_ENROLLED' });
      // an id never enrolled gets no stream of its own (unknown ids must not make keys)
      expect((await c.admin.auditEvents({ userId: 'ghost' })).nodes).toEqual([]);
    });

    it("pages through everyone's events newest first, without a gap or a repeat, also within one millisecond", async () => {
      const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
      for (const [i, id] of users.entries()) {
        await h.seed(id, true);
        await h.verify(id, '000000');
        await h.service.unlock(ADMIN, id);
        // half the events share a millisecond
        if (i % 2 === 0) h.clock.advance(1);
      }
      const everything = await readAll(h, {}, 1000);
      expect(everything).toHaveLength(120);
      expect(new Set(everything.map((e) => e.id)).size).toBe(120);
      for (let i = 1; i < everything.length; i++) expect(everything[i]!.at.getTime()).toBeLessThanOrEqual(everything[i - 1]!.at.getTime());
      for (const first of [1, 2, 7, 33]) expect((await readAll(h, {}, first)).map((e) => e.id), `first: ${first}`).toEqual(everything.map((e) => e.id));
      // one user's events are everyone's events filtered by that user, page by page
      for (const id of users.slice(0, 5)) {
        const mine = everything.filter((e) => e.userId === id).map((e) => e.id);
        expect((await readAll(h, { userId: id }, 1)).map((e) => e.id)).toEqual(mine);
        expect(mine).toHaveLength(3);
      }
    });

    it('filters by types and by a time range, both ends included', async () => {
      const t0 = h.clock.now;
      for (let i = 0; i < 10; i++) {
        await h.seed(`t-${i}`, true);
        await h.verify(`t-${i}`, '000000');
        h.clock.advance(1000);
      }
      const at = (s: number) => new Date(t0 + s * 1000);
      const between = await readAll(h, { since: at(3), until: at(6) }, 3);
      expect(between.map((e) => e.userId)).toEqual(['t-6', 't-6', 't-5', 't-5', 't-4', 't-4', 't-3', 't-3']);
      const verifies = await readAll(h, { types: ['VERIFY'], since: at(8) }, 1);
      expect(verifies.map((e) => `${e.type} ${e.userId}`)).toEqual(['VERIFY t-9', 'VERIFY t-8']);
      expect((await readAll(h, { types: ['IMPORTED', 'VERIFY'], until: at(0) }, 10)).map((e) => e.type)).toEqual(['VERIFY', 'IMPORTED']);
      expect((await readAll(h, { types: [] }, 100))).toHaveLength(20);
      expect((await readAll(h, { userId: 't-4', types: ['VERIFY'], since: at(4), until: at(4) }, 5)).map((e) => e.outcome)).toEqual(['INVALID_CODE']);
      expect(await readAll(h, { since: at(100) }, 5)).toEqual([]);
      expect(await readAll(h, { until: new Date(-1000) }, 5)).toEqual([]);
      expect(await readAll(h, { since: new Date(-5000), until: at(0) }, 5)).toHaveLength(2);
    });

    it("never shows one user's events that the log as a whole has trimmed", async () => {
      const small = await factory({ auditMaxEvents: 64, auditUserMaxEvents: 5 });
      try {
        const c = makeHarness(small.store, { maxFailures: 1_000_000 });
        const u = 'trim-me';
        let v = 0;
        while (bucketOf(`other-${v}`) !== bucketOf(u)) v++;
        const other = `other-${v}`;
        await c.seed(u, true);
        for (let i = 0; i < 5; i++) await c.verify(u, '000000');
        // a flood in the same bucket pushes the user's events out of the log
        await c.seed(other, true);
        for (let i = 0; i < 400; i++) await c.verify(other, '000000');
        const everyone = await readAll(c, {}, 1000);
        expect(everyone.filter((e) => e.userId === u)).toEqual([]);
        expect(await readAll(c, { userId: u }, 100)).toEqual([]);
        // and a user's own stream is capped, newest kept
        const mine = await readAll(c, { userId: other }, 1000);
        expect(mine.length).toBeGreaterThanOrEqual(2);
        expect(mine.length).toBeLessThan(401);
        expect(mine.map((e) => e.id)).toEqual(everyone.filter((e) => e.userId === other).slice(0, mine.length).map((e) => e.id));
      } finally {
        await small.dispose();
      }
    });

    it("keeps an enrolled user's events whatever the traffic about ids that are not enrolled", async () => {
      const small = await factory({ auditMaxEvents: 3200, auditUserMaxEvents: 1000 });
      try {
        const c = makeHarness(small.store);
        const victim = 'victim';
        const f = await c.activate(victim);
        for (let i = 0; i < 5; i++) await c.verify(victim, wrongCode(c.code(f)));
        const before = await readAll(c, { userId: victim }, 100);
        expect(before.map((e) => e.type)).toContain('LOCKED');
        // invented ids in the victim's bucket, and a revoked one: 3,000 verifies (30x the bucket's share)
        const ghosts: string[] = [];
        for (let v = 0; ghosts.length < 50; v++) if (bucketOf(`ghost-${v}`) === bucketOf(victim)) ghosts.push(`ghost-${v}`);
        await c.seed(ghosts[0]!, true);
        await c.service.revoke(APP, ghosts[0]!);
        for (let i = 0; i < 3000; i++) await c.verify(ghosts[i % ghosts.length]!, '123456');
        expect(await readAll(c, { userId: victim }, 100)).toEqual(before);
        const everyone = await readAll(c, {}, 1000);
        for (const e of before) expect(everyone.map((x) => x.id)).toContain(e.id);
        // the verifies of ids not enrolled are still recorded, in a log of their own (capped too)
        const stray = everyone.filter((e) => e.outcome === 'NOT_ENROLLED');
        expect(stray.length).toBeGreaterThan(50);
        expect(stray.length).toBeLessThanOrEqual(3000);
        expect(stray[0]).toMatchObject({ type: 'VERIFY', actor: 'test-app' });
      } finally {
        await small.dispose();
      }
    });

    it('refuses page sizes out of bounds, a reversed range, and foreign or forged cursors', async () => {
      for (let i = 0; i < 3; i++) await h.seed(`c-${i}`, true);
      for (const first of [0, -1, 1001]) {
        await expect(h.admin.auditEvents({ first })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'first' });
      }
      expect((await h.admin.auditEvents({ first: 1000 })).nodes).toHaveLength(3);
      await expect(h.admin.auditEvents({ since: new Date(h.clock.now + 1), until: new Date(h.clock.now) })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT', argument: 'until',
      });
      await expect(h.admin.auditEvents({ userId: '' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'userId' });

      const everyone = (await h.admin.auditEvents({ first: 1 })).pageInfo.endCursor!;
      // the last page still names where it ended, to poll for newer events from there
      const last = (await h.admin.auditEvents({ userId: 'c-0', first: 1 })).pageInfo;
      expect(last.hasNextPage).toBe(false);
      expect(last.endCursor).not.toBeNull();
      await h.verify('c-1', '000000');
      const ofC1 = (await h.admin.auditEvents({ userId: 'c-1', first: 1 })).pageInfo.endCursor!;
      const listing = (await h.admin.enrollments({ first: 1 })).pageInfo.endCursor!;
      const forge = (parts: unknown) => Buffer.from(JSON.stringify(parts)).toString('base64url');
      const cases: [string, string | undefined][] = [
        [ofC1, 'c-2'], [ofC1, undefined], [everyone, 'c-1'], [listing, undefined], ['garbage', undefined], ['', undefined],
        [`${everyone}A`, undefined], [forge([1, 'audit', '*', '99-1-0']), undefined], [forge([1, 'audit', '*', 'x']), undefined],
        [forge([2, 'audit', '*', '1-1-0']), undefined], [forge({}), undefined], ['%%%', undefined],
      ];
      for (const [after, userId] of cases) {
        await expect(h.admin.auditEvents({ after, userId }), `${after.slice(0, 20)} ${userId}`).rejects.toMatchObject({
          code: 'BAD_USER_INPUT', argument: 'after',
        });
      }
      expect((await h.admin.auditEvents({ userId: 'c-1', after: ofC1 })).nodes.map((e) => e.type)).toEqual(['IMPORTED']);
    });

    it('answers a forged cursor at either end of time with a page, never an error', async () => {
      for (let i = 0; i < 3; i++) await h.seed(`end-${i}`, true);
      const forge = (position: string, scope = '*') => Buffer.from(JSON.stringify([1, 'audit', scope, position])).toString('base64url');
      // nothing is older than 0-0 in any bucket (Redis refuses "(0-0" as a bound: it must not be sent)
      for (const bucket of [0, 5, 31]) {
        expect(await h.admin.auditEvents({ after: forge(`${bucket}-0-0`) })).toEqual({ nodes: [], pageInfo: { endCursor: forge(`${bucket}-0-0`), hasNextPage: false } });
      }
      const own = bucketOf('end-1');
      const scope = (await h.admin.auditEvents({ userId: 'end-1', first: 1 })).pageInfo.endCursor!;
      const userScope = (JSON.parse(Buffer.from(scope, 'base64url').toString()) as string[])[2]!;
      expect((await h.admin.auditEvents({ userId: 'end-1', after: forge(`${own}-0-0`, userScope) })).nodes).toEqual([]);
      // everything is older than the end of time
      const latest = forge(`31-${'9'.repeat(15)}-${'9'.repeat(15)}`);
      expect((await h.admin.auditEvents({ after: latest, first: 10 })).nodes.map((e) => e.userId).sort()).toEqual(['end-0', 'end-1', 'end-2']);
    });
  });
}
