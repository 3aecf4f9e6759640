/**
 * rekeyTotp raced against itself and against a burst of verifies, on the built server: users
 * enrolled under key k1, then two servers with "k2,k1" on the same Redis run three rekeys at once
 * (two on one server, one on the other) while every user's current code, every pending user's
 * confirmation and a recovery code of some users are sent to both servers several times over.
 * Each code is ACCEPTED exactly once (the other copies REPLAYED; a recovery code INVALID_CODE as
 * used), every sealed value is re-sealed exactly once across the three runs, none is left under
 * k1, and a server with k2 alone then verifies everyone.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { oathCode, stepStart } from './support/migrate.js';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { requireTool } from './support/tools.js';

const redisUrl = inject('redisUrl');
const oathtool = requireTool('oathtool');
const ACTIVE = 60;
const PENDING = 20;
const WITH_CODES = 20;

const VERIFY = 'mutation($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome activated } }';
const RECOVER = 'mutation($u: ID!, $c: String!) { verifyRecoveryCode(userId: $u, code: $c) { outcome } }';
const REKEY = 'mutation { rekeyTotp { rekeyed activeKeyId } }';

type Outcome = { outcome: string; activated?: boolean };

/** The key id of every sealed value (s, ps, rk) in the users' hashes under `prefix`. */
async function sealedKeyIds(prefix: string): Promise<string[]> {
  const redis = new Redis(redisUrl!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const ids: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}{b*}:u:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        for (const v of await redis.hmgetBuffer(key, 's', 'ps', 'rk')) if (v) ids.push(v.subarray(2, 2 + v[1]!).toString('ascii'));
      }
    } while (cursor !== '0');
    return ids.sort();
  } finally {
    redis.disconnect();
  }
}

describe.skipIf(!redisUrl || !oathtool)('rekeyTotp raced against itself and a verify burst, two servers on one Redis', () => {
  const prefix = `rk${randomBytes(3).toString('hex')}:`;
  const [k1, k2] = [encryptionKey('k1'), encryptionKey('k2')];
  // a user gets up to six attempts at once here (four copies of a code, two of a recovery code):
  // with the default budget of 5, all six can be counted before any is settled, and the sixth
  // is then rightly LOCKED; this test is about rekeys, so the budget is out of the way
  const env = (keys: string) => ({ REDIS_URL: redisUrl!, TOTP_ENCRYPTION_KEYS: keys, TOTP_KEY_PREFIX: prefix, LOG_LEVEL: 'warn', TOTP_MAX_FAILURES: '10' });
  const secrets = new Map<string, string>();
  const recovery = new Map<string, string[]>();
  let a: ServerProcess;
  let b: ServerProcess;
  // Each phase sends codes of one fixed step (its start, epoch ms), later than the last phase's: the
  // next step while the last phase's lasts, else the current one. "now - 1" or "now + 1" per code
  // fails near a step's end: a code sent as now - 1 arrives as now - 2, and a user whose code was
  // accepted just after its step ended learned a drift of -1, so "now + 1" is outside its window.
  const after = (at: number) => Math.max(at + 30_000, stepStart(Date.now()));
  let confirmAt = 0;
  let burstAt = 0;

  beforeAll(async () => {
    const old = await startServer({ env: env(k1) });
    const users = [...Array.from({ length: ACTIVE }, (_, i) => `active-${i}`), ...Array.from({ length: PENDING }, (_, i) => `pending-${i}`)];
    for (let i = 0; i < users.length; i += 10) {
      await Promise.all(users.slice(i, i + 10).map(async (u) => {
        const r = await old.gql<{ enrollTotp: { secret: string } }>('mutation($u: ID!) { enrollTotp(input: { userId: $u }) { secret } }', { u }, APP_TOKEN);
        secrets.set(u, r.data!.enrollTotp.secret);
      }));
    }
    confirmAt = stepStart(Date.now());
    for (const u of users.filter((x) => x.startsWith('active'))) {
      expect((await old.gql<{ verifyTotp: Outcome }>(VERIFY, { u, c: oathCode(oathtool!, secrets.get(u)!, {}, confirmAt) }, APP_TOKEN)).data!.verifyTotp.outcome).toBe('ACCEPTED');
    }
    for (let i = 0; i < WITH_CODES; i++) {
      const r = await old.gql<{ generateRecoveryCodes: { codes: string[] } }>(`mutation { generateRecoveryCodes(userId: "active-${i}") { codes } }`, {}, APP_TOKEN);
      recovery.set(`active-${i}`, r.data!.generateRecoveryCodes.codes);
    }
    expect(await old.stop()).toBe(0);
    [a, b] = await Promise.all([startServer({ env: env(`${k2},${k1}`) }), startServer({ env: env(`${k2},${k1}`) })]);
  }, 120_000);
  afterAll(async () => {
    for (const s of [a, b]) if (s) expect(await s.stop()).toBe(0);
    expect(a.stderr() + b.stderr()).toBe('');
  });

  it('accepts every code exactly once and re-seals every value exactly once', async () => {
    const before = await sealedKeyIds(prefix);
    expect(before).toEqual(Array<string>(ACTIVE + PENDING + WITH_CODES).fill('k1'));

    burstAt = after(confirmAt);
    const codes = new Map([...secrets].map(([u, s]) => [u, oathCode(oathtool!, s, {}, burstAt)]));
    // the rekeys go out first, the burst right behind them, all at once
    const rekeys = [a, a, b].map((server) => server.gql<{ rekeyTotp: { rekeyed: number; activeKeyId: string } }>(REKEY, {}, ADMIN_TOKEN));
    const burst = [...secrets.keys()].flatMap((u) => [a, b, a, b].map((server) =>
      server.gql<{ verifyTotp: Outcome }>(VERIFY, { u, c: codes.get(u) }, APP_TOKEN).then((r) => [u, r.data!.verifyTotp] as const)));
    const uses = [...recovery].flatMap(([u, c]) => [a, b].map((server) =>
      server.gql<{ verifyRecoveryCode: Outcome }>(RECOVER, { u, c: c[0] }, APP_TOKEN).then((r) => [u, r.data!.verifyRecoveryCode] as const)));
    const [verified, recovered, runs] = await Promise.all([Promise.all(burst), Promise.all(uses), Promise.all(rekeys)]);

    for (const u of secrets.keys()) {
      const mine = verified.filter(([x]) => x === u).map(([, v]) => v);
      expect(mine.filter((v) => v.outcome === 'ACCEPTED'), u).toHaveLength(1);
      expect(mine.filter((v) => v.outcome !== 'ACCEPTED').every((v) => v.outcome === 'REPLAYED'), u).toBe(true);
      expect(mine.filter((v) => v.activated)).toHaveLength(u.startsWith('pending') ? 1 : 0);
    }
    for (const u of recovery.keys()) {
      expect(recovered.filter(([x]) => x === u).map(([, v]) => v.outcome).sort(), u).toEqual(['ACCEPTED', 'INVALID_CODE']);
    }
    for (const r of runs) expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(runs.reduce((sum, r) => sum + r.data!.rekeyTotp.rekeyed, 0)).toBe(before.length);
    console.log(`three concurrent rekeys re-sealed ${runs.map((r) => r.data!.rekeyTotp.rekeyed).join(' + ')} of ${before.length} values`);
    expect(await sealedKeyIds(prefix)).toEqual(Array<string>(before.length).fill('k2'));
    const events = await a.gql<{ auditEvents: { nodes: { actor: string }[] } }>('{ auditEvents(types: [REKEYED]) { nodes { actor } } }', {}, ADMIN_TOKEN);
    expect(events.data!.auditEvents.nodes).toEqual([{ actor: 'ops' }, { actor: 'ops' }, { actor: 'ops' }]);
  });

  it('leaves nothing under k1: a server with k2 alone verifies every user and their recovery codes', async () => {
    for (const s of [a, b]) expect(await s.stop()).toBe(0);
    const c = await startServer({ env: env(k2) });
    try {
      const at = after(burstAt);
      for (const [u, secret] of secrets) {
        const r = await c.gql<{ verifyTotp: Outcome }>(VERIFY, { u, c: oathCode(oathtool!, secret, {}, at) }, APP_TOKEN);
        expect(r.data!.verifyTotp.outcome, u).toBe('ACCEPTED');
      }
      for (const [u, c2] of recovery) {
        expect((await c.gql<{ verifyRecoveryCode: Outcome }>(RECOVER, { u, c: c2[1] }, APP_TOKEN)).data!.verifyRecoveryCode.outcome).toBe('ACCEPTED');
      }
      expect((await c.gql<{ rekeyTotp: { rekeyed: number } }>(REKEY, {}, ADMIN_TOKEN)).data!.rekeyTotp.rekeyed).toBe(0);
      expect(c.stderr()).toBe('');
    } finally {
      await c.stop();
    }
  });
});
