/**
 * The commands of the differential test (store-model.test.ts), as fast-check arbitraries: the
 * applications' and users' commands here, the operator's in store-operator.ts. Each command runs
 * on every side through the services (TotpService, RecoveryService, AdminService), compares the
 * answers, and remembers what later commands need (secrets and the devices they went into,
 * accepted codes, recovery codes) per side. Its label is what a shrunk counterexample prints.
 *
 * Devices: a few names (and no name: 'default') that users enroll, replace, import into, rename
 * and revoke; device ids are the store's, the same on every side, and a command that names a
 * device by its place ("the second device") finds its id when it runs (deviceOrder).
 */
import { createHash } from 'node:crypto';
import { encodeBase32, parseBase32Secret, SECRET_BYTES, type Algorithm, type Digits, type Period, type Policy } from '@totp-service/core';
import fc from 'fast-check';
import type { EnrollInput } from '../../src/totp/totp.service.js';
import { ADMIN, APP } from '../contract/harness.js';
import { acceptedAs, codeIntent, codesFor, describeIntent, deviceOrder, type CodeIntent } from './store-codes.js';
import { Op, type Answer, type Lockstep } from './store-lockstep.js';
import { advance, audit, keys, list, outbox, recount, rekey, restart } from './store-operator.js';
import { portView, type Side } from './store-sides.js';

/** Client addresses: the first two are one client (IPv4, IPv4-mapped), the next two one /64. */
export const CLIENT_IPS = ['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1', '2001:db8::2', '198.51.100.7'] as const;
const ip = fc.option(fc.constantFrom(...CLIENT_IPS), { nil: undefined, freq: 2 });
const at = (clientIp: string | undefined) => (clientIp ? ` from ${clientIp}` : '');
const WRONG_RECOVERY_CODE = '0000-0000-0000';

/** Device names: none given ('default'), 'default' spelt out, and a few others, one of them not ASCII. */
const DEVICE_NAMES = [undefined, 'default', 'phone', 'backup', 'Téléphone 📱'] as const;
const deviceName = fc.constantFrom(...DEVICE_NAMES, undefined, 'phone');
const named = (name: string | undefined) => (name === undefined ? '' : ` device "${name}"`);

/** A device by its place among the user's devices (deviceOrder), or one the user never had. */
type DeviceRef = 0 | 1 | 2 | 'unknown';
const deviceRef = fc.constantFrom<DeviceRef>(0, 0, 1, 1, 2, 'unknown');
const ORDINAL = ['first', 'second', 'third'];
const refLabel = (r: DeviceRef) => (r === 'unknown' ? 'a device it never had' : `its ${ORDINAL[r]} device`);
/** An id no side ever makes in a run (ids grow by one per device, and a run makes far fewer). */
const NEVER_MADE = '90';

async function resolveRef(run: Lockstep, userId: string, ref: DeviceRef): Promise<string> {
  if (ref === 'unknown') return NEVER_MADE;
  const order = await deviceOrder(run, userId);
  const id = order[ref] ?? order.at(-1) ?? '0';
  run.note(`device ${id}`);
  return id;
}

const params = fc.record({
  algorithm: fc.constantFrom<Algorithm>('SHA1', 'SHA256', 'SHA512'),
  digits: fc.constantFrom<Digits>(6, 7, 8),
  period: fc.constantFrom<Period>(30, 60),
});
const shape = (p: { algorithm: string; digits: number; period: number }) => `${p.algorithm}/${p.digits}/${p.period}s`;

type FactorShape = { algorithm: Algorithm; digits: Digits; period: Period };

function remember(p: Lockstep, userId: string, answers: readonly Answer<{ secret: string; deviceId: string }>[], f: FactorShape) {
  answers.forEach((a, i) => {
    if ('ok' in a) p.sides[i]!.factorsOf(userId).push({ deviceId: a.ok.deviceId, secret: parseBase32Secret(a.ok.secret), params: f });
  });
}

async function enrollEverywhere(run: Lockstep, userId: string, p: FactorShape, more: Partial<EnrollInput>): Promise<void> {
  const answers = await run.each((s) => s.service.enroll(APP, { userId, ...p, ...more }));
  // the secret (and the URI that carries it) is each store's own
  run.same('enrollTotp', answers.map((a) => ('ok' in a ? { ...a.ok, secret: '…', otpauthUri: a.ok.otpauthUri.replace(/secret=[A-Z2-7]+/, 'secret=…') } : a)));
  remember(run, userId, answers, p);
}

/** enrollTotp: a new device, a pending one's secret replaced, an active one's (replace) or refused; TOO_MANY_DEVICES past the policy's. */
const enroll = (user: fc.Arbitrary<string>) =>
  fc
    .record({
      userId: user,
      p: params,
      replace: fc.boolean(),
      name: deviceName,
      accountName: fc.constantFrom(undefined, 'Phone of A.', 'same as the id'),
      issuer: fc.constantFrom(undefined, 'Other Issuer'),
    })
    .map(({ userId, p, replace, name, accountName, issuer }) => {
      const account = accountName === 'same as the id' ? userId : accountName;
      const label = `enroll ${userId}${named(name)} ${shape(p)}${replace ? ' replace' : ''}${account ? ` account "${account}"` : ''}${issuer ? ` issuer "${issuer}"` : ''}`;
      return new Op(label, async (run) => {
        await enrollEverywhere(run, userId, p, { replace, accountName: account, issuer, deviceName: name });
      });
    });

/** Enroll a device (replacing) and confirm it with the new secret's current code: the quick way to an ACTIVE device. */
const activate = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, p: params, name: deviceName, codes: fc.boolean() }).map(
    ({ userId, p, name, codes }) =>
      new Op(`enroll ${userId}${named(name)} ${shape(p)} replace, and confirm it${codes ? ', and make recovery codes' : ''}`, async (run) => {
        await enrollEverywhere(run, userId, p, { replace: true, deviceName: name });
        await confirm(run, userId, { kind: 'step', device: 'newest', back: 0, offset: 0 }, undefined);
        if (codes) await makeCodes(run, userId);
      }),
  );

/** importTotp into a device, ACTIVE at once; with lastUsedAt (seconds from now), steps up to it count as used. */
const importTotp = (user: fc.Arbitrary<string>) =>
  fc
    .record({ userId: user, p: params, seed: fc.nat(99), name: deviceName, lastUsed: fc.constantFrom(null, null, 0, -1, -30, -90, -3600, 30, 120) })
    .map(({ userId, p, seed, name, lastUsed }) => {
      // the same secret on every side: an import brings its own (two devices may get the same one)
      const secret = encodeBase32(createHash('sha512').update(`secret ${seed}`).digest().subarray(0, SECRET_BYTES[p.algorithm]));
      const used = lastUsed === null ? '' : ` last used ${lastUsed === 0 ? 'now' : `${lastUsed} s from now`}`;
      return new Op(`import ${userId}${named(name)} ${shape(p)} secret #${seed}${used}`, async (run) => {
        const lastUsedAt = lastUsed === null ? undefined : new Date(run.clock.now + lastUsed * 1000);
        const answers = await run.each((s) => s.admin.importTotp(ADMIN, { userId, secret, ...p, deviceName: name, lastUsedAt }));
        run.same('importTotp', answers);
        const into = (a: { devices: readonly { id: string; name: string }[] }) => a.devices.find((d) => d.name === (name ?? 'default'))!.id;
        remember(run, userId, answers.map((a) => ('ok' in a ? { ok: { secret, deviceId: into(a.ok) } } : a)), p);
      });
    });

const verify = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, intent: codeIntent, clientIp: ip }).map(
    ({ userId, intent, clientIp }) =>
      new Op(`verify ${userId} with ${describeIntent(intent)}${at(clientIp)}`, (run) => confirm(run, userId, intent, clientIp)),
  );

/** An attacker's burst: wrong codes one after the other (to the lockout and past it). */
const guesses = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, count: fc.integer({ min: 2, max: 7 }), clientIp: ip }).map(
    ({ userId, count, clientIp }) =>
      new Op(`verify ${userId} with ${count} wrong codes in a row${at(clientIp)}`, async (run) => {
        for (let k = 0; k < count; k++) await confirm(run, userId, { kind: 'wrong', device: 'newest' }, clientIp);
      }),
  );

async function confirm(run: Lockstep, userId: string, intent: CodeIntent, clientIp: string | undefined): Promise<void> {
  const sent = await codesFor(run, userId, intent);
  const answers = await run.each((s, i) => s.service.verify(APP, userId, sent[i]!, clientIp));
  run.same('verifyTotp', answers);
  answers.forEach((a, i) => {
    if (!('ok' in a) || a.ok.outcome !== 'ACCEPTED') return;
    const s = run.sides[i]!;
    const accepted = acceptedAs(s, userId, sent[i]!, a.ok.deviceId);
    if (accepted) s.accepted.set(userId, [...(s.accepted.get(userId) ?? []), accepted]);
  });
}

const generateCodes = (user: fc.Arbitrary<string>) =>
  user.map(
    (userId) =>
      new Op(`generate recovery codes for ${userId}`, (run) => makeCodes(run, userId)),
  );

async function makeCodes(run: Lockstep, userId: string): Promise<void> {
  const answers = await run.each((s) => s.recovery.generate(APP, userId));
  run.same('generateRecoveryCodes', answers.map((a) => ('ok' in a ? { ...a.ok, codes: a.ok.codes.length } : a)));
  answers.forEach((a, i) => {
    const sets = run.sides[i]!.recoverySets;
    if ('ok' in a) sets.set(userId, [...(sets.get(userId) ?? []), [...a.ok.codes]]);
  });
}

type RecoveryIntent = { kind: 'newest' | 'old' | 'spelled'; index: number } | { kind: 'used' | 'wrong' | 'malformed' };

function recoveryCode(s: Side, userId: string, i: RecoveryIntent): string {
  const sets = s.recoverySets.get(userId) ?? [];
  switch (i.kind) {
    case 'newest':
      return sets.at(-1)?.[i.index] ?? WRONG_RECOVERY_CODE;
    case 'old':
      return sets.at(-2)?.[i.index] ?? WRONG_RECOVERY_CODE;
    case 'spelled':
      return sets.at(-1)?.[i.index]?.toUpperCase().replaceAll('-', ' ') ?? WRONG_RECOVERY_CODE;
    case 'used':
      return s.usedRecovery.get(userId)?.at(-1) ?? WRONG_RECOVERY_CODE;
    case 'wrong':
      return WRONG_RECOVERY_CODE;
    case 'malformed':
      return 'not-a-code';
  }
}

async function useRecoveryCode(run: Lockstep, userId: string, codes: readonly string[], clientIp: string | undefined, what: string): Promise<void> {
  const answers = await run.each((s, i) => s.recovery.verify(APP, userId, codes[i]!, clientIp));
  run.same(what, answers);
  answers.forEach((a, i) => {
    const used = run.sides[i]!.usedRecovery;
    if ('ok' in a && a.ok.outcome === 'ACCEPTED') used.set(userId, [...(used.get(userId) ?? []), codes[i]!]);
  });
}

const recoveryIntent: fc.Arbitrary<RecoveryIntent> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('newest' as const), index: fc.nat(9) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('old' as const, 'spelled' as const), index: fc.nat(9) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('used' as const, 'wrong' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('malformed' as const) }) },
);

const verifyRecovery = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, intent: recoveryIntent, clientIp: ip }).map(({ userId, intent, clientIp }) => {
    const which = 'index' in intent ? `${intent.kind} set's code #${intent.index}` : `${intent.kind} code`;
    return new Op(`recovery ${userId} with the ${which}${at(clientIp)}`, (run) =>
      useRecoveryCode(run, userId, run.sides.map((s) => recoveryCode(s, userId, intent)), clientIp, 'verifyRecoveryCode'),
    );
  });

/** Every code of the newest set, in order, and then the first again. */
const useAllCodes = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, clientIp: ip }).map(
    ({ userId, clientIp }) =>
      new Op(`recovery ${userId} with all ten codes of the newest set, then the first again${at(clientIp)}`, async (run) => {
        for (let k = 0; k <= 10; k++) {
          const codes = run.sides.map((s) => recoveryCode(s, userId, { kind: 'newest', index: k % 10 }));
          await useRecoveryCode(run, userId, codes, clientIp, `verifyRecoveryCode #${k}`);
        }
      }),
  );

/** revokeTotp: everything the user has, or one device (the last one takes the recovery codes too; one it never had: false). */
const revoke = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, reason: fc.constantFrom(undefined, 'lost phone'), device: fc.option(deviceRef, { nil: null, freq: 3 }) }).map(
    ({ userId, reason, device }) =>
      new Op(`revoke ${userId}${device === null ? '' : `'s ${refLabel(device).replace(/^its /, '')}`}${reason ? ` (${reason})` : ''}`, async (run) => {
        const deviceId = device === null ? undefined : await resolveRef(run, userId, device);
        run.same(device === null ? 'revokeTotp' : 'revokeTotp of a device', await run.each((s) => s.service.revoke(APP, userId, reason, deviceId)));
      }),
  );

/** renameTotpDevice: to a new name, to its own, to another device's (BAD_USER_INPUT), of a device it does not have (NOT_ENROLLED). */
const rename = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, device: deviceRef, name: fc.constantFrom('default', 'phone', 'backup', 'Téléphone 📱', 'old phone', ' ') }).map(
    ({ userId, device, name }) =>
      new Op(`rename ${userId}'s ${refLabel(device).replace(/^its /, '')} to "${name}"`, async (run) => {
        const deviceId = await resolveRef(run, userId, device);
        run.same('renameTotpDevice', await run.each((s) => s.service.renameDevice(APP, userId, deviceId, name)));
      }),
  );

const unlock = (user: fc.Arbitrary<string>) =>
  user.map((userId) => new Op(`unlock ${userId}`, async (run) => run.same('unlockTotp', await run.each((s) => s.service.unlock(ADMIN, userId)))));

const status = (user: fc.Arbitrary<string>) =>
  user.map(
    (userId) =>
      new Op(`status of ${userId}`, async (run) => {
        run.same('totpStatus', await run.each((s) => s.service.status(userId)));
        run.same('the record through the store port', await run.each(async (s) => portView(await s.store.getUser(userId, run.clock.now))));
      }),
  );

/** Every command, weighted toward verifies, as one arbitrary (fc.commands picks among its arbitraries uniformly). */
export function commandArbitrary(users: readonly string[], policy: fc.Arbitrary<Policy>): fc.Arbitrary<Op> {
  // the first user most often: more happens to one user than to many
  const user = fc.oneof(...users.map((u, i) => ({ weight: [4, 2][i] ?? 1, arbitrary: fc.constant(u) })));
  return fc.oneof(
    { weight: 4, arbitrary: enroll(user) },
    { weight: 4, arbitrary: activate(user) },
    { weight: 2, arbitrary: importTotp(user) },
    { weight: 14, arbitrary: verify(user) },
    { weight: 1, arbitrary: guesses(user) },
    { weight: 3, arbitrary: generateCodes(user) },
    { weight: 4, arbitrary: verifyRecovery(user) },
    { weight: 1, arbitrary: useAllCodes(user) },
    { weight: 2, arbitrary: revoke(user) },
    { weight: 2, arbitrary: rename(user) },
    { weight: 2, arbitrary: unlock(user) },
    { weight: 1, arbitrary: status(user) },
    { weight: 1, arbitrary: list },
    { weight: 1, arbitrary: audit(user) },
    { weight: 2, arbitrary: rekey },
    { weight: 3, arbitrary: keys },
    { weight: 1, arbitrary: recount },
    { weight: 2, arbitrary: outbox },
    { weight: 1, arbitrary: restart(policy) },
    { weight: 4, arbitrary: advance(user) },
  );
}
