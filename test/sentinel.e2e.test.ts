/**
 * Redis Sentinel (REDIS_SENTINELS): the server finds the master through a real Sentinel, and
 * follows a failover by itself: when the master dies, the Sentinel promotes the replica and the
 * server serves again, with the replay bookkeeping that had reached the replica. The times
 * measured are printed (`measured: …`).
 */
import { describe, expect, it } from 'vitest';
import { startSentinel } from './support/sentinel.js';
import { APP_TOKEN, encryptionKey, startServer } from './support/server.js';
import { requireTool } from './support/tools.js';
import { STATUS, VERIFY, activeUser, codeAt, readyz, waitFor } from './support/totp.js';

const redisServer = requireTool('redis-server');

describe.skipIf(!redisServer)('Redis Sentinel', () => {
  it('serves through the Sentinel and follows a failover by itself', async () => {
    const s = await startSentinel();
    const server = await startServer({ env: { REDIS_SENTINELS: s.sentinels, REDIS_SENTINEL_MASTER: s.masterName, TOTP_ENCRYPTION_KEYS: encryptionKey() } });
    try {
      expect(await readyz(server)).toBe(200);
      const { secret, step } = await activeUser(server, 'sentinel-user');
      // the write reached the replica before the master dies (replication is asynchronous)
      await new Promise((r) => setTimeout(r, 300));

      await s.master.stop(true);
      const killed = Date.now();
      const promoted = await waitFor(async () => s.currentMasterPort() === s.replica.port, 30_000, 100);
      const served = await waitFor(async () => (await server.gql(STATUS, { userId: 'sentinel-user' }, APP_TOKEN)).data != null, 30_000, 50).then(() => Date.now() - killed);
      // ioredis may reconnect once more when the Sentinel announces the switch (failoverDetector)
      const ready = await waitFor(async () => (await readyz(server)) === 200, 10_000, 50).then(() => Date.now() - killed);
      console.log(
        `measured: Sentinel failover: replica promoted ${promoted} ms after the master was SIGKILLed (down-after 1000 ms); ` +
          `server serving again ${served} ms after the kill, /readyz 200 at ${ready} ms`,
      );

      const replay = await server.gql<{ verifyTotp: { outcome: string } }>(VERIFY, { userId: 'sentinel-user', code: codeAt(secret, step) }, APP_TOKEN);
      expect(replay.data?.verifyTotp.outcome).toBe('REPLAYED');
      const next = await server.gql<{ verifyTotp: { outcome: string } }>(VERIFY, { userId: 'sentinel-user', code: codeAt(secret, step + 1) }, APP_TOKEN);
      expect(next.data?.verifyTotp.outcome).toBe('ACCEPTED');
    } finally {
      const code = await server.stop();
      await s.stop();
      expect(code).toBe(0);
    }
  });

  it('refuses REDIS_SENTINELS together with REDIS_URL', async () => {
    await expect(startServer({ env: { REDIS_SENTINELS: '127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1', TOTP_ENCRYPTION_KEYS: encryptionKey() } })).rejects.toThrow(
      /REDIS_SENTINELS: set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS/,
    );
  });
});
