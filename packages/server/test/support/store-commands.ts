/**
 * The commands of the differential test (store-model.test.ts), as fast-check arbitraries. Each
 * command runs on every side through the services (TotpService, RecoveryService, AdminService),
 * compares the answers, and remembers what later commands need (secrets, accepted codes, recovery
 * codes) per side. Its label is what a shrunk counterexample prints.
 */
import { createHash } from 'node:crypto';
import { encodeBase32, parseBase32Secret, SECRET_BYTES, type Algorithm, type Digits, type Period, type Policy } from '@totp-service/core';
import fc from 'fast-check';
import { AUDIT_EVENT_TYPES, type EnrollmentStatus } from '../../src/store/store.js';
import type { EnrollInput } from '../../src/totp/totp.service.js';
import { ADMIN, APP } from '../contract/harness.js';
import { codeIntent, codesFor, describeIntent, type CodeIntent } from './store-codes.js';
import type { Answer, Lockstep } from './store-lockstep.js';
import { portView, rawUser, type Side } from './store-sides.js';

export class Op implements fc.AsyncCommand<object, Lockstep> {
  constructor(
    readonly label: string,
    private readonly act: (p: Lockstep) => Promise<void>,
  ) {}
  check(): boolean {
    return true;
  }
  run(_m: object, p: Lockstep): Promise<void> {
    return p.step(this.label, this.act);
  }
  toString(): string {
    return this.label;
  }
}

/** Client addresses: the first two are one client (IPv4, IPv4-mapped), the next two one /64. */
export const CLIENT_IPS = ['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1', '2001:db8::2', '198.51.100.7'] as const;
const ip = fc.option(fc.constantFrom(...CLIENT_IPS), { nil: undefined, freq: 2 });
const at = (clientIp: string | undefined) => (clientIp ? ` from ${clientIp}` : '');
const WRONG_RECOVERY_CODE = '0000-0000-0000';

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

const enroll = (user: fc.Arbitrary<string>) =>
  fc
    .record({
      userId: user,
      p: params,
      replace: fc.boolean(),
      accountName: fc.constantFrom(undefined, 'Phone of A.', 'same as the id'),
      issuer: fc.constantFrom(undefined, 'Other Issuer'),
    })
    .map(({ userId, p, replace, accountName, issuer }) => {
      const account = accountName === 'same as the id' ? userId : accountName;
      return new Op(`enroll ${userId} ${shape(p)}${replace ? ' replace' : ''}${account ? ` account "${account}"` : ''}${issuer ? ` issuer "${issuer}"` : ''}`, async (run) => {
        await enrollEverywhere(run, userId, p, { replace, accountName: account, issuer });
      });
    });

/** Enroll (replacing) and confirm with the new secret's current code: the quick way to an ACTIVE user. */
const activate = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, p: params, codes: fc.boolean() }).map(
    ({ userId, p, codes }) =>
      new Op(`enroll ${userId} ${shape(p)} replace, and confirm it${codes ? ', and make recovery codes' : ''}`, async (run) => {
        await enrollEverywhere(run, userId, p, { replace: true });
        await confirm(run, userId, { kind: 'step', factor: 0, offset: 0 }, undefined);
        if (codes) await makeCodes(run, userId);
      }),
  );

const importTotp = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, p: params, seed: fc.nat(99) }).map(({ userId, p, seed }) => {
    // the same secret on every side: an import brings its own
    const secret = encodeBase32(createHash('sha512').update(`secret ${seed}`).digest().subarray(0, SECRET_BYTES[p.algorithm]));
    return new Op(`import ${userId} ${shape(p)} secret #${seed}`, async (run) => {
      const answers = await run.each((s) => s.admin.importTotp(ADMIN, { userId, secret, ...p }));
      run.same('importTotp', answers);
      const into = (a: { devices: readonly { id: string; name: string }[] }) => a.devices.find((d) => d.name === 'default')!.id;
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
        for (let k = 0; k < count; k++) await confirm(run, userId, { kind: 'wrong', factor: 0 }, clientIp);
      }),
  );

async function confirm(run: Lockstep, userId: string, intent: CodeIntent, clientIp: string | undefined): Promise<void> {
  const { sent, intended } = codesFor(run, userId, intent);
  const answers = await run.each((s, i) => s.service.verify(APP, userId, sent[i]!, clientIp));
  run.same('verifyTotp', answers);
  answers.forEach((a, i) => {
    const from = intended[i];
    if ('ok' in a && a.ok.outcome === 'ACCEPTED' && from) run.sides[i]!.accepted.set(userId, from);
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

const revoke = (user: fc.Arbitrary<string>) =>
  fc.record({ userId: user, reason: fc.constantFrom(undefined, 'lost phone') }).map(
    ({ userId, reason }) =>
      new Op(`revoke ${userId}${reason ? ` (${reason})` : ''}`, async (run) => {
        run.same('revokeTotp', await run.each((s) => s.service.revoke(APP, userId, reason)));
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

/** Page through totpEnrollments to the end; every page must be the same. */
const list = fc.record({ status: fc.constantFrom<EnrollmentStatus | null>(null, 'ACTIVE', 'PENDING'), first: fc.constantFrom(1, 2, 50) }).map(
  ({ status: st, first }) =>
    new Op(`list ${st ?? 'all'} enrollments, ${first} a page`, async (run) => {
      let after: (string | null)[] = run.sides.map(() => null);
      for (let page = 0; page < 10; page++) {
        const answers = await run.each((s, i) => s.admin.enrollments({ status: st, first, after: after[i] }));
        run.same(`totpEnrollments page ${page + 1}`, answers);
        const first0 = answers[0]!;
        if (!('ok' in first0) || !first0.ok.pageInfo.hasNextPage) return;
        after = answers.map((a) => ('ok' in a ? a.ok.pageInfo.endCursor : null));
      }
    }),
);

/** Page through auditEvents (one user's or everyone's, some types or all) to the end. */
const audit = (user: fc.Arbitrary<string>) =>
  fc
    .record({
      userId: fc.option(user, { nil: null }),
      first: fc.constantFrom(3, 100),
      types: fc.option(fc.subarray([...AUDIT_EVENT_TYPES], { minLength: 1, maxLength: 3 }), { nil: null }),
      sinceSeconds: fc.option(fc.constantFrom(0, 30, 90), { nil: null }),
    })
    .map(
      ({ userId, first, types, sinceSeconds }) =>
        new Op(`audit of ${userId ?? 'everyone'}${types ? ` (${types.join(', ')})` : ''}${sinceSeconds === null ? '' : ` since ${sinceSeconds} s ago`}, ${first} a page`, async (run) => {
          const since = sinceSeconds === null ? null : new Date(run.clock.now - sinceSeconds * 1000);
          let after: (string | null)[] = run.sides.map(() => null);
          for (let page = 0; page < 40; page++) {
            const answers = await run.each((s, i) => s.admin.auditEvents({ userId, first, types, since, after: after[i] }));
            run.same(`auditEvents page ${page + 1}`, answers);
            const first0 = answers[0]!;
            if (!('ok' in first0) || !first0.ok.pageInfo.hasNextPage) return;
            after = answers.map((a) => ('ok' in a ? a.ok.pageInfo.endCursor : null));
          }
        }),
    );

/** rekeyTotp, alone or (the operator's usual way) right after a restart with a new active key. */
const rekey = fc.boolean().map(
  (rotate) =>
    new Op(rotate ? 'restart with a new active key, and rekey' : 'rekey', async (run) => {
      if (rotate) for (const s of run.sides) s.rotateKey();
      run.same('rekeyTotp', await run.each((s) => s.admin.rekey(ADMIN)));
    }),
);

/**
 * The operator's keys: a new active key (the other test key; the one it replaces stays in the ring
 * to open older values), the retired key dropped from TOTP_ENCRYPTION_KEYS (values it sealed can no
 * longer be opened), or put back.
 */
const keys = fc.constantFrom('rotate' as const, 'replace' as const, 'drop' as const, 'restore' as const).map(
  (what) =>
    new Op(
      {
        rotate: 'restart with a new active key',
        replace: 'restart with a new active key and without the old one',
        drop: 'restart without the retired key',
        restore: 'restart with the retired key back',
      }[what],
      async (run) => {
        for (const s of run.sides) {
          if (what === 'rotate' || what === 'replace') s.rotateKey();
          if (what !== 'rotate') s.dropRetiredKey(what !== 'restore');
        }
      },
    ),
);

/** A restart with another policy (a lower TOTP_MAX_FAILURES than a user's failures, another window…). */
const restart = (policy: fc.Arbitrary<Policy>) =>
  policy.map(
    (p) =>
      new Op(`restart with policy ${JSON.stringify(p)}`, async (run) => {
        run.policy = p;
        for (const s of run.sides) s.usePolicy(p);
      }),
  );

/** Moves of the clock, in whole seconds: small steps, to step boundaries, to and past lockouts and pending expiries. */
const advance = (user: fc.Arbitrary<string>) =>
  fc.oneof(
    fc.integer({ min: 1, max: 15 }).map((s) => new Op(`wait ${s} s`, (p) => p.advance(s * 1000))),
    fc.record({ period: fc.constantFrom(30, 60), extra: fc.constantFrom(0, 1) }).map(
      ({ period, extra }) =>
        new Op(`wait until ${extra ? '1 s after ' : ''}the next ${period} s step`, (p) => p.advance(period * 1000 - (p.clock.now % (period * 1000)) + extra * 1000)),
    ),
    fc.constantFrom(60, 3600).map((s) => new Op(`wait ${s} s`, (p) => p.advance(s * 1000))),
    fc.record({ userId: user, what: fc.constantFrom('lockout' as const, 'pending enrollment' as const), offset: fc.constantFrom(-1, 0, 1) }).map(
      ({ userId, what, offset }) =>
        new Op(`wait until ${offset ? `${Math.abs(offset)} s ${offset < 0 ? 'before' : 'after'} ` : ''}the end of ${userId}'s ${what}`, async (p) => {
          // read from the embedded store as stored (no read that expires anything; the state
          // comparison holds it the same on every side)
          const end = Number((await rawUser(p.sides[0]!, userId)).fields?.[what === 'lockout' ? 'lu' : 'pe'] ?? 0);
          await p.advance(end > p.clock.now ? end - p.clock.now + offset * 1000 : p.policy.lockoutSeconds * 1000);
        }),
    ),
  );

/** Every command, weighted toward verifies, as one arbitrary (fc.commands picks among its arbitraries uniformly). */
export function commandArbitrary(users: readonly string[], policy: fc.Arbitrary<Policy>): fc.Arbitrary<Op> {
  // the first user most often: more happens to one user than to many
  const user = fc.oneof(...users.map((u, i) => ({ weight: [4, 2][i] ?? 1, arbitrary: fc.constant(u) })));
  return fc.oneof(
    { weight: 3, arbitrary: enroll(user) },
    { weight: 3, arbitrary: activate(user) },
    { weight: 1, arbitrary: importTotp(user) },
    { weight: 12, arbitrary: verify(user) },
    { weight: 1, arbitrary: guesses(user) },
    { weight: 3, arbitrary: generateCodes(user) },
    { weight: 4, arbitrary: verifyRecovery(user) },
    { weight: 1, arbitrary: useAllCodes(user) },
    { weight: 1, arbitrary: revoke(user) },
    { weight: 2, arbitrary: unlock(user) },
    { weight: 1, arbitrary: status(user) },
    { weight: 1, arbitrary: list },
    { weight: 1, arbitrary: audit(user) },
    { weight: 2, arbitrary: rekey },
    { weight: 2, arbitrary: keys },
    { weight: 1, arbitrary: restart(policy) },
    { weight: 4, arbitrary: advance(user) },
  );
}
