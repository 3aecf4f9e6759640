import { parseBase32Secret } from '@totp-service/core';
import { describe, expect, it } from 'vitest';
import { tally } from '../../../../test/support/tally.js';
import { ADMIN, APP, CountingKeyRing, K1, K2, freshPerTest, makeHarness, secretsClosed, wrongCode, type Harness, type StoreFactory, type StoreHandle } from './harness.js';

/** Several devices per user (docs/api.md, "Several devices per user"): every store alike. */
export function devicesContract(factory: StoreFactory): void {
  describe('devices', () => {
    let handle: StoreHandle;
    let h: Harness;
    freshPerTest(factory, (fresh) => ({ handle, h } = fresh));

    it('verifies each device on its own, and names the device that matched', async () => {
      const phone = await h.activate('u');
      const backup = await h.activate('u', { deviceName: 'backup' });
      expect(await h.verify('u', h.code(phone))).toMatchObject({ outcome: 'ACCEPTED', deviceId: '0', deviceName: 'default' });
      expect(await h.verify('u', h.code(backup))).toMatchObject({ outcome: 'ACCEPTED', deviceId: '1', deviceName: 'backup' });
      const s = await h.service.status('u');
      expect(s?.devices.map((d) => [d.id, d.name, d.status])).toEqual([['0', 'default', 'ACTIVE'], ['1', 'backup', 'ACTIVE']]);
      expect(s?.devices.every((d) => d.lastUsedAt !== null)).toBe(true);
    });

    it("keeps replay per device: A's code replayed is REPLAYED while B's fresh code is ACCEPTED", async () => {
      const a = await h.activate('u');
      const b = await h.activate('u', { deviceName: 'b' });
      expect((await h.verify('u', h.code(a))).outcome).toBe('ACCEPTED');
      expect(await h.verify('u', h.code(a))).toMatchObject({ outcome: 'REPLAYED', remainingAttempts: 4 });
      expect(await h.verify('u', h.code(b))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'b', remainingAttempts: 5 });
      expect((await h.verify('u', h.code(b))).outcome).toBe('REPLAYED');
    });

    it('counts one attempt however many devices: 100 parallel wrong guesses on five devices test exactly five', async () => {
      const devices = [await h.activate('u')];
      for (const name of ['b', 'c', 'd', 'e']) devices.push(await h.activate('u', { deviceName: name }));
      const closed = secretsClosed(h);
      const before = h.keyRing.unseals;
      const bad = wrongCode(h.code(devices[0]!));
      const answers = await Promise.all(Array.from({ length: 100 }, () => closed.verify(APP, 'u', bad)));
      const outcomes = tally(answers.map((a) => a.outcome));
      expect(outcomes.INVALID_CODE).toBe(h.policy.maxFailures);
      expect(outcomes.LOCKED).toBe(100 - h.policy.maxFailures);
      // each evaluated attempt opened the five secrets once
      expect(h.keyRing.unseals - before).toBe(h.policy.maxFailures * 5);
    });

    it('counts one attempt however many devices when the secrets are held open: five of 100 decided', async () => {
      const devices = [await h.activate('u')];
      for (const name of ['b', 'c', 'd', 'e']) devices.push(await h.activate('u', { deviceName: name }));
      // a verify reads all five secrets and holds them open
      expect((await h.verify('u', h.code(devices[2]!))).outcome).toBe('ACCEPTED');
      const bad = wrongCode(h.code(devices[0]!));
      const answers = await Promise.all(Array.from({ length: 100 }, () => h.verify('u', bad)));
      const outcomes = tally(answers.map((a) => a.outcome));
      expect(outcomes.INVALID_CODE).toBe(h.policy.maxFailures);
      expect(outcomes.LOCKED).toBe(100 - h.policy.maxFailures);
    });

    it("accepts exactly one of 50 parallel copies of one device's code", async () => {
      await h.activate('u');
      const b = await h.activate('u', { deviceName: 'b' });
      const code = h.code(b);
      const answers = await Promise.all(Array.from({ length: 50 }, () => h.verify('u', code)));
      expect(answers.filter((a) => a.outcome === 'ACCEPTED')).toHaveLength(1);
      expect(answers.every((a) => ['ACCEPTED', 'REPLAYED', 'LOCKED'].includes(a.outcome))).toBe(true);
    });

    it('confirms a pending second device by its own code while the first keeps working', async () => {
      const first = await h.activate('u');
      const second = await h.enroll('u', { deviceName: 'tablet' });
      expect((await h.service.status('u'))?.devices.map((d) => d.status)).toEqual(['ACTIVE', 'PENDING']);
      expect(await h.verify('u', h.code(first))).toMatchObject({ outcome: 'ACCEPTED', activated: false, deviceName: 'default' });
      h.clock.advance(30_000);
      expect(await h.verify('u', h.code(second))).toMatchObject({ outcome: 'ACCEPTED', activated: true, deviceName: 'tablet' });
      expect(await h.verify('u', h.code(first))).toMatchObject({ outcome: 'ACCEPTED', activated: false });
      const s = await h.service.status('u');
      expect(s?.devices.map((d) => d.status)).toEqual(['ACTIVE', 'ACTIVE']);
      expect(s?.status).toBe('ACTIVE');
    });

    it('replaces one device and leaves the others alone', async () => {
      const a = await h.activate('u');
      const b = await h.activate('u', { deviceName: 'b' });
      await expect(h.enroll('u', { deviceName: 'b' })).rejects.toMatchObject({ code: 'ALREADY_ENROLLED' });
      const b2 = await h.enroll('u', { deviceName: 'b', replace: true });
      // b's old secret keeps working until the new one is confirmed; a is untouched
      expect((await h.verify('u', h.code(b))).outcome).toBe('ACCEPTED');
      h.clock.advance(30_000);
      expect(await h.verify('u', h.code(b2))).toMatchObject({ outcome: 'ACCEPTED', activated: true, deviceName: 'b' });
      h.clock.advance(30_000);
      expect((await h.verify('u', h.code(b))).outcome).toBe('INVALID_CODE');
      expect(await h.verify('u', h.code(a))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'default' });
      expect((await h.service.status('u'))?.devices).toHaveLength(2);
    });

    it('removes one device, then the last with the recovery codes', async () => {
      const a = await h.activate('u');
      const b = await h.activate('u', { deviceName: 'b' });
      const { codes } = await h.recovery.generate(APP, 'u');
      expect(await h.service.revoke(APP, 'u', 'lost', '7')).toBe(false);
      expect(await h.service.revoke(APP, 'u', 'lost', '0')).toBe(true);
      expect((await h.verify('u', h.code(a))).outcome).toBe('INVALID_CODE');
      expect(await h.service.status('u')).toMatchObject({ status: 'ACTIVE', recoveryCodesRemaining: 10, devices: [{ id: '1', name: 'b' }] });
      h.clock.advance(30_000);
      expect((await h.verify('u', h.code(b))).outcome).toBe('ACCEPTED');
      expect(await h.service.revoke(APP, 'u', undefined, '1')).toBe(true);
      expect(await h.service.status('u')).toBeNull();
      expect((await h.recovery.verify(APP, 'u', codes[0]!)).outcome).toBe('NOT_ENROLLED');
      const events = (await h.admin.auditEvents({ userId: 'u', types: ['REVOKED'] })).nodes;
      expect(events.map((e) => [e.deviceId, e.detail])).toEqual([['1', null], ['0', 'lost']]);
    });

    it('refuses one device too many, pending ones included', async () => {
      await h.activate('u');
      for (const name of ['b', 'c', 'd']) await h.activate('u', { deviceName: name });
      await h.enroll('u', { deviceName: 'e' });
      await expect(h.enroll('u', { deviceName: 'f' })).rejects.toMatchObject({ code: 'TOO_MANY_DEVICES' });
      await expect(h.admin.importTotp(ADMIN, { userId: 'u', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', deviceName: 'f' })).rejects.toMatchObject({ code: 'TOO_MANY_DEVICES' });
      // the pending one lapses: room again
      h.clock.advance(h.policy.pendingTtlSeconds * 1000);
      await h.enroll('u', { deviceName: 'f' });
      const small = makeHarness(handle.store, { maxDevices: 1 });
      await small.activate('one');
      await expect(small.enroll('one', { deviceName: 'two' })).rejects.toMatchObject({ code: 'TOO_MANY_DEVICES' });
    });

    it('renames a device, refusing a name in use and a device the user does not have', async () => {
      await h.activate('u');
      await h.activate('u', { deviceName: 'b' });
      expect(await h.service.renameDevice(APP, 'u', '1', 'work phone')).toMatchObject({ id: '1', name: 'work phone', status: 'ACTIVE' });
      await expect(h.service.renameDevice(APP, 'u', '1', 'default')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'name' });
      await expect(h.service.renameDevice(APP, 'u', '9', 'x')).rejects.toMatchObject({ code: 'NOT_ENROLLED' });
      await expect(h.service.renameDevice(APP, 'nobody', '0', 'x')).rejects.toMatchObject({ code: 'NOT_ENROLLED' });
      for (const bad of ['', '   ', 'x'.repeat(65), 'a\u0000b']) {
        await expect(h.service.renameDevice(APP, 'u', '1', bad)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'name' });
      }
      // an id is opaque: one that names no device is an answer, not an error; only an empty or over-long one is
      await expect(h.service.renameDevice(APP, 'u', 'one', 'x')).rejects.toMatchObject({ code: 'NOT_ENROLLED' });
      expect(await h.service.revoke(APP, 'u', undefined, 'one')).toBe(false);
      await expect(h.service.renameDevice(APP, 'u', '', 'x')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'deviceId' });
      await expect(h.service.revoke(APP, 'u', undefined, 'x'.repeat(65))).rejects.toMatchObject({ code: 'BAD_USER_INPUT', argument: 'deviceId' });
      // device 0 can be renamed away from, and back to, "default"
      await h.service.renameDevice(APP, 'u', '0', 'old phone');
      expect((await h.service.status('u'))?.devices.map((d) => d.name)).toEqual(['old phone', 'work phone']);
      const renamed = (await h.admin.auditEvents({ userId: 'u', types: ['DEVICE_RENAMED'] })).nodes;
      expect(renamed.map((e) => [e.deviceId, e.detail])).toEqual([['0', 'from "default" to "old phone"'], ['1', 'from "b" to "work phone"']]);
      // a version 1 client's enroll now adds a device named "default"
      await h.enroll('u');
      expect((await h.service.status('u'))?.devices.map((d) => d.name)).toEqual(['old phone', 'work phone', 'default']);
    });

    it('describes the oldest ACTIVE device in the version 1 fields of totpStatus', async () => {
      await h.enroll('u', { deviceName: 'first', period: 60 });
      const second = await h.enroll('u', { deviceName: 'second', digits: 8 });
      expect(await h.service.status('u')).toMatchObject({ status: 'PENDING', period: 60, digits: 6 });
      expect((await h.verify('u', h.code(second))).activated).toBe(true);
      expect(await h.service.status('u')).toMatchObject({ status: 'ACTIVE', period: 30, digits: 8, devices: [{ status: 'PENDING' }, { status: 'ACTIVE' }] });
    });

    it('answers MALFORMED only for a length that fits no device', async () => {
      await h.activate('u');
      const eight = await h.activate('u', { deviceName: 'eight', digits: 8 });
      expect((await h.verify('u', '1234567')).outcome).toBe('MALFORMED');
      expect((await h.verify('u', wrongCode(h.code(eight)))).outcome).toBe('INVALID_CODE');
      expect((await h.verify('u', h.code(eight))).outcome).toBe('ACCEPTED');
    });

    it('imports into a named device, with the steps before lastUsedAt already used', async () => {
      await h.activate('u');
      const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
      const lastUsedAt = new Date(h.clock.now);
      const s = await h.admin.importTotp(ADMIN, { userId: 'u', secret, deviceName: 'moved', lastUsedAt });
      expect(s.devices.find((d) => d.name === 'moved')).toMatchObject({ status: 'ACTIVE', lastUsedAt: new Date(Math.floor(h.clock.now / 1000) * 1000) });
      const f = { secret: parseBase32Secret(secret), params: { algorithm: 'SHA1', digits: 6, period: 30 } as const };
      expect((await h.verify('u', h.code(f))).outcome).toBe('REPLAYED');
      h.clock.advance(30_000);
      expect(await h.verify('u', h.code(f))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'moved' });
      await expect(h.admin.importTotp(ADMIN, { userId: 'u', secret, deviceName: 'moved' })).rejects.toMatchObject({ code: 'ALREADY_ENROLLED' });
      await expect(h.admin.importTotp(ADMIN, { userId: 'u', secret, deviceName: 'x', lastUsedAt: new Date(h.clock.now + 3_600_000) })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        argument: 'lastUsedAt',
      });
    });

    it('names the device on every event about one, and on none about the user', async () => {
      const a = await h.enroll('u', { deviceName: 'phone' });
      await h.verify('u', h.code(a));
      for (let i = 0; i < 5; i++) await h.verify('u', wrongCode(h.code(a)));
      const story = (await h.admin.auditEvents({ userId: 'u' })).nodes.map((e) => `${e.type}:${e.outcome ?? ''}:${e.deviceId ?? '-'}`).reverse();
      expect(story).toEqual(['ENROLLED::0', 'VERIFY:ACCEPTED:0', 'ACTIVATED::0', ...Array<string>(5).fill('VERIFY:INVALID_CODE:-'), 'LOCKED::-']);
    });

    it('lets a pending second device lapse without touching the first', async () => {
      const a = await h.activate('u');
      await h.enroll('u', { deviceName: 'later' });
      h.clock.advance(h.policy.pendingTtlSeconds * 1000);
      expect((await h.service.status('u'))?.devices.map((d) => d.name)).toEqual(['default']);
      expect((await h.verify('u', h.code(a))).outcome).toBe('ACCEPTED');
      expect(await h.service.revoke(APP, 'u', undefined, '1')).toBe(false);
    });

    it('re-seals every device with a rekey', async () => {
      await h.activate('u');
      const b = await h.activate('u', { deviceName: 'b' });
      await h.enroll('u', { deviceName: 'c' });
      await h.recovery.generate(APP, 'u');
      const next = makeHarness(handle.store, {}, new CountingKeyRing([K2, K1]), h.clock);
      expect((await next.admin.rekey(ADMIN)).rekeyed).toBe(4);
      const only = makeHarness(handle.store, {}, new CountingKeyRing([K2]), h.clock);
      h.clock.advance(30_000);
      expect(await only.verify('u', only.code(b))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'b' });
    });
  });
}
