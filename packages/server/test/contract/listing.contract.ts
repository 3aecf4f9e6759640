import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bucketOf, indexMember } from '../../src/store/keys.js';
import type { AdminService } from '../../src/totp/admin.service.js';
import { freshPerTest, APP, type Harness, type StoreFactory } from './harness.js';

type Status = 'ACTIVE' | 'PENDING' | null;

/** Every page of a listing, following the cursors; `between` runs while each page is read. */
async function listAll(admin: AdminService, status: Status, first: number, between?: (page: number) => Promise<unknown>) {
  const ids: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const [p]: [Awaited<ReturnType<AdminService['enrollments']>>, unknown] = await Promise.all([admin.enrollments({ status, first, after }), between?.(page)]);
    expect(p.nodes.length).toBeLessThanOrEqual(first);
    ids.push(...p.nodes.map((n) => n.userId));
    if (!p.pageInfo.hasNextPage) return ids;
    after = p.pageInfo.endCursor;
  }
  throw new Error('listing did not end');
}

/** `n` ids of the form prefix-i that fall in buckets 3 and 4 (crowded buckets make fetches come back full). */
function crowded(prefix: string, n: number, from = 0): string[] {
  const ids: string[] = [];
  for (let i = from; ids.length < n; i++) if ([3, 4].includes(bucketOf(`${prefix}-${i}`))) ids.push(`${prefix}-${i}`);
  return ids;
}

/** The listing's order: the byte order of the users' index members (keys.ts). */
const ordered = (ids: readonly string[]) => [...ids].sort((a, b) => (indexMember(a) < indexMember(b) ? -1 : 1));

/** totpEnrollments: every enrollment once, by status, in pages that survive churn. */
export function listingContract(factory: StoreFactory): void {
  describe('listing', () => {
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ h } = fresh), { clientLimit: 1_000_000 });

    it('lists every enrollment once, in a fixed order, across pages of any size', async () => {
      // about ten users a bucket, so that fetches of one bucket's indexes come back full
      const active = Array.from({ length: 160 }, (_, i) => `active-${i}`);
      const pending = Array.from({ length: 160 }, (_, i) => `pending-${i}`).concat(['用户-42', '{x}:y', 'a.b+c@example.com']);
      for (const id of active) await h.seed(id, true);
      for (const id of pending) await h.seed(id);
      const all = ordered([...active, ...pending]);
      for (const first of [1, 7, 50, 1000]) expect(await listAll(h.admin, null, first), `first: ${first}`).toEqual(all);
      expect(await listAll(h.admin, 'ACTIVE', 6)).toEqual(ordered(active));
      expect(await listAll(h.admin, 'PENDING', 6)).toEqual(ordered(pending));
      const page = await h.admin.enrollments({ first: 3 });
      expect(page.nodes.map((n) => n.status)).toEqual(page.nodes.map((n) => (n.userId.startsWith('active') ? 'ACTIVE' : 'PENDING')));
    });

    it('merges the two indexes of a crowded bucket in order, fetch after fetch', async () => {
      // 150 users of one bucket, ACTIVE and PENDING interleaved in member order
      const ids: string[] = [];
      for (let i = 0; ids.length < 150; i++) if (bucketOf(`crowd-${i}`) === 7) ids.push(`crowd-${i}`);
      const byMember = ordered(ids);
      for (const [i, id] of byMember.entries()) await h.seed(id, i % 3 === 0);
      for (const first of [1, 9, 50, 200]) expect(await listAll(h.admin, null, first), `first: ${first}`).toEqual(byMember);
      expect(await listAll(h.admin, 'ACTIVE', 20)).toEqual(byMember.filter((_, i) => i % 3 === 0));
      expect(await listAll(h.admin, 'PENDING', 20)).toEqual(byMember.filter((_, i) => i % 3 !== 0));
    });

    it('lists every ACTIVE user of a bucket once while its index grows past and shrinks under its chunks', async () => {
      // 400 ACTIVE users of one bucket: on Redis the index is then several chunks (_index.lua)
      const ids: string[] = [];
      for (let i = 0; ids.length < 400; i++) if (bucketOf(`big-${i}`) === 11) ids.push(`big-${i}`);
      for (const id of ids) await h.seed(id, true);
      const byMember = ordered(ids);
      for (const first of [1, 13, 119, 121, 1000]) expect(await listAll(h.admin, 'ACTIVE', first), `first: ${first}`).toEqual(byMember);
      // a whole run of members goes (whole chunks are left empty), then every third of the rest
      const gone = new Set([...byMember.slice(100, 260), ...byMember.filter((_, i) => i % 3 === 0)]);
      for (const id of gone) await h.service.revoke(APP, id);
      const left = byMember.filter((id) => !gone.has(id));
      for (const first of [1, 50, 1000]) expect(await listAll(h.admin, 'ACTIVE', first), `first: ${first}`).toEqual(left);
      // the emptied ranges fill again
      for (const id of byMember.slice(120, 200)) await h.seed(id, true);
      const again = ordered([...left, ...byMember.slice(120, 200)]);
      for (const first of [7, 1000]) expect(await listAll(h.admin, null, first), `first: ${first}`).toEqual(again);
      expect((await h.store.keyUsage()).counts).toEqual({ k1: again.length });
      await h.store.recountKeys();
      expect(await h.store.keyUsage()).toEqual({ counts: { k1: again.length }, counted: true });
    });

    it('lists UUID ids (a shorter member: their bytes) in lower, upper and mixed case once each, and counts their keys again', async () => {
      // 300 of one bucket: several chunks on Redis; the same UUID in two cases is two users
      const ids: string[] = [];
      for (let i = 0; ids.length < 300; i++) {
        const hex = createHash('sha256').update(`uuid-${i}`).digest('hex');
        const lower = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
        const id = i % 3 === 0 ? lower : i % 3 === 1 ? lower.toUpperCase() : lower.slice(0, 18) + lower.slice(18).toUpperCase();
        if (bucketOf(id) === 9) ids.push(id);
        if (i % 3 === 1 && bucketOf(lower) === 9 && bucketOf(id) === 9) ids.push(lower);
      }
      const oneCase = (id: string) => id === id.toLowerCase() || id === id.toUpperCase();
      expect(ids.map((id) => indexMember(id).length)).toEqual(ids.map((id) => (oneCase(id) ? 23 : 48)));
      for (const [i, id] of ids.entries()) await h.seed(id, i % 4 !== 0);
      const byMember = ordered(ids);
      for (const first of [1, 17, 1000]) expect(await listAll(h.admin, null, first), `first: ${first}`).toEqual(byMember);
      expect(await listAll(h.admin, 'PENDING', 50)).toEqual(byMember.filter((id) => ids.indexOf(id) % 4 === 0));
      const active = ids.filter((_, i) => i % 4 !== 0).length;
      await h.store.recountKeys();
      expect(await h.store.keyUsage()).toEqual({ counts: { k1: active }, counted: true });
    });

    it('answers an empty listing with no cursor, and the last page with hasNextPage false', async () => {
      expect(await h.admin.enrollments({})).toEqual({ nodes: [], pageInfo: { endCursor: null, hasNextPage: false } });
      await h.activate('only');
      const p = await h.admin.enrollments({ first: 1 });
      expect(p.nodes).toHaveLength(1);
      expect(p.pageInfo.hasNextPage).toBe(false);
      const next = await h.admin.enrollments({ first: 1, after: p.pageInfo.endCursor });
      expect(next.nodes).toEqual([]);
      expect(next.pageInfo.hasNextPage).toBe(false);
    });

    it('shows the state of each enrollment, and an ACTIVE user with a replacement pending once, as ACTIVE', async () => {
      await h.activate('swap');
      await h.enroll('swap', { replace: true });
      await h.recovery.generate(APP, 'swap');
      const [node] = (await h.admin.enrollments({})).nodes;
      expect(node).toMatchObject({ userId: 'swap', status: 'ACTIVE', recoveryCodesRemaining: 10 });
      expect(node?.pendingExpiresAt).not.toBeNull();
      expect((await h.admin.enrollments({ status: 'PENDING' })).nodes).toEqual([]);
    });

    it('leaves out revoked users and lapsed pending enrollments', async () => {
      await h.activate('kept');
      await h.enroll('lapses');
      await h.activate('revoked');
      await h.service.revoke(APP, 'revoked');
      h.clock.advance(900_000);
      expect(await listAll(h.admin, null, 10)).toEqual(['kept']);
      expect(await listAll(h.admin, 'PENDING', 10)).toEqual([]);
    });

    it('skips or repeats nobody present throughout, while others enroll, activate and revoke', async () => {
      const stable = crowded('stable', 120);
      for (const id of stable) await h.seed(id);
      const factors = new Map<string, Awaited<ReturnType<Harness['seed']>>>();
      let n = 0;
      /** During each page: five newcomers, one of them revoked and one activated, and a stable user changed. */
      const churn = (change: (stableId: string) => Promise<unknown>) => async (page: number) => {
        const born = crowded('churn', 5, n);
        n = Number(born.at(-1)!.split('-')[1]) + 1;
        await Promise.all(born.map(async (id) => factors.set(id, await h.seed(id))));
        await Promise.all([
          h.service.revoke(APP, born[0]!),
          h.verify(born[1]!, h.code(factors.get(born[1]!)!)),
          change(stable[(page * 7) % stable.length]!),
        ]);
      };
      const check = (seen: string[], present: readonly string[]) => {
        expect(new Set(seen).size, 'no duplicates').toBe(seen.length);
        expect(present.filter((id) => !seen.includes(id)), 'everyone present throughout is listed').toEqual([]);
        expect(seen).toEqual(ordered(seen));
      };
      // everyone: stable users become ACTIVE under the walk (they move from one index to the other)
      const activated = new Set<string>();
      check(await listAll(h.admin, null, 7, churn(async (id) => !activated.has(id) && activated.add(id) && h.seed(id, true))), stable);
      expect(activated.size).toBeGreaterThan(10);
      // PENDING only: the stable users still pending get a new pending secret under the walk
      const pending = stable.filter((id) => !activated.has(id));
      check(await listAll(h.admin, 'PENDING', 7, churn((id) => (activated.has(id) ? Promise.resolve() : h.seed(id)))), pending);
      // ACTIVE only, while newcomers activate
      check(await listAll(h.admin, 'ACTIVE', 5, churn(() => Promise.resolve())), [...activated]);
    });

    it('refuses page sizes out of bounds and foreign or forged cursors, naming the argument', async () => {
      await h.activate('a');
      await h.activate('b');
      for (const first of [0, -1, 1001]) {
        await expect(h.admin.enrollments({ first })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'first' });
      }
      const active = (await h.admin.enrollments({ status: 'ACTIVE', first: 1 })).pageInfo.endCursor!;
      const audit = (await h.admin.auditEvents({ first: 1 })).pageInfo.endCursor!;
      const forged = Buffer.from(JSON.stringify([1, 'enrollments', 'ALL', 'not a member!'])).toString('base64url');
      for (const [after, status] of [
        [active, null], [active, 'PENDING'], [audit, null], ['', null], ['garbage', null], [`${active}x`, 'ACTIVE'],
        [active.slice(0, -2), 'ACTIVE'], [forged, null], ['x'.repeat(5000), null],
      ] as const) {
        await expect(h.admin.enrollments({ status, after }), after.slice(0, 30)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
      }
      expect((await h.admin.enrollments({ status: 'ACTIVE', after: active })).nodes).toHaveLength(1);
    });
  });
}
