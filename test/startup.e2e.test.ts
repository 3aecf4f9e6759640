/**
 * Starting the server as a user would: the quick start on the embedded store, configuration
 * mistakes that must stop start-up with one line naming the variable, and a store that goes away.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { SERVER_MAIN, encryptionKey, startServer } from './support/server.js';
import { startRedis } from './support/redis.js';
import { requireTool } from './support/tools.js';

const redisServer = requireTool('redis-server');
const redisUrl = inject('redisUrl');

function startWith(env: Record<string, string>) {
  const r = spawnSync(process.execPath, [SERVER_MAIN], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('start-up', () => {
  it('runs on the embedded store with a fresh admin token when nothing is configured', async () => {
    const server = await startServer({ env: { TOTP_API_KEYS: undefined, REDIS_URL: undefined, TOTP_ENCRYPTION_KEYS: undefined } });
    try {
      const m = /Admin token[^\n]*\n\s*\n\s+(\S+)/.exec(server.stdout());
      expect(m).not.toBeNull();
      const token = m![1]!;
      expect(server.stdout()).toContain('store: embedded');
      expect(server.stdout()).toMatch(/data lives in this process's memory and ends with it/);
      const r = await server.gql<{ enrollTotp: { status: string } }>('mutation { enrollTotp(input: {userId: "alice"}) { status } }', {}, token);
      expect(r.data).toEqual({ enrollTotp: { status: 'PENDING' } });
      expect((await server.gql('{ totpStatus(userId: "alice") { status } }', {}, 'wrong-token-wrong-token')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      // the token is printed once: not in any log line
      const logLines = server.stdout().split('\n').filter((l) => l.startsWith('{'));
      expect(logLines.length).toBeGreaterThan(0);
      for (const line of logLines) expect(line).not.toContain(token);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it.each([
    [{ REDIS_URL: 'redis://127.0.0.1:1' }, 'TOTP_ENCRYPTION_KEYS'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ TOTP_WINDOW: 'abc' }, 'TOTP_WINDOW'],
    [{ TOTP_MAX_FAILURES: '0' }, 'TOTP_MAX_FAILURES'],
    [{ PORT: '70000' }, 'PORT'],
    [{ TOTP_API_KEYS: 'ops:root:abcdefghijklmnopqrstu' }, 'TOTP_API_KEYS'],
    [{ TOTP_API_KEYS: 'ops:admin:short' }, 'TOTP_API_KEYS'],
    [{ TOTP_ENCRYPTION_KEYS: 'k1:c2hvcnQ=' }, 'TOTP_ENCRYPTION_KEYS'],
    [{ TOTP_KEY_PREFIX: 'a{b}' }, 'TOTP_KEY_PREFIX'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TOTP_LOCKOUT_SECONDS: '600', TOTP_LOCKOUT_MAX_SECONDS: '60' }, 'TOTP_LOCKOUT_MAX_SECONDS'],
    [{ TOTP_SECRET_CACHE_SIZE: '-1' }, 'TOTP_SECRET_CACHE_SIZE'],
    [{ TOTP_SECRET_CACHE_SECONDS: '0' }, 'TOTP_SECRET_CACHE_SECONDS'],
    [{ TOTP_DIRECT_VERIFY: 'maybe' }, 'TOTP_DIRECT_VERIFY'],
  ])('refuses to start on %j, naming %s', (env, variable) => {
    const r = startWith(env);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    expect(r.stdout).toBe('');
  });

  it('never prints a secret from a malformed setting', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    const r = startWith({ TOTP_ENCRYPTION_KEYS: `${key}:k1` });
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain(key);
    const t = startWith({ TOTP_API_KEYS: 'ops:superuser:a-very-secret-token-value' });
    expect(t.stderr).not.toContain('a-very-secret-token-value');
  });

  it('exits with a clear line when Redis cannot be reached', () => {
    const r = startWith({ REDIS_URL: 'redis://127.0.0.1:1', TOTP_ENCRYPTION_KEYS: encryptionKey() });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    // in plain words: the address and what the connection said, not an internal queue's state
    expect(r.stderr).toMatch(/ECONNREFUSED 127\.0\.0\.1:1/);
    expect(r.stderr).not.toMatch(/Stream isn't writeable|enableOfflineQueue/);
  });

  it('says a bare token is not a name:role:token entry, without repeating it', () => {
    const token = 'bare-token-0123456789abcdef-secret';
    const r = startWith({ TOTP_API_KEYS: token });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('totp-service: configuration error: TOTP_API_KEYS: entry 1 is not name:role:token (e.g. ops:admin:<token>; totp-admin keygen --name ops --role admin makes one)');
    expect(r.stderr).not.toContain(token);
  });

  it('reads settings from --env-file (npm start passes .env), the environment winning over it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'envfile-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'TOTP_ISSUER=From File\nTOTP_WINDOW=0\nTOTP_API_KEYS=ops:admin:from-file-token-0123456789\n');
    const r = spawnSync(process.execPath, [SERVER_MAIN, '--env-file', file], {
      env: { PATH: process.env.PATH, PORT: '0', TOTP_WINDOW: '11' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    // TOTP_WINDOW from the environment (out of range) wins over the file's
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/TOTP_WINDOW: must be a whole number from 0 to 10 \(got "11"\)/);
    const server = await startServer({ args: ['--env-file', file], env: { TOTP_API_KEYS: undefined, TOTP_ISSUER: undefined, REDIS_URL: undefined } });
    try {
      const e = await server.gql<{ enrollTotp: { issuer: string } }>('mutation { enrollTotp(input: {userId: "f"}) { issuer } }', {}, 'from-file-token-0123456789');
      expect(e.data).toEqual({ enrollTotp: { issuer: 'From File' } });
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!redisServer || !redisUrl)('a store that goes away', () => {
  it('answers SERVICE_UNAVAILABLE and 503 on /readyz, never an acceptance, and recovers', async () => {
    const redis = await startRedis();
    const server = await startServer({ env: { REDIS_URL: redis.url, TOTP_ENCRYPTION_KEYS: encryptionKey() } });
    try {
      await redis.stop(true);
      const started = Date.now();
      const r = await server.gql('mutation { verifyTotp(userId: "u", code: "123456") { outcome } }');
      expect(Date.now() - started).toBeLessThan(3000);
      expect(r.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(r.data).toBeNull();
      expect((await fetch(`${server.base}/readyz`)).status).toBe(503);
      expect((await fetch(`${server.base}/healthz`)).status).toBe(200);

      const back = await startRedis({ port: redis.port, dir: redis.dir });
      try {
        let ready = 0;
        for (let i = 0; i < 50 && ready !== 200; i++) {
          await new Promise((res) => setTimeout(res, 100));
          ready = (await fetch(`${server.base}/readyz`)).status;
        }
        expect(ready).toBe(200);
        const again = await server.gql<{ verifyTotp: { outcome: string } }>('mutation { verifyTotp(userId: "u", code: "123456") { outcome } }');
        expect(again.data?.verifyTotp.outcome).toBe('NOT_ENROLLED');
      } finally {
        await back.stop(true);
      }
    } finally {
      await server.stop();
      redis.cleanup();
    }
  });
});
