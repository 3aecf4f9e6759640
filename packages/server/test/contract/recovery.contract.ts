import { describe, expect, it } from 'vitest';
import { freshPerTest, ADMIN, APP, makeHarness, wrongCode, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

const FORMAT = /^[0-9abcdefghjkmnpqrstvwxyz]{4}-[0-9abcdefghjkmnpqrstvwxyz]{4}-[0-9abcdefghjkmnpqrstvwxyz]{4}$/;

/** A code of the same format that is not `code`. */
const otherCode = (code: string) => (code.startsWith('0') ? `1${code.slice(1)}` : `0${code.slice(1)}`);

/** Recovery codes: generation, single use, the shared failure budget, replacement, revocation. */
export function recoveryContract(factory: StoreFactory): void {
  describe('recovery codes', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));

    it('makes ten distinct codes of the form xxxx-xxxx-xxxx, and counts them', async () => {
      await h.activate('u');
      const set = await h.recovery.generate(APP, 'u');
      expect(set.codes).toHaveLength(10);
      expect(new Set(set.codes).size).toBe(10);
      for (const c of set.codes) expect(c).toMatch(FORMAT);
      expect(set.generatedAt.getTime()).toBe(h.clock.now);
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(10);
      // sixty random bits each: across many sets, no code ever repeats
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) for (const c of (await h.recovery.generate(APP, 'u')).codes) seen.add(c);
      expect(seen.size).toBe(200);
    });

    it('accepts each code once, counting down', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      expect(await h.recovery.verify(APP, 'u', codes[3]!)).toEqual({
        valid: true, outcome: 'ACCEPTED', activated: false, retryAfterSeconds: null, remainingAttempts: 5, driftSteps: null, deviceId: null, deviceName: null,
      });
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(9);
      expect(await h.recovery.verify(APP, 'u', codes[3]!)).toMatchObject({ outcome: 'INVALID_CODE', valid: false, remainingAttempts: 4 });
      expect((await h.recovery.verify(APP, 'u', codes[4]!)).outcome).toBe('ACCEPTED');
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(8);
    });

    it('reads a code forgivingly: any case, spaces, dashes, and i/l/o for 1/1/0', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      const [a, b, c] = codes as [string, string, string];
      expect((await h.recovery.verify(APP, 'u', a.toUpperCase())).outcome).toBe('ACCEPTED');
      expect((await h.recovery.verify(APP, 'u', ` ${b.replaceAll('-', ' ')} `)).outcome).toBe('ACCEPTED');
      const squeezed = c.replaceAll('-', '');
      const typo = squeezed.replaceAll('1', 'l').replaceAll('0', 'O');
      expect((await h.recovery.verify(APP, 'u', `${typo.slice(0, 6)}-${typo.slice(6)}`)).outcome).toBe('ACCEPTED');
    });

    it('answers MALFORMED for what cannot be a code, never as a failure', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      for (const bad of ['', '123456', 'abcd-efgh-jkm', 'abcd-efgh-jkmnp', 'abcd-efgh-jkmu', 'ａｂｃｄ-ｅｆｇｈ-ｊｋｍｎ', `${codes[0]}\n`, 'x'.repeat(10_000),
        // letters of other scripts, the Kelvin sign (which lower-cases to k) and Cyrillic а, е, р
        '\u212a'.repeat(12), 'аbcd-еfgh-jkmр', codes.find((c) => /[a-z]/.test(c))!.replace(/[a-z]/, (c) => String.fromCodePoint(0xff41 + c.charCodeAt(0) - 97))]) {
        expect((await h.recovery.verify(APP, 'u', bad)).outcome, JSON.stringify(bad.slice(0, 20))).toBe('MALFORMED');
      }
      expect((await h.service.status('u'))?.failedAttempts).toBe(0);
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(10);
    });

    it('accepts one of two (or twenty) concurrent uses of one code', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      const two = await Promise.all([h.recovery.verify(APP, 'u', codes[0]!), h.recovery.verify(APP, 'u', codes[0]!)]);
      expect(two.map((r) => r.outcome).sort()).toEqual(['ACCEPTED', 'INVALID_CODE']);
      const many = makeHarness(handle.store, { maxFailures: 100 });
      await many.activate('v');
      const { codes: mine } = await many.recovery.generate(APP, 'v');
      const results = await Promise.all(Array.from({ length: 20 }, () => many.recovery.verify(APP, 'v', mine[0]!)));
      expect(results.filter((r) => r.outcome === 'ACCEPTED')).toHaveLength(1);
      expect(results.filter((r) => r.outcome === 'INVALID_CODE')).toHaveLength(19);
      expect((await many.service.status('v'))?.recoveryCodesRemaining).toBe(9);
    });

    it('shares the failure budget and the lockout with verifyTotp', async () => {
      const f = await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      // three TOTP failures and two recovery failures spend the budget of five
      for (let i = 0; i < 3; i++) await h.verify('u', wrongCode(h.code(f)));
      expect(await h.recovery.verify(APP, 'u', otherCode(codes[0]!))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 1 });
      expect(await h.recovery.verify(APP, 'u', otherCode(codes[1]!))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 0 });
      // locked for both kinds, a right code included, without consuming it
      expect(await h.recovery.verify(APP, 'u', codes[2]!)).toMatchObject({ outcome: 'LOCKED', retryAfterSeconds: 60, remainingAttempts: 0 });
      expect((await h.verify('u', h.code(f))).outcome).toBe('LOCKED');
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(10);
      h.clock.advance(60_000);
      // an accepted recovery code resets the count, for TOTP too
      await h.verify('u', wrongCode(h.code(f)));
      expect((await h.recovery.verify(APP, 'u', codes[2]!)).outcome).toBe('ACCEPTED');
      expect((await h.service.status('u'))?.failedAttempts).toBe(0);
    });

    it('never tests more codes than the budget allows under a burst of guesses', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      const guesses = Array.from({ length: 50 }, (_, i) => `${String(i).padStart(4, '0')}-0000-0000`).filter((g) => !codes.includes(g));
      const results = await Promise.all(guesses.map((g) => h.recovery.verify(APP, 'u', g)));
      expect(results.filter((r) => r.outcome === 'INVALID_CODE')).toHaveLength(5);
      expect(results.filter((r) => r.outcome === 'LOCKED')).toHaveLength(guesses.length - 5);
    });

    it('replaces the earlier set when generating again', async () => {
      await h.activate('u');
      const first = await h.recovery.generate(APP, 'u');
      await h.recovery.verify(APP, 'u', first.codes[0]!);
      const second = await h.recovery.generate(APP, 'u');
      expect(second.codes.some((c) => first.codes.includes(c))).toBe(false);
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(10);
      expect((await h.recovery.verify(APP, 'u', first.codes[1]!)).outcome).toBe('INVALID_CODE');
      expect((await h.recovery.verify(APP, 'u', second.codes[1]!)).outcome).toBe('ACCEPTED');
    });

    it('is removed by revocation and not carried into a new enrollment', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      await h.service.revoke(APP, 'u');
      expect((await h.recovery.verify(APP, 'u', codes[0]!)).outcome).toBe('NOT_ENROLLED');
      await h.activate('u');
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(0);
      expect((await h.recovery.verify(APP, 'u', codes[0]!)).outcome).toBe('NOT_ENROLLED');
    });

    it('answers NOT_ENROLLED, counting nothing, once all ten codes are used', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      for (const c of codes) expect((await h.recovery.verify(APP, 'u', c)).outcome).toBe('ACCEPTED');
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(0);
      for (let i = 0; i < 7; i++) {
        expect(await h.recovery.verify(APP, 'u', codes[i % 10]!)).toMatchObject({ outcome: 'NOT_ENROLLED', remainingAttempts: null });
      }
      expect(await h.service.status('u')).toMatchObject({ failedAttempts: 0, lockedUntil: null });
      // a new set works again
      const fresh = await h.recovery.generate(APP, 'u');
      expect((await h.recovery.verify(APP, 'u', fresh.codes[0]!)).outcome).toBe('ACCEPTED');
    });

    it('answers NOT_ENROLLED for nobody, and for a user with a factor but no codes', async () => {
      await expect(h.recovery.generate(APP, 'nobody')).rejects.toMatchObject({ code: 'NOT_ENROLLED' });
      expect((await h.recovery.verify(APP, 'nobody', 'abcd-efgh-jkmn')).outcome).toBe('NOT_ENROLLED');
      await h.activate('active');
      expect((await h.recovery.verify(APP, 'active', 'abcd-efgh-jkmn')).outcome).toBe('NOT_ENROLLED');
      // nothing was counted, nothing was made
      expect(await h.service.status('active')).toMatchObject({ failedAttempts: 0, recoveryCodesRemaining: 0 });
      expect(await h.service.status('nobody')).toBeNull();
    });

    it('can be made during a pending enrollment, work once it is confirmed, and lapse with it', async () => {
      const f = await h.enroll('setup');
      const { codes } = await h.recovery.generate(APP, 'setup');
      expect(await h.service.status('setup')).toMatchObject({ status: 'PENDING', recoveryCodesRemaining: 10 });
      // not a way around confirming the enrollment
      expect((await h.recovery.verify(APP, 'setup', codes[0]!)).outcome).toBe('NOT_ENROLLED');
      expect((await h.verify('setup', h.code(f))).activated).toBe(true);
      // confirmed: the codes are kept, for good
      h.clock.advance(3_600_000);
      expect((await h.recovery.verify(APP, 'setup', codes[0]!)).outcome).toBe('ACCEPTED');
      expect((await h.service.status('setup'))?.recoveryCodesRemaining).toBe(9);

      // enrolled again while pending: the codes live on with the new pending secret
      await h.enroll('again');
      await h.recovery.generate(APP, 'again');
      h.clock.advance(600_000);
      const g = await h.enroll('again');
      h.clock.advance(600_000);
      expect((await h.service.status('again'))?.recoveryCodesRemaining).toBe(10);
      expect((await h.verify('again', h.code(g))).activated).toBe(true);
      expect((await h.service.status('again'))?.recoveryCodesRemaining).toBe(10);

      // never confirmed: they lapse with the enrollment, and a new enrollment starts without codes
      await h.enroll('lapses');
      await h.recovery.generate(APP, 'lapses');
      h.clock.advance(900_000);
      expect(await h.service.status('lapses')).toBeNull();
      await expect(h.recovery.generate(APP, 'lapses')).rejects.toMatchObject({ code: 'NOT_ENROLLED' });
      await h.enroll('lapses');
      expect((await h.service.status('lapses'))?.recoveryCodesRemaining).toBe(0);

      // an import confirms a pending enrollment at once, codes included
      await h.enroll('imported');
      const { codes: kept } = await h.recovery.generate(APP, 'imported');
      await h.admin.importTotp(ADMIN, { userId: 'imported', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' });
      h.clock.advance(3_600_000);
      expect((await h.recovery.verify(APP, 'imported', kept[0]!)).outcome).toBe('ACCEPTED');
    });

    it('survives a switch of phones (replace) and keeps working after it', async () => {
      await h.activate('u');
      const { codes } = await h.recovery.generate(APP, 'u');
      const next = await h.enroll('u', { replace: true });
      expect((await h.verify('u', h.code(next))).activated).toBe(true);
      expect((await h.service.status('u'))?.recoveryCodesRemaining).toBe(10);
      expect((await h.recovery.verify(APP, 'u', codes[0]!)).outcome).toBe('ACCEPTED');
    });

    it('holds the client address to its budget', async () => {
      const c = makeHarness(handle.store, { clientLimit: 2 });
      await c.activate('u');
      const { codes } = await c.recovery.generate(APP, 'u');
      expect((await c.recovery.verify(APP, 'u', otherCode(codes[0]!), '198.51.100.4')).outcome).toBe('INVALID_CODE');
      expect((await c.recovery.verify(APP, 'u', otherCode(codes[1]!), '198.51.100.4')).outcome).toBe('INVALID_CODE');
      const limited = await c.recovery.verify(APP, 'u', codes[0]!, '198.51.100.4');
      expect(limited.outcome).toBe('RATE_LIMITED');
      // the refused attempt consumed nothing and was not counted against the user
      expect(await c.service.status('u')).toMatchObject({ failedAttempts: 2, recoveryCodesRemaining: 10 });
    });
  });
}
