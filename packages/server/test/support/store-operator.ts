/**
 * The operator's commands of the differential test (store-model.test.ts): listings, the audit log,
 * keys and rekeys, restarts with another policy, and the clock. See store-commands.ts.
 */
import type { Policy } from '@totp-service/core';
import fc from 'fast-check';
import { AUDIT_EVENT_TYPES, type EnrollmentStatus } from '../../src/store/store.js';
import { ADMIN } from '../contract/harness.js';
import { Op } from './store-lockstep.js';
import { rawUser } from './store-sides.js';

/** Page through totpEnrollments to the end; every page must be the same. */
export const list = fc.record({ status: fc.constantFrom<EnrollmentStatus | null>(null, 'ACTIVE', 'PENDING'), first: fc.constantFrom(1, 2, 50) }).map(
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
export const audit = (user: fc.Arbitrary<string>) =>
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
export const rekey = fc.boolean().map(
  (rotate) =>
    new Op(rotate ? 'restart with a new active key, and rekey' : 'rekey', async (run) => {
      if (rotate) for (const s of run.sides) s.rotateKey();
      run.same('rekeyTotp', await run.each((s) => s.admin.rekey(ADMIN)));
      run.same('encryptionKeys', await run.each((s) => s.admin.encryptionKeys()));
    }),
);

/**
 * The key counts made again from the users themselves (recountKeys: a server's start-up on a
 * store written before the counts existed): on Redis a script reads every confirmed user of each
 * bucket, so the counts kept step by step meet the truth of the records (compared with the
 * embedded store's, which it counts from its records every time).
 */
export const recount = fc.constant(
  new Op('count what each key seals again (recountKeys)', async (run) => {
    await Promise.all(run.sides.map((s) => s.store.recountKeys()));
  }),
);

/**
 * The operator's keys: a new active key (the other test key; the one it replaces stays in the ring
 * to open older values), the retired key dropped from TOTP_ENCRYPTION_KEYS (values it sealed can no
 * longer be opened), or put back.
 */
export const keys = fc.constantFrom('rotate' as const, 'replace' as const, 'drop' as const, 'restore' as const).map(
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
export const restart = (policy: fc.Arbitrary<Policy>) =>
  policy.map(
    (p) =>
      new Op(`restart with policy ${JSON.stringify(p)}`, async (run) => {
        run.policy = p;
        for (const s of run.sides) s.usePolicy(p);
      }),
  );

/** Moves of the clock, in whole seconds: small steps, to step boundaries, to and past lockouts and pending expiries. */
export const advance = (user: fc.Arbitrary<string>) =>
  fc.oneof(
    fc.integer({ min: 1, max: 15 }).map((s) => new Op(`wait ${s} s`, (p) => p.advance(s * 1000))),
    fc.record({ period: fc.constantFrom(30, 60), extra: fc.constantFrom(0, 1) }).map(
      ({ period, extra }) =>
        new Op(`wait until ${extra ? '1 s after ' : ''}the next ${period} s step`, (p) => p.advance(period * 1000 - (p.clock.now % (period * 1000)) + extra * 1000)),
    ),
    fc.constantFrom(60, 3600).map((s) => new Op(`wait ${s} s`, (p) => p.advance(s * 1000))),
    fc.record({ userId: user, what: fc.constantFrom('lockout' as const, 'next pending enrollment' as const), offset: fc.constantFrom(-1, 0, 1) }).map(
      ({ userId, what, offset }) =>
        new Op(`wait until ${offset ? `${Math.abs(offset)} s ${offset < 0 ? 'before' : 'after'} ` : ''}the end of ${userId}'s ${what}`, async (p) => {
          // read from the embedded store as stored (no read that expires anything; the state
          // comparison holds it the same on every side): the lockout, or the pending secret of
          // any device that lapses first
          const fields = (await rawUser(p.sides[0]!, userId)).fields ?? {};
          const ends = Object.entries(fields).filter(([name]) => (what === 'lockout' ? name === 'lu' : /^\d*pe$/.test(name)));
          const end = Math.min(...ends.map(([, v]) => Number(v)).filter((t) => t > p.clock.now));
          await p.advance(Number.isFinite(end) ? end - p.clock.now + offset * 1000 : p.policy.lockoutSeconds * 1000);
        }),
    ),
  );


/**
 * The webhook outbox (store.outbox): servers "a" and "b" take what no server has taken yet (the
 * consumer group starts at the first of these commands, after the events already there), and
 * acknowledge some of what they took; the entries, and the backlog after, are compared. Retries
 * are not modelled: what is due depends on real time (Redis counts idle time on its own clock,
 * and hands out nothing idle for less than a second), which the test clock does not move.
 */
export const outbox = fc.oneof(
  fc.record({ consumer: fc.constantFrom('a', 'b'), perStream: fc.constantFrom(1, 2, 100) }).map(
    ({ consumer, perStream }) =>
      new Op(`webhooks: server "${consumer}" takes up to ${perStream} new events per stream`, async (run) => {
        const answers = await run.each(async (s) => {
          await s.store.outbox.start();
          return s.store.outbox.take(consumer, perStream);
        });
        run.same('outbox.take', answers);
        const first = answers[0]!;
        if ('ok' in first) run.outboxTaken.push(...first.ok.map((e) => e.event.id));
        await sameBacklog(run);
      }),
  ),
  fc.record({ count: fc.constantFrom(1, 3, 1000), stranger: fc.boolean() }).map(
    ({ count, stranger }) =>
      new Op(`webhooks: acknowledge the ${count === 1000 ? 'all' : `oldest ${count}`} taken${stranger ? ', and an event never taken' : ''}`, async (run) => {
        const ids = run.outboxTaken.splice(0, count);
        if (stranger) ids.push('0-1-0');
        await run.each(async (s) => {
          await s.store.outbox.start();
          await s.store.outbox.ack(ids);
        });
        await sameBacklog(run);
      }),
  ),
);

/**
 * The backlog, the same everywhere; `waiting` only where each store can tell (the port allows null:
 * Redis 7.0 reports no lag once entries arrive after a group made at the end of a stream of several
 * entries).
 */
async function sameBacklog(run: Parameters<Op['run']>[1]): Promise<void> {
  const answers = await run.each((s) => s.store.outbox.backlog());
  const unknown = answers.some((a) => 'ok' in a && a.ok.waiting === null);
  run.same('outbox.backlog', answers.map((a) => ('ok' in a && unknown ? { ok: { ...a.ok, waiting: null } } : a)));
}
