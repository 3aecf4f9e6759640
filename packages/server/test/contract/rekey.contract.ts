import { KeyRing, keyIdOf } from '@totp-service/core';
import { describe, expect, it } from 'vitest';
import { AdminService } from '../../src/totp/admin.service.js';
import { freshPerTest, ADMIN, APP, CountingKeyRing, K1, K2, makeHarness, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

const K0 = { id: 'k0', key: Buffer.alloc(32, 6) };

/** Which key sealed each stored value of `userIds`: "user.field:kid". */
async function sealedBy(h: Harness, userIds: readonly string[]): Promise<string[]> {
  const values = await h.store.sealedValues(userIds);
  return userIds.flatMap((id, i) => Object.entries(values[i] ?? {}).map(([field, v]) => `${id}.${field}:${keyIdOf(v)}`)).sort();
}

/** rekeyTotp: every sealed value re-sealed with the active key, safely, and only once. */
export function rekeyContract(factory: StoreFactory): void {
  describe('rekey', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh), { clientLimit: 1_000_000 });

    /** The same store, clock and policy under another key ring. */
    const withRing = (...keys: (typeof K1)[]) => makeHarness(handle.store, h.policy, new CountingKeyRing(keys), h.clock);

    it('re-seals every secret, pending secret and recovery key with the first key, once', async () => {
      const a = await h.activate('active');
      await h.recovery.generate(APP, 'active');
      await h.enroll('pending');
      await h.activate('swapping');
      await h.enroll('swapping', { replace: true });
      await h.seed('seeded', true);
      const ids = ['active', 'pending', 'swapping', 'seeded'];
      expect(await sealedBy(h, ids)).toEqual([
        'active.rk:k1', 'active.s:k1', 'pending.ps:k1', 'seeded.s:k1', 'swapping.ps:k1', 'swapping.s:k1',
      ]);
      const h2 = withRing(K2, K1);
      expect(await h2.admin.rekey(ADMIN)).toEqual({ rekeyed: 6, activeKeyId: 'k2' });
      expect(await sealedBy(h, ids)).toEqual([
        'active.rk:k2', 'active.s:k2', 'pending.ps:k2', 'seeded.s:k2', 'swapping.ps:k2', 'swapping.s:k2',
      ]);
      expect(await h2.admin.rekey(ADMIN)).toEqual({ rekeyed: 0, activeKeyId: 'k2' });
      // and nothing else changed: only k2 is needed from now on
      const only2 = withRing(K2);
      expect((await only2.verify('active', only2.code(a))).outcome).toBe('ACCEPTED');
      expect((await only2.verify('active', only2.code(a))).outcome).toBe('REPLAYED');
      expect(await only2.service.status('active')).toMatchObject({ status: 'ACTIVE', failedAttempts: 1, recoveryCodesRemaining: 10 });
      const events = (await h2.admin.auditEvents({ types: ['REKEYED'] })).nodes;
      expect(events.map((e) => e.detail)).toEqual(['0 sealed values re-sealed with key "k2"', '6 sealed values re-sealed with key "k2"']);
    });

    it('keeps recovery codes valid across a rekey', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      await withRing(K2, K1).admin.rekey(ADMIN);
      const only2 = withRing(K2);
      expect((await only2.recovery.verify(APP, 'u', codes[0]!)).outcome).toBe('ACCEPTED');
      expect((await only2.service.status('u'))?.recoveryCodesRemaining).toBe(9);
    });

    it('runs safely while verifies go on: every code accepted once, none lost', async () => {
      const ids = Array.from({ length: 60 }, (_, i) => `busy-${i}`);
      const factors = await Promise.all(ids.map((id) => h.seed(id, true)));
      await Promise.all(ids.slice(0, 20).map((id) => h.recovery.generate(APP, id)));
      const h2 = withRing(K2, K1);
      const codes = factors.map((f) => h2.code(f));
      const [rekey, first, second] = await Promise.all([
        h2.admin.rekey(ADMIN),
        Promise.all(ids.map((id, i) => h2.verify(id, codes[i]!))),
        Promise.all(ids.map((id, i) => h.verify(id, codes[i]!))),
      ]);
      expect(rekey.rekeyed).toBe(80);
      // each code accepted exactly once, by one server or the other, the other one a replay
      ids.forEach((id, i) => expect([first[i]!.outcome, second[i]!.outcome].sort(), id).toEqual(['ACCEPTED', 'REPLAYED']));
      expect((await sealedBy(h, ids)).every((s) => s.endsWith(':k2'))).toBe(true);
      const states = await Promise.all(ids.map((id) => h2.service.status(id)));
      // (the replay's failure stands unless the acceptance settled after it was reserved: 0 or 1)
      expect(states.every((s) => s!.failedAttempts <= 1 && s!.lastVerifiedAt?.getTime() === h.clock.now)).toBe(true);
      expect(await h2.admin.rekey(ADMIN)).toMatchObject({ rekeyed: 0 });
    });

    it('loses no concurrent enrollment, activation, replacement or revocation', async () => {
      const ids = Array.from({ length: 40 }, (_, i) => `churn-${i}`);
      const pending = await Promise.all(ids.map((id) => h.seed(id)));
      const h2 = withRing(K2, K1);
      const latest = [...pending];
      await Promise.all([
        h2.admin.rekey(ADMIN),
        ...ids.map(async (id, i) => {
          if (i % 4 === 0) return h.verify(id, h.code(pending[i]!)); // activates (a server still on k1)
          if (i % 4 === 1) return h.service.revoke(APP, id);
          if (i % 4 === 2) return (latest[i] = await h.seed(id)); // a new pending secret, sealed with k1
          return (latest[i] = await h2.seed(id, true)); // imported over it, sealed with k2
        }),
      ]);
      // whatever k1 wrote under the walk is left for the next run, never overwritten with a stale value
      await h2.admin.rekey(ADMIN);
      expect((await sealedBy(h, ids)).every((s) => s.endsWith(':k2'))).toBe(true);
      expect(await h2.admin.rekey(ADMIN)).toMatchObject({ rekeyed: 0 });
      // every user is as the concurrent operation left it, with the secret it wrote, under k2 alone
      const only2 = withRing(K2);
      only2.clock.advance(30_000);
      for (const [i, id] of ids.entries()) {
        const r = await only2.verify(id, only2.code(latest[i]!));
        expect(r.outcome, id).toBe(i % 4 === 1 ? 'NOT_ENROLLED' : 'ACCEPTED');
        expect(r.activated, id).toBe(i % 4 === 2);
      }
    });

    it('never overwrites a value changed between its read and its re-sealed write', async () => {
      const first = await h.seed('re-enrolled');
      const toActivate = await h.seed('activated');
      await h.seed('revoked', true);
      await h.activate('new-codes');
      const oldCodes = (await h.recovery.generate(APP, 'new-codes')).codes;
      const latest = new Map<string, Awaited<ReturnType<Harness['seed']>>>();
      let newCodes: readonly string[] = [];
      // the store as the rekey sees it: right after it reads a user, that user changes
      const changes = new Map<string, () => Promise<unknown>>([
        ['re-enrolled', async () => latest.set('re-enrolled', await h.seed('re-enrolled'))],
        ['activated', async () => expect((await h.verify('activated', h.code(toActivate))).activated).toBe(true)],
        ['revoked', () => h.service.revoke(APP, 'revoked')],
        ['new-codes', async () => (newCodes = (await h.recovery.generate(APP, 'new-codes')).codes)],
      ]);
      const racing: typeof handle.store = new Proxy(handle.store, {
        get(target, prop, receiver) {
          if (prop !== 'sealedValues') return Reflect.get(target, prop, receiver) as unknown;
          return async (userIds: readonly string[]) => {
            const read = await target.sealedValues(userIds);
            for (const id of userIds) {
              const change = changes.get(id);
              changes.delete(id);
              await change?.();
            }
            return read;
          };
        },
      });
      const ring = new CountingKeyRing([K2, K1]);
      await new AdminService({ store: racing, keyRing: ring, issuer: 'x', clock: h.clock.read, maxDevices: 5 }).rekey(ADMIN);
      expect(changes.size).toBe(0);
      await withRing(K2, K1).admin.rekey(ADMIN);
      expect(await sealedBy(h, ['re-enrolled', 'activated', 'revoked', 'new-codes'])).toEqual([
        'activated.s:k2', 'new-codes.rk:k2', 'new-codes.s:k2', 're-enrolled.ps:k2',
      ]);
      const only2 = withRing(K2);
      only2.clock.advance(30_000);
      expect((await only2.verify('re-enrolled', only2.code(first))).outcome).toBe('INVALID_CODE');
      expect((await only2.verify('re-enrolled', only2.code(latest.get('re-enrolled')!))).outcome).toBe('ACCEPTED');
      expect((await only2.verify('activated', only2.code(toActivate))).outcome).toBe('ACCEPTED');
      expect(await only2.service.status('revoked')).toBeNull();
      expect((await only2.recovery.verify(APP, 'new-codes', oldCodes[1]!)).outcome).toBe('INVALID_CODE');
      expect((await only2.recovery.verify(APP, 'new-codes', newCodes[1]!)).outcome).toBe('ACCEPTED');
    });

    it('follows a pending secret confirmed between its read and its write: re-sealed in the same run', async () => {
      const secret = await h.seed('confirmed-meanwhile');
      let confirm: (() => Promise<unknown>) | undefined = async () => expect((await h.verify('confirmed-meanwhile', h.code(secret))).activated).toBe(true);
      // the rekey reads the pending secret (ps), then the user confirms it (ps moves to s)
      const racing: typeof handle.store = new Proxy(handle.store, {
        get(target, prop, receiver) {
          if (prop !== 'sealedValues') return Reflect.get(target, prop, receiver) as unknown;
          return async (userIds: readonly string[]) => {
            const read = await target.sealedValues(userIds);
            const change = confirm;
            confirm = undefined;
            await change?.();
            return read;
          };
        },
      });
      const ring = new CountingKeyRing([K2, K1]);
      const report = await new AdminService({ store: racing, keyRing: ring, issuer: 'x', clock: h.clock.read, maxDevices: 5 }).rekey(ADMIN);
      expect(confirm).toBeUndefined();
      expect(report.rekeyed).toBe(1);
      expect(await sealedBy(h, ['confirmed-meanwhile'])).toEqual(['confirmed-meanwhile.s:k2']);
    });

    it('names the key id of values it cannot open, and re-seals the rest', async () => {
      const old = makeHarness(handle.store, h.policy, new CountingKeyRing([K0]), h.clock);
      await old.seed('ancient', true);
      await h.seed('recent', true);
      const err = await withRing(K2, K1).admin.rekey(ADMIN).then(() => null, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/1 sealed value could not be opened \(1 sealed with key "k0", which is not in TOTP_ENCRYPTION_KEYS\)/);
      expect(err?.message).toMatch(/the other 1 were re-sealed with "k2"/);
      expect(err).toMatchObject({ name: 'SealError', keyId: 'k0' });
      expect(await sealedBy(h, ['ancient', 'recent'])).toEqual(['ancient.s:k0', 'recent.s:k2']);
      const [event] = (await h.admin.auditEvents({ types: ['REKEYED'] })).nodes;
      expect(event?.detail).toMatch(/^1 sealed values re-sealed with key "k2"; 1 sealed value could not be opened .*"k0"/);
      // a verify of that user fails with the same clear error, and costs the user nothing
      const only2 = withRing(K2, K1);
      await expect(only2.verify('ancient', '123456')).rejects.toThrow(/sealed with key "k0", which is not in TOTP_ENCRYPTION_KEYS/);
      expect((await only2.service.status('ancient'))?.failedAttempts).toBe(0);
      // with the old key back in the ring, a second run finishes the job
      expect(await withRing(K2, K1, K0).admin.rekey(ADMIN)).toEqual({ rekeyed: 1, activeKeyId: 'k2' });
    });

    it('treats a value bound to another user as unopenable, never as that user', async () => {
      await h.seed('victim', true);
      await h.seed('thief', true);
      const [victim] = await h.store.sealedValues(['victim']);
      const [thief] = await h.store.sealedValues(['thief']);
      // copy the victim's sealed secret into the thief's record (as an attacker with Redis access might)
      await h.store.reseal({ userId: 'thief', swaps: [{ field: 's', from: thief!.s!, to: victim!.s! }], now: h.clock.now });
      const err = await withRing(K2, K1).admin.rekey(ADMIN).then(() => null, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/does not authenticate under key "k1"/);
      expect(await sealedBy(h, ['thief', 'victim'])).toEqual(['thief.s:k1', 'victim.s:k2']);
      expect(new KeyRing([K1]).needsRekey((await h.store.sealedValues(['thief']))[0]!.s!)).toBe(false);
    });
  });
}
