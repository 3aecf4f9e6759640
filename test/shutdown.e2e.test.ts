/**
 * Graceful shutdown under load: SIGTERM in the middle of a burst of requests. The server stops
 * accepting, finishes what is in flight, closes Redis and exits 0 within SHUTDOWN_GRACE_MS; every
 * request either got its whole response or was refused before the server read it, and what the
 * store holds afterwards matches the responses exactly (no half-written state).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { classifiedPost, type Classified } from './support/classified-post.js';
import { startRedis } from './support/redis.js';
import { APP_TOKEN, encryptionKey, startServer } from './support/server.js';
import { ENROLL, STATUS, VERIFY, activeUser, codeAt, wrong } from './support/totp.js';

const redisUrl = inject('redisUrl');

type Body = { data?: Record<string, Record<string, unknown>> | null; errors?: unknown[] };
type Result = Classified<Body>;
const post = (url: string, query: string, variables: Record<string, unknown>) => classifiedPost<Body>(url, query, variables, { token: APP_TOKEN });

describe.skipIf(!redisUrl)('shutdown', () => {
  it('drains a burst on SIGTERM: whole responses or refusals, state matching the responses, exit 0 in bounds', async () => {
    const env = {
      REDIS_URL: redisUrl!,
      TOTP_ENCRYPTION_KEYS: encryptionKey(),
      TOTP_KEY_PREFIX: `sd${randomBytes(3).toString('hex')}:`,
      TOTP_MAX_FAILURES: '1000000',
      SHUTDOWN_GRACE_MS: '5000',
    };
    const server = await startServer({ env });
    const { secret } = await activeUser(server, 'target');
    const bad = wrong(codeAt(secret));

    const sent: { kind: 'enroll' | 'verify'; userId: string; result: Result; from: number; to: number }[] = [];
    let n = 0;
    let signalledAt = 0;
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => server.process.once('exit', (code) => resolve({ code, at: Date.now() })));
    const loop = async () => {
      const started = Date.now();
      while (Date.now() - started < 20_000) {
        const i = n++;
        const enroll = i % 2 === 0;
        const userId = enroll ? `sd-${i}` : 'target';
        const from = Date.now();
        const result = await post(server.url, enroll ? ENROLL : VERIFY, enroll ? { input: { userId } } : { userId, code: bad });
        sent.push({ kind: enroll ? 'enroll' : 'verify', userId, result, from, to: Date.now() });
        if (result.kind === 'refused' && signalledAt > 0) break;
      }
    };
    const loops = Array.from({ length: 16 }, loop);
    // in full swing first: 48 answers, whatever the machine's load
    for (let t = 0; sent.length < 48 && t < 200; t++) await new Promise((r) => setTimeout(r, 50));
    signalledAt = Date.now();
    server.process.kill('SIGTERM');
    await Promise.all(loops);
    const { code, at } = await exited;

    const complete = sent.filter((s) => s.result.kind === 'complete');
    const refused = sent.filter((s) => s.result.kind === 'refused');
    const cut = sent.filter((s) => s.result.kind === 'cut');
    const served = complete.filter((s) => s.result.kind === 'complete' && s.result.status === 200);
    const turnedAway = complete.length - served.length;
    // in flight when the signal came, and served after it
    const drained = served.filter((s) => s.from < signalledAt && s.to > signalledAt).length;
    console.log(
      `measured: SIGTERM during a burst from 16 clients: exit ${code} after ${at - signalledAt} ms; ` +
        `${served.length} served (${drained} of them in flight at the signal), ${turnedAway} answered 503 (arrived while draining), ${refused.length} refused (${[...new Set(refused.map((s) => (s.result as { error: string }).error))].join(', ')}), ${cut.length} cut`,
    );
    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThan(5000 + 5000);
    expect(cut).toEqual([]);
    expect(served.length).toBeGreaterThan(32);
    expect(drained).toBeGreaterThan(0);
    expect(refused.length + turnedAway).toBeGreaterThan(0);
    for (const s of complete) {
      if (s.result.kind !== 'complete') continue;
      // served, or turned away whole before anything was done
      if (s.result.status === 200) expect(s.result.body.errors).toBeUndefined();
      else expect([s.result.status, (s.result.body.errors as { extensions: { code: string } }[])[0]!.extensions.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
    }

    // the store agrees with the responses, request by request
    const again = await startServer({ env });
    try {
      for (const s of sent.filter((x) => x.kind === 'enroll')) {
        const st = await again.gql<{ totpStatus: { status: string } | null }>(STATUS, { userId: s.userId });
        expect([s.userId, st.data?.totpStatus?.status ?? null]).toEqual([s.userId, s.result.kind === 'complete' && s.result.status === 200 ? 'PENDING' : null]);
      }
      const failures = complete.filter((s) => s.kind === 'verify' && s.result.kind === 'complete' && s.result.body.data?.verifyTotp?.outcome === 'INVALID_CODE');
      const st = await again.gql<{ totpStatus: { failedAttempts: number } }>(STATUS, { userId: 'target' });
      expect(st.data?.totpStatus.failedAttempts).toBe(failures.length);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });

  it('exits within the grace period and its slack when a request cannot finish (Redis frozen)', async () => {
    const redis = await startRedis();
    const server = await startServer({ env: { REDIS_URL: redis.url, TOTP_ENCRYPTION_KEYS: encryptionKey(), SHUTDOWN_GRACE_MS: '500' } });
    try {
      redis.process.kill('SIGSTOP'); // Redis accepts nothing more and answers nothing: requests hang until the command timeout
      const stuck = post(server.url, STATUS, { userId: 'u' });
      await new Promise((r) => setTimeout(r, 200));
      const signalled = Date.now();
      const code = await server.stop();
      const took = Date.now() - signalled;
      const result = await stuck;
      console.log(`measured: SIGTERM with a request stuck on a frozen Redis, SHUTDOWN_GRACE_MS=500: exit ${code} after ${took} ms; the request: ${result.kind === 'refused' ? 'closed without an answer after the grace period' : result.kind}`);
      expect(code).toBe(0);
      expect(took).toBeLessThan(500 + 5000);
      // either its whole error answer (the command timed out within the grace) or a closed connection
      if (result.kind === 'complete') expect(result.body.errors).toBeDefined();
    } finally {
      redis.process.kill('SIGCONT');
      await redis.stop(true);
      redis.cleanup();
    }
  });
});
