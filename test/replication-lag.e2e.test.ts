/**
 * What an asynchronous failover can lose: how long after Redis acknowledged a write its replica
 * has it too. A master and a replica; a write then `WAIT 1` on a probe connection, at rest and
 * while the built server runs a load of verifies on the master (each one writes its failures,
 * lockout and audit). The time WAIT takes is both the window a failover could lose and what an
 * acknowledged-by-a-replica verify would cost (docs: "Failover and replication").
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.js';
import { APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { ENROLL, VERIFY } from './support/totp.js';
import { requireTool } from './support/tools.js';

const haveRedis = requireTool('redis-server') !== null;

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const summary = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`;

describe.skipIf(!haveRedis)('replication lag behind an acknowledged write', () => {
  let master: RedisProcess;
  let replica: RedisProcess;
  let server: ServerProcess;
  let probe: Redis;
  beforeAll(async () => {
    master = await startRedis();
    replica = await startRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
    probe = new Redis(master.url);
    for (let i = 0; i < 100 && (await probe.wait(1, 100)) < 1; i++) await new Promise((r) => setTimeout(r, 50));
    server = await startServer({ env: { REDIS_URL: master.url, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_MAX_FAILURES: '1000000' } });
  });
  afterAll(async () => {
    probe?.disconnect();
    expect(await server?.stop()).toBe(0);
    await Promise.all([master?.stop(true), replica?.stop(true)]);
    master?.cleanup();
    replica?.cleanup();
  });

  /** Write, then wait for the replica's acknowledgement: ms each, `n` times. */
  async function acknowledged(n: number): Promise<{ write: number[]; replicated: number[] }> {
    const write: number[] = [];
    const replicated: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await probe.set('probe', String(i));
      const t1 = performance.now();
      expect(await probe.wait(1, 1000)).toBe(1);
      write.push(t1 - t0);
      replicated.push(performance.now() - t1);
    }
    return { write, replicated };
  }

  it('is a fraction of a millisecond at rest, and a few under a load of verifies', async () => {
    const rest = await acknowledged(300);
    const users = Array.from({ length: 50 }, (_, i) => `lag-${i}`);
    for (const userId of users) await server.gql(ENROLL, { input: { userId } }, APP_TOKEN);
    let running = true;
    let verifies = 0;
    const load = Array.from({ length: 32 }, async (_, w) => {
      for (let i = w; running; i++) {
        await server.gql(VERIFY, { userId: users[i % users.length], code: '000000' }, APP_TOKEN);
        verifies += 1;
      }
    });
    const started = performance.now();
    const busy = await acknowledged(300);
    const seconds = (performance.now() - started) / 1000;
    running = false;
    await Promise.all(load);
    console.log(
      `measured: replica acknowledgement after a write (WAIT 1): at rest ${summary(rest.replicated)} (the write itself ${summary(rest.write)}); ` +
        `during ${Math.round(verifies / seconds)} verifies/s: ${summary(busy.replicated)} (the write itself ${summary(busy.write)})`,
    );
    expect(Math.max(...busy.replicated)).toBeLessThan(1000);
  });
});
