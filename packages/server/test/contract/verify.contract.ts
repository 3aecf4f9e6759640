import { describe, expect, it } from 'vitest';
import { freshPerTest, makeHarness, wrongCode, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

/** The outcomes of verifyTotp, failures and lockouts, drift, the client budget: every store alike. */
export function verifyContract(factory: StoreFactory): void {
  describe('verify', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));

    it('accepts the current step and one on each side, and nothing further', async () => {
      const f = await h.activate('u');
      h.clock.advance(5 * 30_000);
      expect(await h.verify('u', h.code(f, -1))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: -1 });
      expect(await h.verify('u', h.code(f, 0))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: 0 });
      const far = makeHarness(handle.store);
      const g = await far.activate('v');
      expect((await far.verify('v', far.code(g, 2))).outcome).toBe('INVALID_CODE');
      expect((await far.verify('v', far.code(g, -2))).outcome).toBe('INVALID_CODE');
    });

    it('answers REPLAYED for the same step or any earlier one, as a failure', async () => {
      const f = await h.activate('u');
      const now = h.code(f, 1);
      expect((await h.verify('u', now)).outcome).toBe('ACCEPTED');
      expect(await h.verify('u', now)).toMatchObject({ valid: false, outcome: 'REPLAYED', remainingAttempts: 4 });
      expect(await h.verify('u', h.code(f, 0))).toMatchObject({ outcome: 'REPLAYED', remainingAttempts: 3 });
      expect((await h.service.status('u'))?.failedAttempts).toBe(2);
    });

    it('counts failures, locks on the one that spends the budget, and doubles the lockout', async () => {
      const f = await h.activate('u');
      const bad = wrongCode(h.code(f));
      for (let left = 4; left >= 0; left--) {
        expect(await h.verify('u', bad)).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: left, retryAfterSeconds: null });
      }
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'LOCKED', retryAfterSeconds: 60, remainingAttempts: 0, valid: false });
      const s = await h.service.status('u');
      expect(s?.lockedUntil?.getTime()).toBe(h.clock.now + 60_000);
      h.clock.advance(59_500);
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'LOCKED', retryAfterSeconds: 1 });
      h.clock.advance(500);
      // a fresh budget; the next lockout lasts twice as long
      for (let i = 0; i < 5; i++) await h.verify('u', bad);
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'LOCKED', retryAfterSeconds: 120 });
      h.clock.advance(120_000);
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'ACCEPTED', remainingAttempts: 5 });
      // acceptance forgets earlier lockouts
      h.clock.advance(30_000);
      for (let i = 0; i < 5; i++) await h.verify('u', bad);
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'LOCKED', retryAfterSeconds: 60 });
    });

    it('caps the doubling at the maximum', async () => {
      const c = makeHarness(handle.store, { maxFailures: 1, lockoutSeconds: 60, lockoutMaxSeconds: 200 });
      const f = await c.activate('u');
      const seen: (number | null)[] = [];
      for (let i = 0; i < 4; i++) {
        await c.verify('u', wrongCode(c.code(f)));
        const r = await c.verify('u', c.code(f));
        seen.push(r.retryAfterSeconds);
        c.clock.advance(r.retryAfterSeconds! * 1000);
      }
      expect(seen).toEqual([60, 120, 200, 200]);
    });

    it('resets the failure count on an accepted code', async () => {
      const f = await h.activate('u');
      for (let i = 0; i < 4; i++) await h.verify('u', wrongCode(h.code(f)));
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'ACCEPTED', remainingAttempts: 5 });
      expect((await h.service.status('u'))?.failedAttempts).toBe(0);
    });

    it('answers MALFORMED for codes of the wrong shape or length, never as a failure', async () => {
      const f = await h.activate('u');
      const right = h.code(f);
      for (const code of ['', 'abcdef', '12345', '123456789', '１２３４５６', '٣٣٣٣٣٣', '+12345', '-12345', '1e5', '12345\n', '12\t3456',
        right.slice(0, 5) + 'x', `${right}0`, '0'.repeat(1_000_000)]) {
        expect(await h.verify('u', code), JSON.stringify(code.slice(0, 20))).toMatchObject({ outcome: 'MALFORMED', valid: false, remainingAttempts: null });
      }
      expect((await h.service.status('u'))?.failedAttempts).toBe(0);
      // spaces inside are ignored
      expect((await h.verify('u', `${right.slice(0, 3)} ${right.slice(3)}`)).outcome).toBe('ACCEPTED');
    });

    it('answers MALFORMED for a length other than the enrolled one, without a failure', async () => {
      const f = await h.activate('u', { digits: 8 });
      expect((await h.verify('u', '123456')).outcome).toBe('MALFORMED');
      expect((await h.verify('u', wrongCode(h.code(f)))).outcome).toBe('INVALID_CODE');
      expect((await h.service.status('u'))?.failedAttempts).toBe(1);
    });

    it('answers NOT_ENROLLED for an unknown user', async () => {
      expect(await h.verify('nobody', '123456')).toEqual({
        valid: false, outcome: 'NOT_ENROLLED', activated: false, retryAfterSeconds: null, remainingAttempts: null, driftSteps: null, deviceId: null, deviceName: null,
      });
    });

    it('learns the drift of the last accepted code, within a bound', async () => {
      const f = await h.activate('u');
      expect(await h.verify('u', h.code(f, 1))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: 1 });
      h.clock.advance(30_000);
      // the window is now centred one step ahead: +2 is accepted, -1 is not
      expect((await h.verify('u', h.code(f, -1))).outcome).toBe('INVALID_CODE');
      expect(await h.verify('u', h.code(f, 2))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: 2 });
      h.clock.advance(90_000);
      // +3 is out of reach: the learned drift is bounded to one step
      expect((await h.verify('u', h.code(f, 3))).outcome).toBe('INVALID_CODE');
      expect(await h.verify('u', h.code(f, 0))).toMatchObject({ outcome: 'ACCEPTED', driftSteps: 0 });
    });

    it('works for every algorithm, length and period', async () => {
      for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
        for (const digits of [6, 7, 8]) {
          for (const period of [30, 60]) {
            const id = `${algorithm}-${digits}-${period}`;
            const f = await h.enroll(id, { algorithm, digits, period });
            expect((await h.verify(id, h.code(f))).outcome, id).toBe('ACCEPTED');
          }
        }
      }
    });

    it('holds each client address to its budget across users, without charging the users', async () => {
      const c = makeHarness(handle.store, { clientLimit: 3 });
      const a = await c.enroll('a');
      await c.enroll('b');
      expect((await c.verify('a', wrongCode(c.code(a)), '203.0.113.9')).outcome).toBe('INVALID_CODE');
      expect((await c.verify('b', '000000', '203.0.113.9')).outcome).toBe('INVALID_CODE');
      expect((await c.verify('nobody', '000000', '203.0.113.9')).outcome).toBe('NOT_ENROLLED');
      const limited = await c.verify('a', c.code(a), '203.0.113.9');
      expect(limited).toMatchObject({ outcome: 'RATE_LIMITED', valid: false });
      expect(limited.retryAfterSeconds).toBeGreaterThan(0);
      expect(limited.retryAfterSeconds).toBeLessThanOrEqual(60);
      expect((await c.service.status('a'))?.failedAttempts).toBe(1);
      // another address has its own budget; an IPv6 /64 is one budget
      expect((await c.verify('a', c.code(a), '198.51.100.1')).outcome).toBe('ACCEPTED');
      for (const ip of ['2001:db8::1', '2001:db8::2', '2001:db8:0:0:ffff::3']) await c.verify('nobody', '000000', ip);
      expect((await c.verify('nobody', '000000', '2001:db8::4')).outcome).toBe('RATE_LIMITED');
      expect((await c.verify('nobody', '000000', '2001:db8:0:1::1')).outcome).toBe('NOT_ENROLLED');
    });

    it('counts an IPv4 address however it is written, IPv4-mapped IPv6 in any spelling included', async () => {
      const c = makeHarness(handle.store, { clientLimit: 3 });
      const f = await c.activate('u');
      // three spellings of 198.51.100.7 spend its budget of three
      for (const ip of ['198.51.100.7', '0:0:0:0:0:ffff:198.51.100.7', '::ffff:c633:6407']) {
        expect((await c.verify('nobody', '000000', ip)).outcome).toBe('NOT_ENROLLED');
      }
      expect((await c.verify('nobody', '000000', '::FFFF:198.51.100.7')).outcome).toBe('RATE_LIMITED');
      // 61 other IPv4 clients, written as mapped addresses, each have their own budget
      for (let n = 1; n <= 61; n++) {
        expect((await c.verify('nobody', '000000', `0:0:0:0:0:ffff:203.0.113.${n}`)).outcome, `client ${n}`).toBe('NOT_ENROLLED');
      }
      // and none of them is the IPv6 loopback's or the unspecified address's budget
      expect((await c.verify('nobody', '000000', '::1')).outcome).toBe('NOT_ENROLLED');
      expect((await c.verify('nobody', '000000', '::')).outcome).toBe('NOT_ENROLLED');
      expect((await c.verify('u', c.code(f), '::ffff:a00:1')).outcome).toBe('ACCEPTED');
    });

    it('refuses a clientIp that is not an address', async () => {
      for (const ip of ['', 'localhost', '1.2.3', '300.1.1.1', 'x'.repeat(100)]) {
        await expect(h.verify('u', '123456', ip)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'clientIp' });
      }
    });
  });
}
