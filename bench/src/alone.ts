/**
 * Redis's time per verify with nothing else wanting the CPU: the service's own code in this
 * process (no HTTP, no server process) on a redis-server of its own, one verify at a time, each
 * user verified moments before (its secrets held open: one script call a verify). Under the
 * loads `INFO commandstats` times a command by the clock on CPUs shared with the server and the
 * generator; here Redis runs while this process waits for its answer, so the clock is its CPU.
 * Each round also times the yardstick (below), the same commands with none of the scripts' logic,
 * so that the report can say how much of a verify is Redis's commands and how much the Lua.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DEFAULT_POLICY, KeyRing, codeAtStep, parseBase32Secret, type TotpParams } from '@totp-service/core';
import { FAIL_FAST, RedisStore, buildServices, keys } from '@totp-service/server';
import { median } from './cli.js';
import { startRedis } from './processes.js';
import { commandCost, round, snapshot } from './redis-stats.js';
import { wrongCodeAt } from './users.js';

export interface AloneFigures {
  readonly users: number;
  readonly rounds: number;
  /** Redis time in commands per verify (µs), the median round of each kind. */
  readonly usualLogin: number;
  readonly afterFailure: number;
  readonly wrong: number;
  /**
   * The yardstick (YARDSTICK below), µs a call, timed the same way in every round, the median
   * round: the commands of a usual login without the service's logic between them.
   */
  readonly yardstick: number;
  /** Each kind's figure less the yardstick's of the same round, the median round: the scripts' own work, what rewriting them could cut. */
  readonly logic: { readonly usualLogin: number; readonly afterFailure: number; readonly wrong: number };
}

/**
 * The yardstick: the commands a usual login runs inside its script (read a user's hash, count
 * the client address's attempt, write the hash, append to the audit stream and the user's list),
 * on keys of its own, one set per user, and nothing else: what Redis's commands cost a verify,
 * apart from what the scripts' Lua does around them. (It does not stand in for the machine's
 * speed: with two busy loops on the CPUs a verify's figure rose by a quarter and this one's
 * did not.)
 */
const YARDSTICK = `
local flat = redis.call('HGETALL', KEYS[1])
local t = {}
for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], 60000) end
redis.call('HSET', KEYS[1], 'lv', ARGV[1])
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', 1000000, '*', 'e', ARGV[2])
redis.call('LPUSH', KEYS[4], id)
return #flat`;

const APP = { name: 'bench' } as const;
const STEP = 30_000;

/** `users` users, `rounds` rounds of each kind: a valid code (the usual login), a wrong one, a valid one after it. */
export async function measureAlone(workDir: string, users: number, rounds: number): Promise<AloneFigures> {
  const redis = await startRedis(workDir);
  const client = new Redis(redis.url, { ...FAIL_FAST, keyPrefix: 'totp:', lazyConnect: true });
  await client.connect();
  const store = new RedisStore(client, { auditMaxEvents: 1_000_000, auditUserMaxEvents: 1000 });
  try {
    // a clock of its own, moved a step at a time, so that every valid round has a fresh step
    let now = (Math.floor(Date.now() / 60_000) + 1) * 60_000 + 5_000;
    const policy = { ...DEFAULT_POLICY, maxFailures: 1_000_000 };
    const keyRing = new KeyRing([{ id: 'bench', key: randomBytes(32) }]);
    // the secrets held open for the whole measurement (its clock passes minutes); no QR images
    const secretCache = { size: users, seconds: 24 * 3600 };
    const renderQr = () => Promise.resolve({ dataUrl: '', svg: '' });
    const { totp } = buildServices({ store, keyRing, policy, issuer: 'TOTP Service', clock: () => now, secretCache, renderQr });
    const factors: { userId: string; clientIp: string; secret: Uint8Array; params: TotpParams }[] = [];
    for (let i = 0; i < users; i++) {
      const userId = randomUUID();
      const e = await totp.enroll(APP, { userId });
      // a client address of the user's own, as in the loads
      const clientIp = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      factors.push({ userId, clientIp, secret: parseBase32Secret(e.secret), params: { algorithm: e.algorithm, digits: 6, period: 30 } });
    }
    const code = (f: (typeof factors)[number], wrong: boolean) => {
      const step = Math.floor(now / STEP);
      return wrong ? wrongCodeAt(f.secret, step) : codeAtStep(f.secret, step, f.params);
    };
    const timeRound = (wrong: boolean, expected: string): Promise<number> =>
      microsPerCall(redis.admin, factors.length, async () => {
        for (const f of factors) {
          const r = await totp.verify(APP, f.userId, code(f, wrong), f.clientIp);
          if (r.outcome !== expected) throw new Error(`Redis alone: ${r.outcome} where ${expected} was due`);
        }
      });
    await timeRound(false, 'ACCEPTED'); // activation: two round trips, not measured
    const timeYardstick = await yardstick(client, redis.admin, factors.map((f) => f.userId));
    const usual: number[] = [];
    const wrong: number[] = [];
    const after: number[] = [];
    const rulers: number[] = [];
    for (let i = 0; i < rounds; i++) {
      now += STEP;
      usual.push(await timeRound(false, 'ACCEPTED'));
      wrong.push(await timeRound(true, 'INVALID_CODE'));
      now += STEP;
      after.push(await timeRound(false, 'ACCEPTED'));
      rulers.push(await timeYardstick());
    }
    // the median of an even count is the mean of the middle two: rounded as the rounds are
    const mid = (xs: number[]) => round(median(xs), 2);
    const less = (xs: number[]) => mid(xs.map((x, i) => x - rulers[i]!));
    return {
      users,
      rounds,
      usualLogin: mid(usual),
      afterFailure: mid(after),
      wrong: mid(wrong),
      yardstick: mid(rulers),
      logic: { usualLogin: less(usual), afterFailure: less(after), wrong: less(wrong) },
    };
  } finally {
    await store.close();
    await redis.stop();
  }
}

/** The yardstick's keys written (a copy of each user's hash), its script loaded: a round, µs a call. */
async function yardstick(client: Redis, admin: Redis, userIds: readonly string[]): Promise<() => Promise<number>> {
  for (const [i, userId] of userIds.entries()) await client.hset(`bench:y:${i}`, await client.hgetall(keys.userKeys(userId).user));
  const sha = String(await client.script('LOAD', YARDSTICK));
  // about an audit event's size (store/audit-codes.ts)
  const event = 'x'.repeat(48);
  return () =>
    microsPerCall(admin, userIds.length, async () => {
      for (let i = 0; i < userIds.length; i++) {
        await client.evalsha(sha, 4, `bench:y:${i}`, `bench:y:c:${i}`, 'bench:y:audit', `bench:y:ei:${i}`, String(Date.now()), event);
      }
    });
}

/** Redis's time in commands (the scripts' own, commandstats) per call over `calls` calls made by `work`, µs. */
async function microsPerCall(admin: Redis, calls: number, work: () => Promise<void>): Promise<number> {
  const before = await snapshot(admin);
  await work();
  return commandCost(before, await snapshot(admin), calls).redisMicrosPerVerify;
}
