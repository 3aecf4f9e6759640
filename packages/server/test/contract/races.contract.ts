import { KeyRing } from '@totp-service/core';
import { describe, expect, it } from 'vitest';
import { freshPerTest, APP, CountingKeyRing, secretsClosed, wrongCode, type Harness, type StoreFactory, type StoreHandle } from './harness.js';
import { TotpService } from '../../src/totp/totp.service.js';
import { tally } from '../../../../test/support/tally.js';


/** Concurrency: what must hold however requests interleave. */
export function racesContract(factory: StoreFactory): void {
  describe('races', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));

    it('accepts one of 50 concurrent verifies of one valid code', async () => {
      const f = await h.activate('u');
      const code = h.code(f);
      const results = await Promise.all(Array.from({ length: 50 }, () => h.verify('u', code)));
      const t = tally(results.map((r) => r.outcome));
      expect(t.ACCEPTED).toBe(1);
      expect((t.REPLAYED ?? 0) + (t.LOCKED ?? 0)).toBe(49);
    });

    it('activates a pending enrollment exactly once under concurrent confirmations', async () => {
      const f = await h.enroll('p');
      const code = h.code(f);
      const results = await Promise.all(Array.from({ length: 20 }, () => h.verify('p', code)));
      expect(results.filter((r) => r.activated)).toHaveLength(1);
      expect(results.filter((r) => r.outcome === 'ACCEPTED')).toHaveLength(1);
      // the others sent the code of a step already accepted: replays, not wrong codes
      expect(results.filter((r) => r.outcome !== 'ACCEPTED' && r.outcome !== 'REPLAYED' && r.outcome !== 'LOCKED')).toEqual([]);
    });

    it('never checks more than TOTP_MAX_FAILURES of 100 concurrent wrong guesses', async () => {
      const f = await h.activate('u');
      const closed = secretsClosed(h);
      const unsealsBefore = h.keyRing.unseals;
      const guesses = Array.from({ length: 100 }, (_, i) => String((Number(wrongCode(h.code(f))) + i * 7919) % 1_000_000).padStart(6, '0'));
      const results = await Promise.all(guesses.filter((g) => g !== h.code(f)).map((g) => closed.verify(APP, 'u', g)));
      const t = tally(results.map((r) => r.outcome));
      expect(t.INVALID_CODE).toBe(5);
      expect(t.LOCKED).toBe(results.length - 5);
      // the HMAC ran for the five reserved attempts only
      expect(h.keyRing.unseals - unsealsBefore).toBe(5);
      expect(results.filter((r) => r.outcome === 'INVALID_CODE' && r.remainingAttempts === 0)).toHaveLength(1);
    });

    it('decides no more than TOTP_MAX_FAILURES of 100 concurrent wrong guesses against secrets held open', async () => {
      const f = await h.activate('u');
      const unsealsBefore = h.keyRing.unseals;
      const guesses = Array.from({ length: 100 }, (_, i) => String((Number(wrongCode(h.code(f))) + i * 7919) % 1_000_000).padStart(6, '0'));
      const results = await Promise.all(guesses.filter((g) => g !== h.code(f)).map((g) => h.verify('u', g)));
      const t = tally(results.map((r) => r.outcome));
      expect(t.INVALID_CODE).toBe(5);
      expect(t.LOCKED).toBe(results.length - 5);
      expect(results.filter((r) => r.outcome === 'INVALID_CODE' && r.remainingAttempts === 0)).toHaveLength(1);
      // on a store that takes a whole attempt in one round trip, the secrets were not read again;
      // where each guess matched was listed in process, but only five were looked at by the store
      if (h.store.attempt) expect(h.keyRing.unseals - unsealsBefore).toBe(0);
      const events = (await h.admin.auditEvents({ userId: 'u', types: ['VERIFY'], first: 200 })).nodes;
      expect(tally(events.map((e) => e.outcome ?? ''))).toMatchObject({ INVALID_CODE: 5, LOCKED: results.length - 5 });
    });

    it('shares the budget between services on one store (several servers)', async () => {
      const f = await h.activate('u');
      const ring = new CountingKeyRing([{ id: 'k1', key: Buffer.alloc(32, 7) }]);
      const other = new TotpService({ store: handle.store, keyRing: ring, policy: h.policy, issuer: 'x', clock: h.clock.read });
      const code = h.code(f);
      const both = await Promise.all([
        ...Array.from({ length: 10 }, () => h.verify('u', code)),
        ...Array.from({ length: 10 }, () => other.verify(APP, 'u', code)),
      ]);
      expect(both.filter((r) => r.outcome === 'ACCEPTED')).toHaveLength(1);
    });

    it('gives the attempt back and names the key when a secret cannot be opened', async () => {
      const f = await h.activate('u');
      const stranger = new TotpService({
        store: handle.store,
        keyRing: new KeyRing([{ id: 'k2', key: Buffer.alloc(32, 9) }]),
        policy: h.policy,
        issuer: 'x',
        clock: h.clock.read,
      });
      await expect(stranger.verify(APP, 'u', h.code(f))).rejects.toThrow(/"k1"/);
      expect((await h.service.status('u'))?.failedAttempts).toBe(0);
      expect((await h.verify('u', h.code(f))).outcome).toBe('ACCEPTED');
    });
  });
}
