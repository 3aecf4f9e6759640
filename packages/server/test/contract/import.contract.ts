import { codeAtStep, encodeBase32, type Algorithm } from '@totp-service/core';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freshPerTest, ADMIN, APP, type Harness, type StoreFactory } from './harness.js';

/** importTotp: a secret from another system becomes an ACTIVE factor at once. */
export function importContract(factory: StoreFactory): void {
  describe('import', () => {
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ h } = fresh));

    const codeOf = (secret: Uint8Array, params: { algorithm: Algorithm; digits: 6 | 7 | 8; period: 30 | 60 }, offset = 0) =>
      codeAtStep(secret, h.clock.step(params.period) + offset, params);

    it('makes an ACTIVE factor at once, with the defaults of docs/api.md, that verifies', async () => {
      const secret = randomBytes(20);
      const state = await h.admin.importTotp(ADMIN, { userId: 'u', secret: encodeBase32(secret) });
      expect(state).toMatchObject({
        userId: 'u', status: 'ACTIVE', algorithm: 'SHA1', digits: 6, period: 30, issuer: 'Test Issuer', accountName: 'u',
        failedAttempts: 0, lockedUntil: null, lastVerifiedAt: null, recoveryCodesRemaining: 0,
      });
      expect(state.createdAt.getTime()).toBe(h.clock.now);
      expect(state.activatedAt?.getTime()).toBe(h.clock.now);
      const code = codeOf(secret, { algorithm: 'SHA1', digits: 6, period: 30 });
      expect(await h.verify('u', code)).toMatchObject({ outcome: 'ACCEPTED', activated: false });
      expect((await h.verify('u', code)).outcome).toBe('REPLAYED');
      // and recovery codes can be made for it at once
      expect((await h.recovery.generate(APP, 'u')).codes).toHaveLength(10);
    });

    it('reads base32 in any case, with spaces, dashes and padding', async () => {
      const secret = randomBytes(20);
      const b32 = encodeBase32(secret);
      const spellings = [
        b32.toLowerCase(),
        b32.match(/.{1,4}/g)!.join(' '),
        `${b32.slice(0, 16).toLowerCase()}-${b32.slice(16)}`,
        `${b32}========`.slice(0, 40),
        `  ${b32.toLowerCase().match(/.{1,8}/g)!.join('  ')}\t`,
      ];
      for (const [i, spelling] of spellings.entries()) {
        await h.admin.importTotp(ADMIN, { userId: `u${i}`, secret: spelling });
        expect((await h.verify(`u${i}`, codeOf(secret, { algorithm: 'SHA1', digits: 6, period: 30 }))).outcome, spelling).toBe('ACCEPTED');
      }
      // 26 characters (128 bits) with spare low bits set, as pyotp and oathtool accept them
      const sixteen = randomBytes(16);
      const odd = encodeBase32(sixteen);
      const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(odd.at(-1)!);
      await h.admin.importTotp(ADMIN, { userId: 'odd', secret: odd.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[last | 1] });
      expect((await h.verify('odd', codeOf(sixteen, { algorithm: 'SHA1', digits: 6, period: 30 }))).outcome).toBe('ACCEPTED');
    });

    it('keeps every parameter', async () => {
      for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
        const secret = randomBytes(algorithm === 'SHA512' ? 64 : 32);
        const params = { algorithm, digits: 8 as const, period: 60 as const };
        const state = await h.admin.importTotp(ADMIN, {
          userId: `p-${algorithm}`, secret: encodeBase32(secret), ...params, issuer: 'Old System', accountName: 'a@b.c',
        });
        expect(state).toMatchObject({ ...params, issuer: 'Old System', accountName: 'a@b.c' });
        expect((await h.verify(`p-${algorithm}`, codeOf(secret, params))).outcome).toBe('ACCEPTED');
      }
    });

    it('refuses bad input with BAD_USER_INPUT naming what is wrong, and writes nothing', async () => {
      const good = encodeBase32(randomBytes(20));
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ secret: 'JBSWY3DPEHPK3PX1' }, 'secret', /not base32/],
        [{ secret: 'JBSWY3DP!HPK3PXP' }, 'secret', /not base32/],
        [{ secret: '' }, 'secret', /bits/],
        [{ secret: encodeBase32(randomBytes(15)) }, 'secret', /120 bits; at least 128/],
        [{ secret: encodeBase32(randomBytes(10)) }, 'secret', /80 bits/],
        [{ secret: 'A'.repeat(33) }, 'secret', /length/],
        [{ secret: 'A'.repeat(2000) }, 'secret', /too long/],
        [{ secret: good, digits: 5 }, 'digits', /6, 7 or 8/],
        [{ secret: good, digits: 10 }, 'digits', /6, 7 or 8/],
        [{ secret: good, period: 15 }, 'period', /30 or 60/],
        [{ secret: good, issuer: '' }, 'issuer', /empty/],
        [{ secret: good, accountName: 'a\u0000b' }, 'accountName', /control/],
        [{ secret: good, userId: '' }, 'userId', /empty/],
      ];
      for (const [input, argument, message] of cases) {
        const err = await h.admin.importTotp(ADMIN, { userId: 'bad', ...input } as never).then(() => null, (e: unknown) => e);
        expect(err, JSON.stringify(input).slice(0, 60)).toMatchObject({ code: 'BAD_USER_INPUT', argument });
        expect((err as Error).message).toMatch(message);
        // the message never echoes the secret
        if (typeof input.secret === 'string' && input.secret.length > 0) expect((err as Error).message).not.toContain(input.secret);
      }
      expect(await h.service.status('bad')).toBeNull();
      const events = await h.admin.auditEvents({ userId: 'bad' });
      expect(events.nodes).toEqual([]);
    });

    it('refuses an ACTIVE user with ALREADY_ENROLLED, and takes over a PENDING enrollment', async () => {
      const f = await h.activate('active');
      const err = await h.admin.importTotp(ADMIN, { userId: 'active', secret: encodeBase32(randomBytes(20)) }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ALREADY_ENROLLED' });
      expect((await h.verify('active', h.code(f))).outcome).toBe('ACCEPTED');

      const pending = await h.enroll('pending');
      const secret = randomBytes(20);
      expect((await h.admin.importTotp(ADMIN, { userId: 'pending', secret: encodeBase32(secret) })).status).toBe('ACTIVE');
      expect((await h.verify('pending', h.code(pending))).outcome).toBe('INVALID_CODE');
      expect((await h.verify('pending', codeOf(secret, { algorithm: 'SHA1', digits: 6, period: 30 }))).outcome).toBe('ACCEPTED');
      // it is ACTIVE for good: no pending expiry
      h.clock.advance(3_600_000);
      expect((await h.service.status('pending'))?.status).toBe('ACTIVE');
    });

    it('is listed as ACTIVE and audited as IMPORTED, without the secret', async () => {
      const b32 = encodeBase32(randomBytes(20));
      await h.admin.importTotp(ADMIN, { userId: 'x', secret: b32.toLowerCase(), algorithm: 'SHA256', digits: 7 });
      const listed = await h.admin.enrollments({ status: 'ACTIVE' });
      expect(listed.nodes.map((n) => n.userId)).toEqual(['x']);
      const { nodes } = await h.admin.auditEvents({ userId: 'x' });
      expect(nodes).toMatchObject([{ type: 'IMPORTED', userId: 'x', actor: 'test-admin', clientIp: null, outcome: null, detail: 'SHA256, 7 digits, 30 s' }]);
      expect(JSON.stringify(nodes).toUpperCase()).not.toContain(b32);
    });
  });
}
