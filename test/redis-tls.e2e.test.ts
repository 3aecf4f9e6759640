/**
 * TLS to Redis, against real TLS-only redis-servers (`--port 0 --tls-port`) with certificates made
 * by openssl: one Redis over rediss://, mutual TLS, a Cluster and a Sentinel (REDIS_TLS=true).
 * The right CA serves; a wrong CA, a wrong name, a missing or foreign client certificate stop
 * the start at once (no waiting out the connect retries) with one line saying what to set.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SERVER_MAIN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { makeCerts, startTlsRedis, startTlsSentinel, type Certs, type TlsProcesses } from './support/tls.js';
import { activeUser, readyz } from './support/totp.js';
import { requireTool } from './support/tools.js';

const haveRedis = requireTool('redis-server') !== null && requireTool('redis-cli') !== null;
const plainRedisUrl = inject('redisUrl');

/** Start the built server and expect it to refuse: its exit status, its stderr, how long it took. */
function refusal(env: Record<string, string>): { status: number | null; stderr: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [SERVER_MAIN], {
    env: { PATH: process.env.PATH, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', TOTP_ENCRYPTION_KEYS: encryptionKey(), ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr.trim(), ms: Date.now() - started };
}

/** The server serves over the connection `env` describes: ready, and a user enrolled and activated. */
async function serves(env: Record<string, string>, userIds = ['tls-user']): Promise<void> {
  let server: ServerProcess | undefined;
  try {
    // a prefix of its own: several tests share a Redis
    server = await startServer({ env: { TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: `tls${randomBytes(3).toString('hex')}:`, ...env } });
    expect(await readyz(server)).toBe(200);
    for (const userId of userIds) await activeUser(server, userId);
  } finally {
    expect(await server?.stop()).toBe(0);
  }
}

describe.skipIf(!haveRedis)('Redis over TLS', () => {
  let certs: Certs;
  beforeAll(() => {
    certs = makeCerts();
  });
  afterAll(() => rmSync(certs.dir, { recursive: true, force: true }));

  describe('one Redis, rediss://', () => {
    let redis: TlsProcesses;
    let url: string;
    beforeAll(async () => {
      redis = await startTlsRedis(certs, { clientCerts: false });
      url = `rediss://127.0.0.1:${redis.ports[0]}`;
    });
    afterAll(() => redis?.stop());

    it('serves with the CA of REDIS_TLS_CA_FILE', async () => {
      await serves({ REDIS_URL: url, REDIS_TLS_CA_FILE: certs.ca });
    });

    it('refuses a server whose certificate a wrong CA did not sign, at once, in one line naming REDIS_TLS_CA_FILE', () => {
      const r = refusal({ REDIS_URL: url, REDIS_TLS_CA_FILE: certs.wrongCa });
      expect(r.status).toBe(1);
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^totp-service: cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+\/?: TLS: the Redis server's certificate is not signed by a CA in REDIS_TLS_CA_FILE/);
      expect(r.ms).toBeLessThan(5000);
    });

    it("without REDIS_TLS_CA_FILE, Node's CAs do not know a private CA: the line says to set it", () => {
      const r = refusal({ REDIS_URL: url });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/not signed by a CA Node trusts \(set REDIS_TLS_CA_FILE/);
    });

    it('checks the name: REDIS_TLS_SERVERNAME redis.test serves, other.test is refused naming it', async () => {
      await serves({ REDIS_URL: url, REDIS_TLS_CA_FILE: certs.ca, REDIS_TLS_SERVERNAME: 'redis.test' });
      const r = refusal({ REDIS_URL: url, REDIS_TLS_CA_FILE: certs.ca, REDIS_TLS_SERVERNAME: 'other.test' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/TLS: the Redis server's certificate is not for the name expected \(REDIS_TLS_SERVERNAME\)/);
    });

    it.skipIf(!plainRedisUrl)('says so when the port does not speak TLS', () => {
      const r = refusal({ REDIS_URL: plainRedisUrl!.replace(/^redis:/, 'rediss:'), REDIS_TLS_CA_FILE: certs.ca });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/TLS: no TLS handshake: does that port speak TLS\?/);
    });
  });

  describe('mutual TLS (tls-auth-clients yes)', () => {
    let redis: TlsProcesses;
    let url: string;
    beforeAll(async () => {
      redis = await startTlsRedis(certs, { clientCerts: true });
      url = `rediss://127.0.0.1:${redis.ports[0]}`;
    });
    afterAll(() => redis?.stop());

    it('serves with the client certificate of REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE', async () => {
      await serves({ REDIS_URL: url, REDIS_TLS_CA_FILE: certs.ca, REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.clientKey });
    });

    it('without a client certificate: one line naming REDIS_TLS_CERT_FILE', () => {
      const r = refusal({ REDIS_URL: url, REDIS_TLS_CA_FILE: certs.ca });
      expect(r.status).toBe(1);
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/TLS: the Redis server requires a client certificate: set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE/);
    });

    it('with a client certificate of another CA: refused, naming REDIS_TLS_CERT_FILE', () => {
      const r = refusal({ REDIS_URL: url, REDIS_TLS_CA_FILE: certs.ca, REDIS_TLS_CERT_FILE: certs.strangerCert, REDIS_TLS_KEY_FILE: certs.strangerKey });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/TLS: the Redis server refused the client certificate of REDIS_TLS_CERT_FILE/);
    });
  });

  describe('a Cluster (REDIS_TLS=true, mutual TLS)', () => {
    let cluster: TlsProcesses;
    let nodes: string;
    beforeAll(async () => {
      cluster = await startTlsRedis(certs, { clientCerts: true, masters: 3 });
      nodes = cluster.ports.map((p) => `127.0.0.1:${p}`).join(',');
    }, 60_000);
    afterAll(() => cluster?.stop());

    it('serves users on every master', async () => {
      const tls = { REDIS_TLS: 'true', REDIS_TLS_CA_FILE: certs.ca, REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.clientKey };
      await serves({ REDIS_CLUSTER_NODES: nodes, ...tls }, ['alice', 'bob', 'carol', '{x}:y', '用户-42']);
    });

    it('refuses a wrong CA in one line', () => {
      const r = refusal({ REDIS_CLUSTER_NODES: nodes, REDIS_TLS: 'true', REDIS_TLS_CA_FILE: certs.wrongCa, REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.clientKey });
      expect(r.status).toBe(1);
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/TLS: the Redis server's certificate is not signed by a CA in REDIS_TLS_CA_FILE/);
    });
  });

  describe('Sentinel (REDIS_TLS=true: the Sentinels and the master, mutual TLS)', () => {
    let sentinel: TlsProcesses;
    beforeAll(async () => {
      sentinel = await startTlsSentinel(certs, 'tlsmaster', { clientCerts: true });
    }, 60_000);
    afterAll(() => sentinel?.stop());

    it('serves through the master the Sentinel names', async () => {
      await serves({
        REDIS_SENTINELS: `127.0.0.1:${sentinel.ports[1]}`,
        REDIS_SENTINEL_MASTER: 'tlsmaster',
        REDIS_TLS: 'true',
        REDIS_TLS_CA_FILE: certs.ca,
        REDIS_TLS_CERT_FILE: certs.clientCert,
        REDIS_TLS_KEY_FILE: certs.clientKey,
      });
    });

    it('refuses a wrong CA in one line', () => {
      const r = refusal({
        REDIS_SENTINELS: `127.0.0.1:${sentinel.ports[1]}`,
        REDIS_SENTINEL_MASTER: 'tlsmaster',
        REDIS_TLS: 'true',
        REDIS_TLS_CA_FILE: certs.wrongCa,
        REDIS_TLS_CERT_FILE: certs.clientCert,
        REDIS_TLS_KEY_FILE: certs.clientKey,
      });
      expect(r.status).toBe(1);
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/TLS: the Redis server's certificate is not signed by a CA in REDIS_TLS_CA_FILE/);
    });
  });
});
