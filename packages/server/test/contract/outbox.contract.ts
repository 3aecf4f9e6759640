import { describe, expect, it } from 'vitest';
import { bucketOf } from '../../src/store/keys.js';
import { APP, freshPerTest, makeHarness, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

/** The webhook outbox (Store.outbox): every store hands each event out once, and again only when due. */
export function outboxContract(factory: StoreFactory): void {
  describe('webhook outbox', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));
    const settle = () => new Promise((r) => setTimeout(r, 60));

    it('sends nothing from before it started, then each new event to one consumer once', async () => {
      await h.enroll('before');
      const { outbox } = handle.store;
      await outbox.start();
      await h.enroll('after-1');
      await h.activate('after-2');
      const a = await outbox.take('a', 10);
      const b = await outbox.take('b', 10);
      expect(b).toEqual([]);
      expect(a.map((e) => [e.event.type, e.event.userId, e.deliveries])).toEqual(
        expect.arrayContaining([['ENROLLED', 'after-1', 1], ['ENROLLED', 'after-2', 1], ['VERIFY', 'after-2', 1], ['ACTIVATED', 'after-2', 1]]),
      );
      expect(a).toHaveLength(4);
      expect(a.some((e) => e.event.userId === 'before')).toBe(false);
      await outbox.ack(a.map((e) => e.event.id));
      await settle();
      expect((await outbox.retry('a', 10, () => 0)).entries).toEqual([]);
      expect(await outbox.backlog()).toMatchObject({ pending: 0 });
    });

    it('counts the events waiting behind the group, also on a log that had history when it was made', async () => {
      const { outbox } = handle.store;
      let n = 0;
      while (bucketOf(`history-${n}`) !== bucketOf('behind')) n++;
      await h.enroll(`history-${n}`);
      await outbox.start();
      // ENROLLED, VERIFY, ACTIVATED in one stream; one of them taken
      await h.activate('behind');
      expect(await outbox.take('a', 1)).toHaveLength(1);
      expect(await outbox.backlog()).toEqual({ pending: 1, waiting: 2 });
    });

    it('takes from the streams it is asked about only', async () => {
      const { outbox } = handle.store;
      await outbox.start();
      for (let i = 0; i < 12; i++) await h.enroll(`window-${i}`);
      const half = Math.floor(outbox.streams / 2);
      const low = Array.from({ length: half }, (_, s) => s);
      const high = Array.from({ length: outbox.streams - half }, (_, s) => half + s);
      const a = await outbox.take('a', 10, low);
      const b = await outbox.take('a', 10, high);
      const stream = (id: string) => Number(id.split('-')[0]);
      expect(a.every((e) => stream(e.event.id) < half)).toBe(true);
      expect(b.every((e) => stream(e.event.id) >= half)).toBe(true);
      expect([...a, ...b].map((e) => e.event.userId).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `window-${i}`).sort());
      expect(await outbox.take('a', 10)).toEqual([]);
    });

    it('hands an unacknowledged event out again when due, to one consumer, counting the tries', async () => {
      const { outbox } = handle.store;
      await outbox.start();
      await h.enroll('retry');
      const [first] = await outbox.take('a', 10);
      expect(first?.deliveries).toBe(1);
      expect((await outbox.retry('a', 10, () => 60_000)).entries).toEqual([]);
      await settle();
      const [again, twice] = await Promise.all([outbox.retry('b', 10, () => 50), outbox.retry('c', 10, () => 50)]);
      const claimed = [...again.entries, ...twice.entries];
      expect(claimed.map((e) => [e.event.id, e.deliveries])).toEqual([[first!.event.id, 2]]);
      expect((await outbox.backlog()).pending).toBe(1);
      await outbox.ack([first!.event.id]);
      expect((await outbox.backlog()).pending).toBe(0);
      await h.service.revoke(APP, 'retry');
      expect((await outbox.take('a', 10)).map((e) => e.event.type)).toEqual(['REVOKED']);
    });
    it('counts an event the audit cap trimmed before it was delivered as lost, and hands it out no more', async () => {
      // 64 events over 32 buckets: 2 per stream, trimmed by whole nodes (Redis's MAXLEN ~), so a flood of 400 in one bucket trims
      const small = await factory({ auditMaxEvents: 64, auditUserMaxEvents: 5 });
      try {
        const c = makeHarness(small.store, { maxFailures: 1_000_000 });
        const { outbox } = small.store;
        await outbox.start();
        const u = 'undelivered';
        await c.enroll(u);
        const [taken] = await outbox.take('a', 10);
        expect(taken?.event.userId).toBe(u);
        let v = 0;
        while (bucketOf(`flood-${v}`) !== bucketOf(u)) v++;
        await c.seed(`flood-${v}`, true);
        for (let i = 0; i < 400; i++) await c.verify(`flood-${v}`, '000000');
        await settle();
        const { entries, lost } = await outbox.retry('b', 10, () => 0);
        expect(lost).toBe(1);
        expect(entries.some((e) => e.event.id === taken!.event.id)).toBe(false);
        expect((await outbox.retry('b', 10, () => 0)).lost).toBe(0);
      } finally {
        await small.dispose();
      }
    });
  });
}
