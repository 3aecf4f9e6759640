/**
 * How an audit event is kept on Redis (store/audit-codes.ts): one packed field with the type and
 * outcome as numbers, an id of sequence 0 listed as its time alone; events written field by field
 * (by earlier versions, or holding the separator) read back the same, beside packed ones; a UUID
 * user id and a usual client address are stored shorter and read back as the same text.
 */
import { AUDIT_EVENT_TYPES } from '@totp-service/core';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { auditFields, compactClientIp, compactUserId, expandValue, fullEntryId, SEPARATOR } from '../src/store/audit-codes.js';
import { FAIL_FAST } from '../src/store/connect.js';
import { bucketKeys, eventBucket, userKeys } from '../src/store/keys.js';
import { RedisStore } from '../src/store/redis-store.js';
import { ADMIN, makeHarness, wrongCode } from './contract/harness.js';

const redisUrl = inject('redisUrl');

describe('the packed form of an audit event', () => {
  it('reads the values back by name, numbers as names, empty ones left out', () => {
    expect(auditFields(['e', `3${SEPARATOR}alice${SEPARATOR}${SEPARATOR}app${SEPARATOR}203.0.113.5${SEPARATOR}2`])).toEqual({
      t: 'VERIFY',
      u: 'alice',
      a: 'app',
      ip: '203.0.113.5',
      o: 'INVALID_CODE',
    });
    expect(auditFields(['e', `12${SEPARATOR}bob${SEPARATOR}1${SEPARATOR}app${SEPARATOR}${SEPARATOR}${SEPARATOR}from "a" to "b"`])).toEqual({
      t: 'DEVICE_RENAMED',
      u: 'bob',
      dv: '1',
      a: 'app',
      d: 'from "a" to "b"',
    });
  });

  it('reads the older form, a field per value, as it is', () => {
    const flat = ['t', 'VERIFY', 'u', 'alice', 'a', 'app', 'o', 'ACCEPTED'];
    expect(auditFields(flat)).toEqual({ t: 'VERIFY', u: 'alice', a: 'app', o: 'ACCEPTED' });
    // a user whose id is "e" in the older form is not a packed event
    expect(auditFields(['t', 'LOCKED', 'u', 'e'])).toEqual({ t: 'LOCKED', u: 'e' });
  });

  it('keeps a number it does not know (a newer type) as it is', () => {
    expect(auditFields(['e', `99${SEPARATOR}alice${SEPARATOR}${SEPARATOR}app`])).toEqual({ t: '99', u: 'alice', a: 'app' });
  });

  it('gives every event type a number of its own', () => {
    const seen = new Set<string>();
    for (let n = 1; n <= AUDIT_EVENT_TYPES.length; n++) seen.add(auditFields(['e', String(n)]).t!);
    expect([...seen].sort()).toEqual([...AUDIT_EVENT_TYPES].sort());
  });

  it('lists "<ms>" for "<ms>-0" and keeps other ids whole', () => {
    expect(fullEntryId('1765000000000')).toBe('1765000000000-0');
    expect(fullEntryId('1765000000000-3')).toBe('1765000000000-3');
  });
});

describe('the shorter forms of a user id and a client address', () => {
  it('shortens a UUID in either case and an address in its usual spelling', () => {
    const id = '3f2c8a1e-9b4d-4c7e-8f10-2a6b5c4d3e21';
    expect(compactUserId(id)).toHaveLength(23);
    expect(compactUserId(id.toUpperCase())).toHaveLength(23);
    expect(compactClientIp('198.18.39.255')).toHaveLength(7);
    expect(compactClientIp('2001:db8:85a3::8a2e:370:7334')).toHaveLength(23);
    for (const v of [id, id.toUpperCase(), '198.18.39.255', '0.0.0.0', '2001:db8:85a3::8a2e:370:7334']) {
      expect(expandValue(compactUserId(v))).toBe(v);
      expect(expandValue(compactClientIp(v))).toBe(v);
    }
  });

  it('keeps as it is what would not read back as the same text', () => {
    const kept = [
      'alice',
      '3F2C8A1E-9b4d-4c7e-8f10-2a6b5c4d3e21', // mixed case
      '3f2c8a1e9b4d4c7e8f102a6b5c4d3e21', // no dashes
      '{3f2c8a1e-9b4d-4c7e-8f10-2a6b5c4d3e2}',
      '2001:DB8:85A3::8A2E:370:7334', // capitals
      '2001:0db8:85a3:0000:0000:8a2e:0370:7334', // zeros a shorter form drops
      'fe80::1234:5678:9abc:def0%eth0', // a zone
      '::ffff:198.51.100.7', // an IPv4 tail
      '2001:db8::1', // no shorter
      '',
    ];
    for (const v of kept) {
      expect(compactUserId(v)).toBe(v);
      expect(compactClientIp(v)).toBe(v);
      expect(expandValue(v)).toBe(v);
    }
  });

  it('gives back every UUID and every address it shortens (fast-check)', () => {
    const some = (a: fc.Arbitrary<string>, compact: (v: string) => string) =>
      fc.assert(fc.property(a, (v) => expandValue(compact(v)) === v), { numRuns: 500 });
    some(fc.uuid(), compactUserId);
    some(fc.uuid().map((u) => u.toUpperCase()), compactUserId);
    some(fc.ipV4(), compactClientIp);
    some(fc.ipV6(), compactClientIp);
    some(fc.ipV4Extended(), compactClientIp);
    some(fc.string({ unit: 'grapheme', maxLength: 40 }), compactUserId);
    const short = compactUserId(randomUUID());
    expect([short.charCodeAt(0), short.slice(1)]).toEqual([1, expect.stringMatching(/^[A-Za-z0-9_-]{22}$/)]);
  });

  it('reads the shorter forms back in both forms of an event', () => {
    const u = 'c0ffee00-1234-4abc-9def-0123456789ab';
    const packed = ['3', compactUserId(u), '0', 'app', compactClientIp('203.0.113.5'), '2'].join(SEPARATOR);
    const whole = { t: 'VERIFY', u, dv: '0', a: 'app', ip: '203.0.113.5', o: 'INVALID_CODE' };
    expect(auditFields(['e', packed])).toEqual(whole);
    expect(auditFields(['t', 'VERIFY', 'u', compactUserId(u), 'dv', '0', 'a', 'app', 'ip', compactClientIp('203.0.113.5'), 'o', 'INVALID_CODE'])).toEqual(whole);
  });
});

describe.skipIf(!redisUrl)('audit events on Redis', () => {
  async function open() {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const client = new Redis(redisUrl!, { ...FAIL_FAST, keyPrefix: prefix, lazyConnect: true });
    await client.connect();
    const store = new RedisStore(client, { auditMaxEvents: 10_000, auditUserMaxEvents: 1000 });
    return { client, store, h: makeHarness(store) };
  }

  it('writes an event holding the separator field by field, and reads it back whole', async () => {
    const { client, store, h } = await open();
    try {
      const detail = `rekeyed${SEPARATOR}k1 to k2`;
      await store.recordEvent({ type: 'REKEYED', now: h.clock.now, actor: ADMIN, detail });
      const entries = await client.xrange(bucketKeys(eventBucket(null)).audit, '-', '+');
      expect(entries).toHaveLength(1);
      expect(entries[0]![1]).toEqual(['t', 'REKEYED', 'a', ADMIN.name, 'd', detail]);
      const page = await h.admin.auditEvents({ first: 10 });
      expect(page.nodes.map((e) => [e.type, e.detail])).toEqual([['REKEYED', detail]]);
    } finally {
      await store.close();
    }
  });

  it('stores a UUID user id and a client address shorter, and every query reads back their text', async () => {
    const { client, store, h } = await open();
    try {
      const id = randomUUID();
      const k = userKeys(id);
      const f = await h.activate(id);
      h.clock.advance(30_000);
      await h.verify(id, wrongCode(h.code(f)), '198.51.100.7');
      const [newest] = await client.lrange(k.events, 0, 0);
      const [entry] = await client.xrange(k.audit, fullEntryId(newest!), fullEntryId(newest!));
      const stored = entry![1][1]!.split(SEPARATOR);
      expect([stored[1], stored[4]]).toEqual([compactUserId(id), compactClientIp('198.51.100.7')]);
      expect(stored[1]).toHaveLength(23);
      expect(stored[4]).toHaveLength(7);
      const mine = (await h.admin.auditEvents({ userId: id, first: 1 })).nodes[0]!;
      expect([mine.userId, mine.clientIp, mine.outcome]).toEqual([id, '198.51.100.7', 'INVALID_CODE']);
      const all = (await h.admin.auditEvents({ first: 10 })).nodes.find((e) => e.id === mine.id)!;
      expect([all.userId, all.clientIp]).toEqual([id, '198.51.100.7']);
    } finally {
      await store.close();
    }
  });

  it("reads a user's events written the older way (named fields, whole ids in the list) beside packed ones", async () => {
    const { client, store, h } = await open();
    try {
      const id = 'carol';
      const k = userKeys(id);
      // two events as the version before wrote them (named fields, whole ids in the user's list)
      const ms = h.clock.now - 120_000;
      const old1 = await client.xadd(k.audit, `${ms}-0`, 't', 'VERIFY', 'u', id, 'a', 'legacy', 'ip', '198.51.100.7', 'o', 'INVALID_CODE');
      const old2 = await client.xadd(k.audit, `${ms}-1`, 't', 'UNLOCKED', 'u', id, 'a', 'legacy', 'd', 'was locked');
      await client.lpush(k.events, old1!, old2!);
      const f = await h.activate(id);
      h.clock.advance(30_000);
      await h.verify(id, wrongCode(h.code(f)));

      const events = (await h.admin.auditEvents({ userId: id, first: 10 })).nodes;
      expect(events.map((e) => [e.type, e.outcome, e.actor, e.clientIp, e.detail])).toEqual([
        ['VERIFY', 'INVALID_CODE', 'test-app', null, null],
        ['ACTIVATED', null, 'test-app', null, null],
        ['VERIFY', 'ACCEPTED', 'test-app', null, null],
        ['ENROLLED', null, 'test-app', null, null],
        ['UNLOCKED', null, 'legacy', null, 'was locked'],
        ['VERIFY', 'INVALID_CODE', 'legacy', '198.51.100.7', null],
      ]);
      // the query over everyone, filtered by the user, answers the same
      const all = (await h.admin.auditEvents({ first: 10 })).nodes.filter((e) => e.userId === id);
      expect(all.map((e) => e.id)).toEqual(events.map((e) => e.id));
      // the newest event is listed by its time alone
      expect((await client.lindex(k.events, 0))!).toMatch(/^\d+$/);
    } finally {
      await store.close();
    }
  });
});
