/**
 * How an audit event is kept on Redis (store/audit-codes.ts): one packed field with the type and
 * outcome as numbers, an id of sequence 0 listed as its time alone; events written field by field
 * (by earlier versions, or holding the separator) read back the same, beside packed ones.
 */
import { AUDIT_EVENT_TYPES } from '@totp-service/core';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { auditFields, fullEntryId, SEPARATOR } from '../src/store/audit-codes.js';
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
