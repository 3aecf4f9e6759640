/**
 * Redis outages against the built server: a burst while Redis is down fails fast (no unbounded
 * offline queue) and accepts nothing; the server recovers by itself; with AOF a Redis restart loses
 * no enrollment, used step or lockout; killing Redis in the middle of a load of verifies costs
 * availability, never correctness. The times measured are printed (`measured: …`).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.js';
import { APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { ENROLL, STATUS, VERIFY, activeUser, codeAt, readyz, stepOf, waitFor, wrong } from './support/totp.js';

const redisUrl = inject('redisUrl');

type Answer = { outcome: string | null; error: string | null; ms: number; at: number };

/** One GraphQL call, classified: the verify outcome (or data) or the error code, and its latency. */
async function call(server: ServerProcess, query: string, variables: Record<string, unknown>): Promise<Answer> {
  const started = Date.now();
  const r = await server.gql<Record<string, { outcome?: string } | null>>(query, variables, APP_TOKEN);
  const data = r.data ? Object.values(r.data)[0] : null;
  return {
    outcome: data ? (data.outcome ?? 'ok') : null,
    error: r.errors?.[0]?.extensions?.code ?? null,
    ms: Date.now() - started,
    at: started,
  };
}

const percentile = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

describe.skipIf(!redisUrl)('Redis outages', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    const failures: unknown[] = [];
    for (const f of cleanup.splice(0).reverse()) await f().catch((err: unknown) => failures.push(err));
    if (failures.length > 0) throw failures[0];
  });

  async function setup(env: Record<string, string> = {}): Promise<{ redis: RedisProcess; server: ServerProcess; restart: () => Promise<RedisProcess> }> {
    const redis = await startRedis({ aof: true });
    let current = redis;
    cleanup.push(async () => {
      await current.stop(true);
      redis.cleanup();
    });
    const server = await startServer({ env: { REDIS_URL: redis.url, TOTP_ENCRYPTION_KEYS: encryptionKey(), ...env } });
    cleanup.push(async () => {
      expect(await server.stop()).toBe(0);
    });
    const restart = async () => (current = await startRedis({ aof: true, port: redis.port, dir: redis.dir }));
    return { redis, server, restart };
  }

  it('fails a burst fast while Redis is down, accepts nothing, and recovers without a restart', async () => {
    const { redis, server, restart } = await setup();
    const { secret, step } = await activeUser(server, 'burst');
    const before = await server.gql<{ totpStatus: { lastVerifiedAt: string } }>(STATUS, { userId: 'burst' });

    await redis.stop(true);
    const down = Date.now();
    const burst = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        i % 3 === 0
          ? call(server, VERIFY, { userId: 'burst', code: codeAt(secret, step + 1) })
          : i % 3 === 1
            ? call(server, ENROLL, { input: { userId: `new-${i}` } })
            : call(server, STATUS, { userId: 'burst' }),
      ),
    );
    const burstMs = Date.now() - down;
    const latencies = burst.map((a) => a.ms);
    expect(burst.every((a) => a.error === 'SERVICE_UNAVAILABLE' && a.outcome === null)).toBe(true);
    // bounded by the command timeout (2 s), not by how long Redis stays away; generous for a loaded machine
    expect(Math.max(...latencies)).toBeLessThan(5000);
    const detect = await waitFor(async () => (await readyz(server)) === 503, 3000);

    const back = await restart();
    const upAt = Date.now();
    const readyMs = await waitFor(async () => (await readyz(server)) === 200, 10_000, 20);
    const verifyMs = await waitFor(async () => (await call(server, STATUS, { userId: 'burst' })).outcome === 'ok', 10_000, 20).then(() => Date.now() - upAt);
    console.log(
      `measured: burst of 150 while Redis down: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, ` +
        `max ${Math.max(...latencies)} ms, whole burst ${burstMs} ms; /readyz 503 after ${detect} ms; ` +
        `after Redis is back: /readyz 200 in ${readyMs} ms, first successful request in ${verifyMs} ms`,
    );
    // nothing was accepted or enrolled while Redis was down
    const after = await server.gql<{ totpStatus: { lastVerifiedAt: string } | null }>(STATUS, { userId: 'burst' });
    expect(after.data?.totpStatus?.lastVerifiedAt).toBe(before.data?.totpStatus.lastVerifiedAt);
    expect((await server.gql<{ totpStatus: unknown }>(STATUS, { userId: 'new-1' })).data?.totpStatus).toBeNull();
    expect((await call(server, VERIFY, { userId: 'burst', code: codeAt(secret, step + 1) })).outcome).toBe('ACCEPTED');
    expect(back.port).toBe(redis.port);
  });

  it('loses no enrollment, used step or lockout across a Redis crash with AOF', async () => {
    const { redis, server, restart } = await setup();
    const { secret, step } = await activeUser(server, 'kept');
    await server.gql(ENROLL, { input: { userId: 'pending' } }, APP_TOKEN);
    const locked = await activeUser(server, 'locked');
    for (let i = 0; i < 5; i++) await call(server, VERIFY, { userId: 'locked', code: wrong(codeAt(locked.secret)) });
    expect((await call(server, VERIFY, { userId: 'locked', code: codeAt(locked.secret, locked.step + 1) })).outcome).toBe('LOCKED');

    await redis.stop(true); // SIGKILL: no chance to write anything more
    await restart();
    await waitFor(async () => (await readyz(server)) === 200, 10_000);

    expect((await call(server, VERIFY, { userId: 'kept', code: codeAt(secret, step) })).outcome).toBe('REPLAYED');
    const pending = await server.gql<{ totpStatus: { status: string } }>(STATUS, { userId: 'pending' });
    expect(pending.data?.totpStatus.status).toBe('PENDING');
    expect((await call(server, VERIFY, { userId: 'locked', code: codeAt(locked.secret, locked.step + 1) })).outcome).toBe('LOCKED');
    const l = await server.gql<{ totpStatus: { lockedUntil: string | null } }>(STATUS, { userId: 'locked' });
    expect(Date.parse(l.data!.totpStatus.lockedUntil!)).toBeGreaterThan(Date.now());
  });

  it('costs availability, never correctness, when Redis dies in the middle of a load', async () => {
    // a wide window keeps every code of the load valid for the checks after it (±5 min)
    const { redis, server, restart } = await setup({ TOTP_MAX_FAILURES: '1000000', TOTP_WINDOW: '10' });
    const users: { id: string; secret: string; step: number }[] = await Promise.all(Array.from({ length: 8 }, (_, i) => activeUser(server, `load-${i}`).then((u) => ({ id: `load-${i}`, ...u }))));
    const log: (Answer & { user: string; step: number })[] = [];
    const started = Date.now();
    let killedAt = 0;
    let backAt = 0;
    const chaos = (async () => {
      await new Promise((r) => setTimeout(r, 2500));
      await redis.stop(true);
      killedAt = Date.now();
      await new Promise((r) => setTimeout(r, 2000));
      await restart();
      backAt = Date.now();
    })();
    const enrolled: string[] = [];
    // hammer the same users: after its first acceptance, each further code of a step is a replay
    const hammer = async (w: number) => {
      for (let i = 0; Date.now() - started < 8000; i++) {
        const u = users[(w + i) % users.length]!;
        const step = stepOf() + 1; // new for every user: their first code used the current step
        log.push({ user: u.id, step, ...(await call(server, VERIFY, { userId: u.id, code: codeAt(u.secret, step) })) });
      }
    };
    // fresh users all along: enroll, then the first code twice at once (one activation at most)
    const fresh = async (w: number) => {
      for (let i = 0; Date.now() - started < 8000; i++) {
        const id = `fresh-${w}-${i}`;
        const e = await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, { input: { userId: id } }, APP_TOKEN);
        if (!e.data) continue;
        enrolled.push(id);
        users.push({ id, secret: e.data.enrollTotp.secret, step: stepOf() });
        const step = stepOf();
        const code = codeAt(e.data.enrollTotp.secret, step);
        const twice = await Promise.all([0, 1].map(() => call(server, VERIFY, { userId: id, code })));
        for (const a of twice) log.push({ user: id, step, ...a });
      }
    };
    await Promise.all([chaos, ...[0, 1, 2, 3].map(hammer), ...[0, 1].map(fresh)]);

    // correctness: only these answers, and one acceptance at most per user and step
    for (const a of log) {
      expect([a.outcome, a.error]).toSatisfy(([o, e]) => (o === 'ACCEPTED' || o === 'REPLAYED' ? e === null : o === null && e === 'SERVICE_UNAVAILABLE'));
    }
    const accepted = log.filter((a) => a.outcome === 'ACCEPTED');
    const keys = accepted.map((a) => `${a.user}@${a.step}`);
    expect(new Set(keys).size).toBe(keys.length);
    // every acceptance had its bookkeeping written: its code is a replay now
    for (const a of accepted) {
      const again = await call(server, VERIFY, { userId: a.user, code: codeAt(users.find((u) => u.id === a.user)!.secret, a.step) });
      expect(again.outcome).toBe('REPLAYED');
    }
    // every enrollment that was answered is still there
    for (const id of enrolled) {
      expect((await server.gql<{ totpStatus: { status: string } | null }>(STATUS, { userId: id })).data?.totpStatus?.status).toMatch(/PENDING|ACTIVE/);
    }
    // availability: answers before the kill, errors during the outage, answers again after
    const errors = log.filter((a) => a.error !== null);
    const firstError = Math.min(...errors.map((a) => a.at + a.ms));
    const firstOkAfter = Math.min(...log.filter((a) => a.error === null && a.at >= backAt).map((a) => a.at + a.ms));
    expect(log.some((a) => a.error === null && a.at + a.ms < killedAt)).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    expect(Number.isFinite(firstOkAfter)).toBe(true);
    console.log(
      `measured: load of ${log.length} verifies and ${enrolled.length} enrollments (6 clients, 8 s), Redis SIGKILLed at 2.5 s and back 2 s later: ` +
        `${accepted.length} accepted, ${log.filter((a) => a.outcome === 'REPLAYED').length} replayed, ${errors.length} SERVICE_UNAVAILABLE ` +
        `(max latency ${Math.max(...errors.map((a) => a.ms))} ms); first error ${firstError - killedAt} ms after the kill; ` +
        `first answer ${firstOkAfter - backAt} ms after Redis was back`,
    );
  });
});
