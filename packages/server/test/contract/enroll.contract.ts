import { TotpError } from '@totp-service/core';
import { describe, expect, it } from 'vitest';
import { freshPerTest, ADMIN, APP, CountingKeyRing, K1, K2, makeHarness, wrongCode, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

/** Enrollment, status, revoke, unlock and user isolation: the same on every store. */
export function enrollContract(factory: StoreFactory): void {
  describe('enroll, status, revoke', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));

    it('starts PENDING with the defaults of docs/api.md', async () => {
      const e = await h.service.enroll(APP, { userId: 'alice' });
      expect(e).toMatchObject({ userId: 'alice', status: 'PENDING', algorithm: 'SHA1', digits: 6, period: 30, issuer: 'Test Issuer', accountName: 'alice' });
      expect(e.secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(e.expiresAt.getTime()).toBe(h.clock.now + 900_000);
      const s = await h.service.status('alice');
      expect(s).toMatchObject({ status: 'PENDING', failedAttempts: 0, activatedAt: null, lockedUntil: null, recoveryCodesRemaining: 0 });
      expect(s?.createdAt.getTime()).toBe(h.clock.now);
    });

    it('sizes secrets by algorithm and keeps the parameters', async () => {
      for (const [algorithm, len] of [['SHA1', 32], ['SHA256', 52], ['SHA512', 103]] as const) {
        const e = await h.service.enroll(APP, { userId: `u-${algorithm}`, algorithm, digits: 8, period: 60, issuer: 'Acme', accountName: 'a@b.c' });
        expect(e.secret).toHaveLength(len);
        expect(await h.service.status(`u-${algorithm}`)).toMatchObject({ algorithm, digits: 8, period: 60, issuer: 'Acme', accountName: 'a@b.c' });
      }
    });

    it('activates on the first accepted code', async () => {
      const f = await h.enroll('bob');
      const r = await h.verify('bob', h.code(f));
      expect(r).toEqual({ valid: true, outcome: 'ACCEPTED', activated: true, retryAfterSeconds: null, remainingAttempts: 5, driftSteps: 0, deviceId: '0', deviceName: 'default' });
      const s = await h.service.status('bob');
      expect(s).toMatchObject({ status: 'ACTIVE', failedAttempts: 0 });
      expect(s?.activatedAt?.getTime()).toBe(h.clock.now);
      expect(s?.lastVerifiedAt?.getTime()).toBe(h.clock.now);
    });

    it('lets an unconfirmed enrollment lapse after the pending TTL', async () => {
      const f = await h.enroll('carol');
      h.clock.advance(900_000);
      expect((await h.verify('carol', h.code(f))).outcome).toBe('NOT_ENROLLED');
      expect(await h.service.status('carol')).toBeNull();
      // and a lapsed enrollment is no obstacle to a new one
      const again = await h.enroll('carol');
      expect((await h.verify('carol', h.code(again))).outcome).toBe('ACCEPTED');
    });

    it('replaces a pending secret when enrolling again while PENDING', async () => {
      const first = await h.enroll('dave');
      const second = await h.enroll('dave');
      expect((await h.verify('dave', h.code(first))).outcome).toBe('INVALID_CODE');
      expect((await h.verify('dave', h.code(second))).outcome).toBe('ACCEPTED');
    });

    it('refuses to enroll an ACTIVE user without replace', async () => {
      await h.activate('erin');
      await expect(h.service.enroll(APP, { userId: 'erin' })).rejects.toMatchObject({ code: 'ALREADY_ENROLLED' });
      expect((await h.service.status('erin'))?.status).toBe('ACTIVE');
    });

    it('with replace, keeps the old factor working until the new one is confirmed', async () => {
      const old = await h.activate('frank');
      const next = await h.enroll('frank', { replace: true });
      const status = await h.service.status('frank');
      expect(status?.status).toBe('ACTIVE');
      expect(status?.pendingExpiresAt?.getTime()).toBe(h.clock.now + 900_000);
      // the old phone still logs in, without confirming anything
      expect(await h.verify('frank', h.code(old))).toMatchObject({ outcome: 'ACCEPTED', activated: false });
      h.clock.advance(30_000);
      expect(await h.verify('frank', h.code(next))).toMatchObject({ outcome: 'ACCEPTED', activated: true });
      h.clock.advance(30_000);
      expect((await h.verify('frank', h.code(old))).outcome).toBe('INVALID_CODE');
      expect((await h.service.status('frank'))?.pendingExpiresAt).toBeNull();
    });

    it('judges a replacement secret by its own history, never by the old one', async () => {
      const old = await h.activate('gina');
      const next = await h.enroll('gina', { replace: true });
      expect((await h.verify('gina', h.code(old))).outcome).toBe('ACCEPTED');
      // the new secret has accepted nothing yet: its code of the step just used by the old one is new
      expect(await h.verify('gina', h.code(next))).toMatchObject({ outcome: 'ACCEPTED', activated: true });
      // from then on the new secret's own last step holds
      expect((await h.verify('gina', h.code(next))).outcome).toBe('REPLAYED');
    });

    it('lets a phone switch to a 60 s period right after a 30 s code was accepted (no false REPLAYED)', async () => {
      const old = await h.activate('gus');
      // t mod 60 in [30, 60) (activate moved the clock on by a step): the 60 s step that holds now
      // began before the 30 s step now
      expect(Math.floor(h.clock.now / 1000) % 60).toBeGreaterThanOrEqual(30);
      const next = await h.enroll('gus', { replace: true, period: 60 });
      expect((await h.verify('gus', h.code(old))).outcome).toBe('ACCEPTED');
      expect(await h.verify('gus', h.code(next))).toMatchObject({ outcome: 'ACCEPTED', activated: true, remainingAttempts: 5 });
      expect((await h.service.status('gus'))?.failedAttempts).toBe(0);
    });

    it('keeps an ACTIVE factor when a replacement lapses unconfirmed', async () => {
      const old = await h.activate('hal');
      const next = await h.enroll('hal', { replace: true });
      h.clock.advance(900_000);
      expect((await h.verify('hal', h.code(next))).outcome).toBe('INVALID_CODE');
      h.clock.advance(30_000);
      expect((await h.verify('hal', h.code(old))).outcome).toBe('ACCEPTED');
      expect((await h.service.status('hal'))?.pendingExpiresAt).toBeNull();
    });

    it('forgets a lapsed replacement secret: its sealed bytes go at the next verify and at a rekey', async () => {
      const old = await h.activate('hana');
      await h.enroll('hana', { replace: true });
      await h.activate('hugo');
      await h.enroll('hugo', { replace: true });
      expect(Object.keys((await h.store.sealedValues(['hana']))[0]!).sort()).toEqual(['ps', 's']);
      h.clock.advance(930_000);
      expect((await h.verify('hana', h.code(old))).outcome).toBe('ACCEPTED');
      expect(Object.keys((await h.store.sealedValues(['hana']))[0]!)).toEqual(['s']);
      // untouched since it lapsed: still stored until something reads the user
      expect(Object.keys((await h.store.sealedValues(['hugo']))[0]!).sort()).toEqual(['ps', 's']);
      await makeHarness(handle.store, h.policy, new CountingKeyRing([K2, K1]), h.clock).admin.rekey(ADMIN);
      expect(Object.keys((await h.store.sealedValues(['hugo']))[0]!)).toEqual(['s']);
    });

    it('revokes, answering false when nothing was enrolled', async () => {
      const f = await h.activate('ivan');
      expect(await h.service.revoke(APP, 'ivan', 'lost phone')).toBe(true);
      expect(await h.service.status('ivan')).toBeNull();
      expect((await h.verify('ivan', h.code(f))).outcome).toBe('NOT_ENROLLED');
      expect(await h.service.revoke(APP, 'ivan')).toBe(false);
      expect(await h.service.revoke(APP, 'nobody')).toBe(false);
      // a revoked user can enroll afresh
      expect((await h.service.enroll(APP, { userId: 'ivan' })).status).toBe('PENDING');
    });

    it('unlocks a locked user, and answers null for nobody', async () => {
      const f = await h.activate('jane');
      for (let i = 0; i < 5; i++) await h.verify('jane', wrongCode(h.code(f)));
      expect((await h.verify('jane', h.code(f))).outcome).toBe('LOCKED');
      const s = await h.service.unlock(APP, 'jane');
      expect(s).toMatchObject({ failedAttempts: 0, lockedUntil: null, status: 'ACTIVE' });
      expect((await h.verify('jane', h.code(f))).outcome).toBe('ACCEPTED');
      expect(await h.service.unlock(APP, 'nobody')).toBeNull();
    });

    it('keeps every id to itself, whatever characters it holds', async () => {
      const ids = ['alice', 'Alice', 'alice ', ' alice', 'a{b}', '{x}:y', '}{', 'x:y', '{b07}:u:YQ', '用户-42', 'a.b+c@example.com',
        'e\u0301', '\u00e9', 'é'.repeat(128), 'x'.repeat(256), '😀'.repeat(64)];
      // cross-checking every id's code on other ids is many failures: raise the budget
      const h = makeHarness(handle.store, { maxFailures: 1000 });
      const factors = new Map<string, Awaited<ReturnType<Harness['enroll']>>>();
      for (const id of ids) factors.set(id, await h.enroll(id));
      for (const id of ids) {
        expect((await h.service.status(id))?.userId).toBe(id);
        // the code of one user is nobody else's
        for (const other of ids.slice(0, 3)) {
          if (other !== id) expect((await h.verify(other, h.code(factors.get(id)!))).outcome).not.toBe('ACCEPTED');
        }
      }
      for (const id of ids) expect((await h.verify(id, h.code(factors.get(id)!))).outcome).toBe('ACCEPTED');
      await h.service.revoke(APP, 'alice');
      expect((await h.service.status('Alice'))?.status).toBe('ACTIVE');
    });

    it('refuses ids that are empty, too long, control characters or broken Unicode', async () => {
      for (const id of ['', 'x'.repeat(257), 'é'.repeat(129), 'a\nb', 'a\u0000b', 'tab\t', '\u007f', 'c1\u0085', '\ud800', 'a\udc00b']) {
        for (const op of [
          () => h.service.enroll(APP, { userId: id }),
          () => h.verify(id, '123456'),
          () => h.service.status(id),
          () => h.service.revoke(APP, id),
          () => h.service.unlock(APP, id),
        ]) {
          const err = await op().then(() => null, (e: unknown) => e);
          expect(err, JSON.stringify(id)).toBeInstanceOf(TotpError);
          expect(err).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'userId' });
        }
      }
    });

    it('refuses bad enrollment parameters, naming the argument, and writes nothing', async () => {
      const cases = [
        [{ digits: 5 }, 'digits'], [{ digits: 9 }, 'digits'], [{ period: 45 }, 'period'], [{ issuer: '' }, 'issuer'],
        [{ issuer: 'a\nb' }, 'issuer'], [{ accountName: 'x'.repeat(257) }, 'accountName'], [{ accountName: '\ud800' }, 'accountName'],
      ] as const;
      for (const [input, argument] of cases) {
        await expect(h.service.enroll(APP, { userId: 'kim', ...input })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument });
      }
      expect(await h.service.status('kim')).toBeNull();
    });
  });
}
