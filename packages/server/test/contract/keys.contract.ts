import { describe, expect, it } from 'vitest';
import { ADMIN, APP, CountingKeyRing, K1, K2, freshPerTest, makeHarness, wrongCode, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

/**
 * What each encryption key seals (keyUsage), kept as values are sealed, re-sealed and removed:
 * confirmed users only (a record with no confirmed device expires unseen), every device's secret
 * and pending secret and the recovery key. Checked against a count made again from the users.
 */
export function keysContract(factory: StoreFactory): void {
  describe('key usage', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));

    const usage = async () => (await h.store.keyUsage()).counts;

    it('counts what each key seals as users come, change and go', async () => {
      const a = await h.enroll('u');
      expect(await usage()).toEqual({});
      await h.recovery.generate(APP, 'u');
      expect(await usage()).toEqual({});
      await h.verify('u', h.code(a));
      expect(await usage()).toEqual({ k1: 2 });
      await h.enroll('u', { deviceName: 'b' });
      await h.enroll('u', { replace: true });
      expect(await usage()).toEqual({ k1: 4 });
      h.clock.advance(30_000);
      await h.verify('u', wrongCode(h.code(a)));
      expect(await usage()).toEqual({ k1: 4 });
      // the pending ones lapse: gone at the next verify
      h.clock.advance(h.policy.pendingTtlSeconds * 1000);
      await h.verify('u', wrongCode(h.code(a)));
      expect(await usage()).toEqual({ k1: 2 });
      await h.activate('v');
      await h.service.revoke(APP, 'u');
      expect(await usage()).toEqual({ k1: 1 });
    });

    it('moves the counts from key to key with a rekey, and keeps them through promotions and recovery codes', async () => {
      const users = ['a', 'b', 'c'];
      for (const u of users) await h.activate(u);
      const b2 = await h.enroll('b', { deviceName: 'second' });
      await h.verify('b', h.code(b2));
      await h.recovery.generate(APP, 'c');
      const codes = (await h.recovery.generate(APP, 'a')).codes;
      for (const c of codes) await h.recovery.verify(APP, 'a', c);
      expect(await usage()).toEqual({ k1: 5 });
      const next = makeHarness(handle.store, {}, new CountingKeyRing([K2, K1]), h.clock);
      await next.admin.rekey(ADMIN);
      expect(await usage()).toEqual({ k2: 5 });
      const imported = await next.admin.importTotp(ADMIN, { userId: 'd', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' });
      expect(imported.status).toBe('ACTIVE');
      expect(await usage()).toEqual({ k2: 6 });
    });

    it('agrees with a count made again from the users', async () => {
      for (let i = 0; i < 12; i++) {
        const id = `user-${i}`;
        const f = i % 3 === 0 ? await h.enroll(id) : await h.activate(id);
        if (i % 2) await h.recovery.generate(APP, id);
        if (i % 4 === 1) await h.enroll(id, { deviceName: 'spare' });
        if (i % 5 === 2) await h.service.revoke(APP, id, undefined, '0');
        if (i % 6 === 3) await h.verify(id, h.code(f));
      }
      h.clock.advance(h.policy.pendingTtlSeconds * 500);
      const kept = await h.store.keyUsage();
      await h.store.recountKeys();
      expect(await h.store.keyUsage()).toEqual({ ...kept, counted: true });
    });
  });
}
