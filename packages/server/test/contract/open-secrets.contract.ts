import { parseBase32Secret } from '@totp-service/core';
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { TotpService } from '../../src/totp/totp.service.js';
import { APP, freshPerTest, makeHarness, secretsClosed, wrongCode, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

/**
 * Secrets held open between verifies (TOTP_SECRET_CACHE_SIZE): a user's next verify takes one
 * round trip (Store.attempt) on a store that can, and answers exactly as two would, whatever
 * another server changed meanwhile. On the embedded store (no Store.attempt) every verify takes
 * the two, and the same answers are asserted.
 */
export function openSecretsContract(factory: StoreFactory): void {
  describe('secrets held open between verifies', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));

    /** A service whose store calls are written down, by operation. */
    function recorded(store: Store, secretCache?: { size: number; seconds: number }) {
      const calls: string[] = [];
      const spied = new Proxy(store, {
        get(target, prop, receiver) {
          const value: unknown = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function' || typeof prop !== 'string') return value;
          return (...args: unknown[]) => {
            calls.push(prop);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const service = new TotpService({ store: spied, keyRing: h.keyRing, policy: h.policy, issuer: 'x', clock: h.clock.read, ...(secretCache ? { secretCache } : {}) });
      return { service, calls };
    }
    const oneTrip = () => handle.store.attempt !== undefined;

    it('takes one round trip for a user verified moments ago, two for the first verify', async () => {
      const f = await h.activate('u');
      const { service, calls } = recorded(handle.store);
      expect((await service.verify(APP, 'u', h.code(f))).outcome).toBe('ACCEPTED');
      // nothing held open yet: two round trips, after which the secrets are held
      expect(calls).toEqual(['reserve', 'settle']);
      calls.length = 0;
      h.clock.advance(30_000);
      expect(await service.verify(APP, 'u', h.code(f))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'default', remainingAttempts: 5 });
      expect(await service.verify(APP, 'u', wrongCode(h.code(f)))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 4 });
      expect(await service.verify(APP, 'u', h.code(f))).toMatchObject({ outcome: 'REPLAYED', remainingAttempts: 3 });
      expect(calls).toEqual(oneTrip() ? ['attempt', 'attempt', 'attempt'] : Array<string[]>(3).fill(['reserve', 'settle']).flat());
    });

    it('holds nothing open with a cache of size 0', async () => {
      const f = await h.activate('u');
      const { service, calls } = recorded(handle.store, { size: 0, seconds: 300 });
      for (const offset of [0, 1]) expect((await service.verify(APP, 'u', h.code(f, offset))).outcome).toBe('ACCEPTED');
      expect(calls).toEqual(['reserve', 'settle', 'reserve', 'settle']);
    });

    it('reads the secrets again once they are older than TOTP_SECRET_CACHE_SECONDS', async () => {
      const f = await h.activate('u');
      const { service, calls } = recorded(handle.store, { size: 10, seconds: 60 });
      expect((await service.verify(APP, 'u', h.code(f))).outcome).toBe('ACCEPTED');
      h.clock.advance(61_000);
      calls.length = 0;
      expect((await service.verify(APP, 'u', h.code(f))).outcome).toBe('ACCEPTED');
      expect(calls).toEqual(['reserve', 'settle']);
    });

    it('follows a replacement confirmed on another server: the old secret is refused, the new one accepted', async () => {
      const old = await h.activate('u');
      const other = secretsClosed(h);
      const e = await other.enroll(APP, { userId: 'u', replace: true });
      const fresh = { secret: parseBase32Secret(e.secret), params: { algorithm: e.algorithm, digits: 6 as const, period: 30 as const } };
      expect(await other.verify(APP, 'u', h.code(fresh))).toMatchObject({ outcome: 'ACCEPTED', activated: true });
      h.clock.advance(30_000);
      expect(await h.verify('u', h.code(old))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 4 });
      expect(await h.verify('u', h.code(fresh))).toMatchObject({ outcome: 'ACCEPTED', remainingAttempts: 5 });
    });

    it('follows a revoke on another server: NOT_ENROLLED, nothing counted', async () => {
      const f = await h.activate('u');
      expect(await secretsClosed(h).revoke(APP, 'u')).toBe(true);
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'NOT_ENROLLED', remainingAttempts: null });
      expect(await h.service.status('u')).toBeNull();
    });

    it('finds a device added on another server, and confirms it with its first code', async () => {
      await h.activate('u');
      const e = await secretsClosed(h).enroll(APP, { userId: 'u', deviceName: 'backup' });
      const b = { secret: parseBase32Secret(e.secret), params: { algorithm: e.algorithm, digits: 6 as const, period: 30 as const } };
      expect(await h.verify('u', h.code(b))).toMatchObject({ outcome: 'ACCEPTED', activated: true, deviceName: 'backup' });
      h.clock.advance(30_000);
      expect(await h.verify('u', h.code(b))).toMatchObject({ outcome: 'ACCEPTED', activated: false, deviceName: 'backup' });
    });

    it('keeps the failures counted before when the secrets held turn out stale, and counts the code once', async () => {
      const f = await h.activate('u');
      const { service, calls } = recorded(handle.store);
      h.clock.advance(30_000);
      expect((await service.verify(APP, 'u', h.code(f))).outcome).toBe('ACCEPTED');
      expect(await service.verify(APP, 'u', wrongCode(h.code(f)))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 4 });
      expect(await service.verify(APP, 'u', wrongCode(h.code(f)))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 3 });
      // a device added on another server: what this service holds is no longer all the user's secrets
      await secretsClosed(h).enroll(APP, { userId: 'u', deviceName: 'backup' });
      calls.length = 0;
      expect(await service.verify(APP, 'u', wrongCode(h.code(f)))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 2 });
      expect(calls).toEqual(oneTrip() ? ['attempt', 'reserve', 'settle'] : ['reserve', 'settle']);
      expect(await secretsClosed(h).verify(APP, 'u', wrongCode(h.code(f)))).toMatchObject({ remainingAttempts: 1 });
      // an accepted code clears what was counted
      h.clock.advance(30_000);
      expect(await service.verify(APP, 'u', h.code(f))).toMatchObject({ outcome: 'ACCEPTED', remainingAttempts: 5 });
      expect(await secretsClosed(h).verify(APP, 'u', wrongCode(h.code(f)))).toMatchObject({ remainingAttempts: 4 });
    });

    it('centres the window on the drift the store learned, as two round trips do', async () => {
      const f = await h.activate('u');
      const closed = secretsClosed(h);
      // a phone one step fast: its code of the next step is accepted and the drift of +1 learned
      expect(await h.verify('u', h.code(f, 1))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: 1 });
      for (const [offset, outcome] of [[2, 'ACCEPTED'], [-1, 'INVALID_CODE'], [0, 'ACCEPTED']] as const) {
        h.clock.advance(60_000);
        // the same code asked of a server holding nothing open first, then held open: same answer
        const code = h.code(f, offset);
        const a = await h.verify('u', code);
        expect(a.outcome, `offset ${offset}`).toBe(outcome);
        if (outcome === 'ACCEPTED') expect(a.driftSteps).toBe(offset);
        expect((await closed.verify(APP, 'u', code)).outcome).toBe(outcome === 'ACCEPTED' ? 'REPLAYED' : outcome);
      }
    });

    it('reads the user again when another server taught the device a new drift, then holds the new one', async () => {
      const f = await h.activate('u');
      const { service, calls } = recorded(handle.store);
      expect((await service.verify(APP, 'u', h.code(f))).outcome).toBe('ACCEPTED');
      // another server accepts the phone's code of the next step: the store learns a drift of +1
      h.clock.advance(30_000);
      expect(await secretsClosed(h).verify(APP, 'u', h.code(f, 1))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: 1 });
      // marked around the drift held here (0), this code (+2) would be a miss: the store finds the marks stale
      h.clock.advance(30_000);
      calls.length = 0;
      expect(await service.verify(APP, 'u', h.code(f, 2))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: 2, remainingAttempts: 5 });
      expect(calls).toEqual(oneTrip() ? ['attempt', 'reserve', 'settle'] : ['reserve', 'settle']);
      // and holds the drift learned (+1, the bound): the phone's next code takes one round trip
      h.clock.advance(30_000);
      calls.length = 0;
      expect(await service.verify(APP, 'u', h.code(f, 2))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: 2 });
      expect(await service.verify(APP, 'u', wrongCode(h.code(f, 2)))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 4 });
      expect(calls).toEqual(oneTrip() ? ['attempt', 'attempt'] : ['reserve', 'settle', 'reserve', 'settle']);
    });

    it('counts the client address and refuses over its budget without charging the user', async () => {
      const c = makeHarness(handle.store, { clientLimit: 3 });
      const a = await c.activate('a');
      expect((await c.verify('a', wrongCode(c.code(a)), '203.0.113.9')).outcome).toBe('INVALID_CODE');
      expect((await c.verify('a', wrongCode(c.code(a)), '203.0.113.9')).outcome).toBe('INVALID_CODE');
      expect((await c.verify('a', wrongCode(c.code(a)), '203.0.113.9')).outcome).toBe('INVALID_CODE');
      const limited = await c.verify('a', c.code(a), '203.0.113.9');
      expect(limited).toMatchObject({ outcome: 'RATE_LIMITED', valid: false, remainingAttempts: null });
      expect(limited.retryAfterSeconds).toBeGreaterThan(0);
      expect((await c.service.status('a'))?.failedAttempts).toBe(3);
      expect((await c.verify('a', c.code(a), '203.0.113.10')).outcome).toBe('ACCEPTED');
      const events = (await c.admin.auditEvents({ userId: 'a', types: ['VERIFY'], first: 1 })).nodes;
      expect(events.map((e) => e.outcome)).toEqual(['ACCEPTED']);
    });

    it('locks after TOTP_MAX_FAILURES and answers LOCKED with the time left, as two round trips do', async () => {
      const f = await h.activate('u');
      const answers = [];
      for (let i = 0; i < 7; i++) answers.push(await h.verify('u', wrongCode(h.code(f))));
      expect(answers.map((a) => a.outcome)).toEqual([...Array<string>(5).fill('INVALID_CODE'), 'LOCKED', 'LOCKED']);
      expect(answers[4]).toMatchObject({ remainingAttempts: 0 });
      expect(answers[6]?.retryAfterSeconds).toBe(60);
      h.clock.advance(61_000);
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'ACCEPTED', remainingAttempts: 5 });
    });
  });
}
