/**
 * The built server on a real Redis Cluster (REDIS_CLUSTER_NODES): users whose ids hold `{`, `}`
 * and `:` stay isolated, replays and lockouts hold; a master that dies makes its users (and
 * /readyz) unavailable in bounded time, and the service recovers by itself when it returns;
 * the eviction guard reads every master. The times measured are printed (`measured: …`).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { keys } from '@totp-service/server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type ClusterProcess } from './support/cluster.js';
import { APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { findTool } from './support/tools.js';
import { STATUS, VERIFY, activeUser, codeAt, readyz, waitFor, wrong, type VerifyResult } from './support/totp.js';

const seeds = inject('redisClusterNodes');

/** Every verify names a client address, as applications do: its counter lives on some master too. */
const verify = async (server: ServerProcess, userId: string, code: string, clientIp = `192.0.2.${userId.length % 250}`) => {
  const r = await server.gql<{ verifyTotp: VerifyResult }>(VERIFY, { userId, code, clientIp }, APP_TOKEN);
  return r.data?.verifyTotp.outcome ?? r.errors?.[0]?.extensions?.code;
};

/** The port of the master that owns a key's slot. */
function ownerPort(cluster: ClusterProcess, key: string): number {
  const cli = findTool('redis-cli')!;
  const port = String(cluster.nodes.find((n) => n.process.exitCode === null && n.process.signalCode === null)!.port);
  const slot = Number(spawnSync(cli, ['-p', port, 'cluster', 'keyslot', key], { encoding: 'utf8' }).stdout.trim());
  const slots = spawnSync(cli, ['-p', port, '--json', 'cluster', 'slots'], { encoding: 'utf8' }).stdout;
  const ranges = JSON.parse(slots) as [number, number, [string, number]][];
  return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
}

describe.skipIf(!seeds)('server on a Redis Cluster', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({
      // a wide window: codes of an activation's step stay valid across step boundaries
      env: { REDIS_CLUSTER_NODES: seeds!, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: `ce${randomBytes(3).toString('hex')}:`, TOTP_WINDOW: '3' },
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('is ready, on the cluster', async () => {
    const r = await fetch(`${server.base}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ready', store: 'cluster' });
  });

  it('keeps users with {, } and : in their ids apart, refuses replays and locks', async () => {
    const ids = ['{x}:y', '{x}', 'x', '}{', 'a:b{c}', '{b07}:u:YQ', '{b07}', ':'];
    const users = [];
    for (const id of ids) users.push({ id, ...(await activeUser(server, id)) });
    for (const u of users) {
      expect(await verify(server, u.id, codeAt(u.secret, u.step))).toBe('REPLAYED');
      // another user's valid code is nobody else's
      const other = users[(users.indexOf(u) + 1) % users.length]!;
      expect(await verify(server, u.id, codeAt(other.secret, u.step + 1))).toBe('INVALID_CODE');
    }
    for (let i = 0; i < 4; i++) await verify(server, '{x}:y', wrong(codeAt(users[0]!.secret)));
    expect(await verify(server, '{x}:y', codeAt(users[0]!.secret, users[0]!.step + 1))).toBe('LOCKED');
    expect(await verify(server, '{x}', codeAt(users[1]!.secret, users[1]!.step + 1))).toBe('ACCEPTED');
  });
});

describe.skipIf(!seeds)('a cluster master that dies', () => {
  let cluster: ClusterProcess;
  let server: ServerProcess;
  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, aof: true, nodeTimeoutMs: 3000 });
    // a wide window: the checks after the restart use codes from before the kill
    server = await startServer({ env: { REDIS_CLUSTER_NODES: cluster.seeds, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_WINDOW: '10' } });
  });
  afterAll(async () => {
    try {
      expect(await server.stop()).toBe(0);
    } finally {
      await cluster.stop();
      cluster.cleanup();
    }
  });

  it('makes its users unavailable in bounded time, and recovers when it returns', async () => {
    const users = [];
    for (let i = 0; i < 24; i++) users.push({ id: `m-${i}`, ...(await activeUser(server, `m-${i}`)) });
    const deadPort = cluster.nodes[0]!.port;
    const onDead = users.filter((u) => ownerPort(cluster, keys.userKeys(u.id).user) === deadPort);
    expect(onDead.length).toBeGreaterThan(0);

    await cluster.nodes[0]!.stop(true);
    const killed = Date.now();
    const detect = await waitFor(async () => (await readyz(server)) === 503, 5000, 20);
    const lat: number[] = [];
    for (const u of onDead) {
      const t = Date.now();
      expect(await verify(server, u.id, codeAt(u.secret, u.step + 1))).toBe('SERVICE_UNAVAILABLE');
      lat.push(Date.now() - t);
    }
    expect(Math.max(...lat)).toBeLessThan(5000);

    await cluster.restart(0);
    const back = Date.now();
    const readyMs = await waitFor(async () => (await readyz(server)) === 200, 20_000, 50);
    const u = onDead[0]!;
    const okMs = await waitFor(async () => (await server.gql(STATUS, { userId: u.id })).data != null, 20_000, 50).then(() => Date.now() - back);
    console.log(
      `measured: cluster master SIGKILLed: /readyz 503 after ${detect} ms; its users answered SERVICE_UNAVAILABLE in ` +
        `max ${Math.max(...lat)} ms (${onDead.length} users); after the master was back and the cluster ok ` +
        `(${back - killed} ms after the kill): /readyz 200 in ${readyMs} ms, its users served again in ${okMs} ms`,
    );
    // nothing it held was lost (AOF): its users' used steps are still used
    for (const d of onDead) expect(await verify(server, d.id, codeAt(d.secret, d.step))).toBe('REPLAYED');
  });

  it('reads maxmemory-policy on every master', async () => {
    const cli = findTool('redis-cli')!;
    const port = String(cluster.nodes[2]!.port);
    spawnSync(cli, ['-p', port, 'config', 'set', 'maxmemory-policy', 'allkeys-lru']);
    try {
      const r = await fetch(`${server.base}/readyz`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { reason: string }).reason).toContain(`:${port} has maxmemory-policy allkeys-lru`);
    } finally {
      spawnSync(cli, ['-p', port, 'config', 'set', 'maxmemory-policy', 'noeviction']);
    }
    await waitFor(async () => (await readyz(server)) === 200, 5000);
  });
});

describe.skipIf(!seeds)('a cluster that requires a password', () => {
  it('is reached with REDIS_PASSWORD, and refused without it', async () => {
    const cluster = await startCluster({ masters: 3, password: 'cluster-secret-pw' });
    try {
      const env = { REDIS_CLUSTER_NODES: cluster.seeds, TOTP_ENCRYPTION_KEYS: encryptionKey() };
      const server = await startServer({ env: { ...env, REDIS_PASSWORD: 'cluster-secret-pw' } });
      try {
        expect(await readyz(server)).toBe(200);
        const { secret, step } = await activeUser(server, '{pw}:user');
        expect(await verify(server, '{pw}:user', codeAt(secret, step))).toBe('REPLAYED');
        expect(server.stdout()).not.toContain('cluster-secret-pw');
      } finally {
        expect(await server.stop()).toBe(0);
      }
      await expect(startServer({ env, timeoutMs: 30_000 })).rejects.toThrow(/exited with 1[\s\S]*cannot reach Redis at 127\.0\.0\.1:\d+/);
    } finally {
      await cluster.stop();
      cluster.cleanup();
    }
  });
});

describe.skipIf(!seeds)('a cluster master that holds only the client-address counter', () => {
  let cluster: ClusterProcess;
  let server: ServerProcess;
  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, nodeTimeoutMs: 3000, requireFullCoverage: false });
    server = await startServer({
      env: { REDIS_CLUSTER_NODES: cluster.seeds, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_WINDOW: '10', TOTP_CLIENT_LIMIT: '3' },
    });
  });
  afterAll(async () => {
    try {
      expect(await server.stop()).toBe(0);
    } finally {
      await cluster.stop();
      cluster.cleanup();
    }
  });

  const verifyFrom = async (userId: string, code: string, clientIp: string) => {
    const r = await server.gql<{ verifyTotp: VerifyResult }>(VERIFY, { userId, code, clientIp }, APP_TOKEN);
    return r.data?.verifyTotp.outcome ?? r.errors?.[0]?.extensions?.code;
  };

  it('charges nobody for a request that failed because one of the two failed', async () => {
    const dead = cluster.nodes[2]!.port;
    const addressOn = (live: boolean, not?: string) => {
      for (let n = 1; n < 255; n++) {
        const ip = `203.0.113.${n}`;
        if (ip !== not && (ownerPort(cluster, keys.clientKey(ip)) === dead) !== live) return ip;
      }
      throw new Error('no address found');
    };
    const userOn = (live: boolean) => {
      for (let n = 0; ; n++) if ((ownerPort(cluster, keys.userKeys(`cl-${n}`).user) === dead) !== live) return `cl-${n}`;
    };
    const [deadIp, liveIp] = [addressOn(false), addressOn(true)];
    const liveIp2 = addressOn(true, liveIp);
    const [liveUser, deadUser] = [userOn(true), userOn(false)];
    const live = await activeUser(server, liveUser);
    const gone = await activeUser(server, deadUser);

    await cluster.nodes[2]!.stop(true);
    // the user's master answers, the address's counter cannot be counted: five times the right code
    for (let i = 0; i < 5; i++) expect(await verifyFrom(liveUser, codeAt(live.secret, live.step + 1 + i), deadIp)).toBe('SERVICE_UNAVAILABLE');
    const s = await server.gql<{ totpStatus: { failedAttempts: number; lockedUntil: string | null } }>(STATUS, { userId: liveUser });
    expect(s.data?.totpStatus).toMatchObject({ failedAttempts: 0, lockedUntil: null });
    // the other way round: the address's counter answers, the user's master does not
    for (let i = 0; i < 5; i++) expect(await verifyFrom(deadUser, codeAt(gone.secret, gone.step + 1), liveIp)).toBe('SERVICE_UNAVAILABLE');
    // neither the user nor the address was charged
    expect(await verifyFrom(liveUser, codeAt(live.secret, live.step + 6), liveIp)).toBe('ACCEPTED');
    expect(await verifyFrom(liveUser, codeAt(live.secret, live.step + 7), liveIp2)).toBe('ACCEPTED');
  });
});
