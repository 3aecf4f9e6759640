/**
 * What a user costs in Redis, pinned: the keys and fields an ACTIVE user holds (bench/ measures
 * the bytes; this keeps the layout from growing unnoticed). A user whose account name is the
 * default and who has no failure left stores no account name and no counters; a user's audit
 * events are a list of ids into the bucket stream, not copies.
 */
import type { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { auditFields, fullEntryId } from '../src/store/audit-codes.js';
import { IMPLICIT_ISSUER } from '../src/store/codec.js';
import { bucketKeys, bucketOf, encodeId, userKeys } from '../src/store/keys.js';
import { ADMIN, APP, makeHarness, wrongCode, type Harness } from './contract/harness.js';
import { redisStore } from './support/redis.js';

const redisUrl = inject('redisUrl');

describe.skipIf(!redisUrl)('the Redis layout of a user', () => {
  it('keeps an active user to a small hash, an index entry and a list of event ids', async () => {
    const { store, client, prefix, dispose } = await redisStore(redisUrl!);
    try {
      const h = makeHarness(store);
      const id = '3f1b2c4d-1111-2222-3333-444455556666';
      const f = await h.activate(id);
      const k = userKeys(id);
      const hash = await client.hgetall(k.user);
      // the harness's issuer is not the implicit one: stored; SHA1, 6 digits, 30 s are not
      expect(Object.keys(hash).sort()).toEqual(['c', 'g', 'i', 'ls', 'lv', 's', 'v']);
      // a generation is a decimal that Redis keeps as a 64-bit integer (10 bytes, not 18 as hex)
      expect(hash.g).toMatch(/^[1-9][0-9]{18}$/);
      expect(BigInt(hash.g!) >= 1n << 62n && BigInt(hash.g!) < 1n << 63n).toBe(true);
      expect(await client.type(k.events)).toBe('list');
      // the list holds an id of sequence 0 as its time alone; an event is one packed field
      const ids = (await client.lrange(k.events, 0, -1)).map(fullEntryId);
      expect(ids).toHaveLength(3);
      const entries = (await Promise.all(ids.map((e) => client.xrange(k.audit, e, e)))).map((e) => e[0]![1]);
      for (const flat of entries) expect(flat.map((v, i) => (i % 2 === 0 ? v : typeof v))).toEqual(['e', 'string']);
      expect(entries.map((flat) => auditFields(flat).t)).toEqual(['ACTIVATED', 'VERIFY', 'ENROLLED']);
      expect(auditFields(entries[1]!)).toEqual({ t: 'VERIFY', u: id, dv: '0', a: 'test-app', o: 'ACCEPTED' });
      // a UUID's member is its 16 bytes behind a mark, not the 48 characters of <id>
      expect(k.member).toBe(`.${Buffer.from(id.replaceAll('-', ''), 'hex').toString('base64url')}`);
      expect(await client.zscore(k.activeIndex, k.member)).toBe('0');
      const keys = (await client.keys(`${prefix}*`)).map((key) => key.slice(prefix.length)).sort();
      expect(keys).toEqual([k.audit, k.events, k.activeIndex, k.user, k.keyCounts].sort());

      // failures are stored while they count, and dropped again by the next accepted code
      h.clock.advance(30_000);
      await h.verify(id, wrongCode(h.code(f)));
      expect(await client.hmget(k.user, 'f', 'lu', 'lc')).toEqual(['1', '0', '0']);
      await h.verify(id, h.code(f));
      expect(await client.hmget(k.user, 'f', 'lu', 'lc')).toEqual([null, null, null]);

      // an account name of its own is stored, and survives activation
      const other = await h.enroll('someone', { accountName: 'Someone Else' });
      expect(await client.hget(userKeys('someone').user, 'pn')).toBe('Someone Else');
      await h.verify('someone', h.code(other));
      expect(await client.hmget(userKeys('someone').user, 'n', 'pn')).toEqual(['Someone Else', null]);
      expect((await h.service.status('someone'))?.accountName).toBe('Someone Else');
      expect((await h.service.status(id))?.accountName).toBe(id);
    } finally {
      await dispose();
    }
  });

  it('stores parameters and an issuer only when they are not the usual ones, and reads the older records that stored them', async () => {
    const { store, client, dispose } = await redisStore(redisUrl!);
    try {
      const h = makeHarness(store);
      const fields = async (id: string) => Object.keys(await client.hgetall(userKeys(id).user)).sort();
      const factor = async (id: string) => {
        const s = await h.service.status(id);
        return s && { algorithm: s.algorithm, digits: s.digits, period: s.period, issuer: s.issuer };
      };
      const usual = { algorithm: 'SHA1', digits: 6, period: 30, issuer: IMPLICIT_ISSUER } as const;
      const own = { algorithm: 'SHA256', digits: 8, period: 60, issuer: 'Acme' } as const;

      // pending, then confirmed: neither m / pm nor i / pi
      await h.activate('usual', { issuer: IMPLICIT_ISSUER });
      expect(await fields('usual')).toEqual(['c', 'g', 'ls', 'lv', 's', 'v']);
      expect(await factor('usual')).toEqual(usual);

      // a replacement with parameters and an issuer of its own stores them, pending and confirmed
      const replaced = await h.enroll('usual', { ...own, replace: true });
      expect(await client.hmget(userKeys('usual').user, 'pm', 'pi', 'm', 'i')).toEqual(['SHA256:8:60', 'Acme', null, null]);
      h.clock.advance(60_000);
      await h.verify('usual', h.code(replaced));
      expect(await client.hmget(userKeys('usual').user, 'm', 'i', 'pm', 'pi')).toEqual(['SHA256:8:60', 'Acme', null, null]);
      expect(await factor('usual')).toEqual(own);

      // and a usual one confirmed over it takes them away again; so does an import over it
      const back = await h.enroll('usual', { issuer: IMPLICIT_ISSUER, replace: true });
      h.clock.advance(60_000);
      await h.verify('usual', h.code(back));
      expect(await fields('usual')).toEqual(['c', 'g', 'ls', 'lv', 's', 'v']);
      expect(await factor('usual')).toEqual(usual);
      await h.enroll('imported', own);
      await h.admin.importTotp(ADMIN, { userId: 'imported', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', issuer: IMPLICIT_ISSUER });
      expect(await client.hmget(userKeys('imported').user, 'm', 'i', 'pm', 'pi')).toEqual([null, null, null, null]);
      expect(await factor('imported')).toEqual(usual);

      // a record written before stored them: it reads, and verifies, the same
      await client.hset(userKeys('usual').user, 'm', 'SHA1:6:30', 'i', IMPLICIT_ISSUER);
      expect(await factor('usual')).toEqual(usual);
      h.clock.advance(30_000);
      expect((await h.verify('usual', h.code(back))).outcome).toBe('ACCEPTED');
    } finally {
      await dispose();
    }
  });

  it('lists, counts and revokes UUID users an earlier version indexed by <id>, and gives them the short member at their next change', async () => {
    const { store, client, dispose } = await redisStore(redisUrl!);
    try {
      const h = makeHarness(store);
      const [a, p] = ['7d444840-9dc0-11d1-b245-5ffdce74fad2', '7D444840-9DC0-11D1-B245-5FFDCE74FAD3'];
      await h.seed(a, true);
      await h.seed(p);
      // as earlier versions wrote them: <id> in the indexes
      const ka = userKeys(a);
      const kp = userKeys(p);
      await client.zrem(ka.activeIndex, ka.member);
      await client.zadd(ka.activeIndex, 0, ka.id);
      const expiry = await client.zscore(kp.pendingExpiry, kp.member);
      await client.zrem(kp.pendingIndex, kp.member);
      await client.zrem(kp.pendingExpiry, kp.member);
      await client.zadd(kp.pendingIndex, 0, kp.id);
      await client.zadd(kp.pendingExpiry, expiry!, kp.id);

      const page = await h.admin.enrollments({ first: 10 });
      expect(page.nodes.map((n) => n.userId).sort()).toEqual([p, a]);
      await h.store.recountKeys();
      expect(await h.store.keyUsage()).toEqual({ counts: { k1: 1 }, counted: true });

      // a second device for one, a revocation for the other: each leaves the form it was in
      await h.enroll(a, { deviceName: 'phone' });
      expect(await client.zrange(ka.activeIndex, 0, -1)).toEqual([ka.member]);
      await h.service.revoke(APP, p);
      for (const idx of [kp.pendingIndex, kp.pendingExpiry]) expect(await client.zrange(idx, 0, -1)).toEqual([]);
      expect((await h.admin.enrollments({ first: 10 })).nodes.map((n) => n.userId)).toEqual([a]);
    } finally {
      await dispose();
    }
  });

  it("keeps a bucket's ACTIVE index as listpack chunks, and splits the one sorted set earlier versions wrote", async () => {
    const { store, client, prefix, dispose } = await redisStore(redisUrl!);
    try {
      const h = makeHarness(store);
      const ids: string[] = [];
      for (let i = 0; ids.length < 301; i++) if (bucketOf(`chunked-${i}`) === 5) ids.push(`chunked-${i}`);
      for (const id of ids.slice(0, 300)) await h.seed(id, true);
      const idx = bucketKeys(5).activeIndex;
      const members = ids.slice(0, 300).map(encodeId).sort();
      const { bounds, sizes, ...before } = await chunks(client, idx);
      expect(before.members).toEqual(members);
      expect(before.encodings).toEqual(['listpack']);
      expect(bounds.length).toBeGreaterThan(2);
      for (const n of sizes) expect(n).toBeLessThanOrEqual(120);

      // as version 1 and 2 kept it: one sorted set, a skiplist at this size, and no directory
      await client.del(idx, `${idx}d`, ...bounds.slice(1).map((b) => `${idx}:${b}`));
      await client.zadd(idx, ...members.flatMap((m) => [0, m]));
      expect(await client.object('ENCODING', `${prefix}${idx}`)).toBe('skiplist');
      expect(await listed(h)).toEqual(members);
      // the next ACTIVE user of the bucket splits it
      await h.seed(ids[300]!, true);
      const after = await chunks(client, idx);
      expect(after.members).toEqual(ids.map(encodeId).sort());
      expect(after.encodings).toEqual(['listpack']);
      expect(await listed(h)).toEqual(after.members);
    } finally {
      await dispose();
    }
  });
});

/** A bucket's ACTIVE index as stored: the chunks' bounds ('' first), their sizes, their members in order, their encodings. */
async function chunks(client: Redis, idx: string) {
  // ioredis does not prefix OBJECT's key
  const prefix = client.options.keyPrefix ?? '';
  const bounds = ['', ...(await client.zrange(`${idx}d`, 0, -1))];
  const keys = bounds.map((b) => (b === '' ? idx : `${idx}:${b}`));
  const each = await Promise.all(keys.map((k) => client.zrange(k, 0, -1)));
  const encodings = [...new Set(await Promise.all(keys.map((k) => client.object('ENCODING', `${prefix}${k}`))))];
  return { bounds, sizes: each.map((m) => m.length), members: each.flat(), encodings };
}

/** Every ACTIVE user listed, as index members. */
async function listed(h: Harness): Promise<string[]> {
  const page = await h.admin.enrollments({ status: 'ACTIVE', first: 1000 });
  return page.nodes.map((n) => encodeId(n.userId));
}
