/**
 * Eviction and persistence guards, with real redis-servers started with the settings in question:
 * a maxmemory-policy that can evict the service's keys stops start-up (one line, exit 1) and fails
 * /readyz, unless TOTP_ALLOW_EVICTION=true; persistence off, or CONFIG refused, is a warning.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.js';
import { SERVER_MAIN, TEST_API_KEYS, encryptionKey, startServer } from './support/server.js';
import { findTool, requireTool } from './support/tools.js';
import { readyz, waitFor } from './support/totp.js';

const redisServer = requireTool('redis-server');

function startWith(env: Record<string, string>) {
  const r = spawnSync(process.execPath, [SERVER_MAIN], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', TOTP_API_KEYS: TEST_API_KEYS, TOTP_ENCRYPTION_KEYS: encryptionKey(), ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

function redisCli(port: number, ...args: string[]): string {
  return spawnSync(findTool('redis-cli')!, ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

/** The JSON log lines a server wrote. */
const logLines = (out: string) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });

describe.skipIf(!redisServer)('eviction and persistence guards', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis({ aof: true });
  });
  afterAll(async () => {
    await redis.stop(true);
    redis.cleanup();
  });

  it.each(['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'])(
    'refuses to start on maxmemory-policy %s, in one line naming the override',
    (policy) => {
      expect(redisCli(redis.port, 'config', 'set', 'maxmemory-policy', policy)).toBe('OK');
      try {
        const r = startWith({ REDIS_URL: redis.url });
        expect(r.status).toBe(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`maxmemory-policy ${policy}`);
        expect(lines[0]).toContain('noeviction');
        expect(lines[0]).toContain('TOTP_ALLOW_EVICTION=true');
        expect(r.stdout).not.toContain('ready at');
      } finally {
        redisCli(redis.port, 'config', 'set', 'maxmemory-policy', 'noeviction');
      }
    },
  );

  it('starts on an evicting policy when TOTP_ALLOW_EVICTION=true, with a warning, and stays ready', async () => {
    redisCli(redis.port, 'config', 'set', 'maxmemory-policy', 'volatile-lru');
    try {
      const server = await startServer({ env: { REDIS_URL: redis.url, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_ALLOW_EVICTION: 'true' } });
      try {
        const warnings = logLines(server.stdout()).filter((l) => l.level === 40).map((l) => l.msg);
        expect(warnings.some((m) => m.includes('maxmemory-policy volatile-lru') && m.includes('accepted by TOTP_ALLOW_EVICTION=true'))).toBe(true);
        expect(await readyz(server)).toBe(200);
      } finally {
        expect(await server.stop()).toBe(0);
      }
    } finally {
      redisCli(redis.port, 'config', 'set', 'maxmemory-policy', 'noeviction');
    }
  });

  it('refuses a TOTP_ALLOW_EVICTION that is not a boolean', () => {
    const r = startWith({ REDIS_URL: redis.url, TOTP_ALLOW_EVICTION: 'maybe' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('TOTP_ALLOW_EVICTION')]);
  });

  it('fails /readyz while the policy can evict, and is ready again once it cannot', async () => {
    const server = await startServer({ env: { REDIS_URL: redis.url, TOTP_ENCRYPTION_KEYS: encryptionKey() } });
    try {
      expect(await readyz(server)).toBe(200);
      redisCli(redis.port, 'config', 'set', 'maxmemory-policy', 'allkeys-lru');
      const r = await fetch(`${server.base}/readyz`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { reason: string }).reason).toContain('maxmemory-policy allkeys-lru');
      redisCli(redis.port, 'config', 'set', 'maxmemory-policy', 'noeviction');
      await waitFor(async () => (await readyz(server)) === 200, 5000);
    } finally {
      redisCli(redis.port, 'config', 'set', 'maxmemory-policy', 'noeviction');
      expect(await server.stop()).toBe(0);
    }
  });

  it('warns when Redis persists nothing, and not when it keeps an AOF', async () => {
    const bare = await startRedis({ aof: false });
    try {
      const withAof = await startServer({ env: { REDIS_URL: redis.url, TOTP_ENCRYPTION_KEYS: encryptionKey() } });
      const without = await startServer({ env: { REDIS_URL: bare.url, TOTP_ENCRYPTION_KEYS: encryptionKey() } });
      try {
        const persists = (out: string) => logLines(out).some((l) => l.level === 40 && l.msg.includes('persists nothing'));
        expect(persists(without.stdout())).toBe(true);
        expect(persists(withAof.stdout())).toBe(false);
      } finally {
        expect(await Promise.all([withAof.stop(), without.stop()])).toEqual([0, 0]);
      }
    } finally {
      await bare.stop(true);
      bare.cleanup();
    }
  });

  it('goes on with a warning where CONFIG is not allowed (managed Redis)', async () => {
    const managed = await startRedis({ aof: true, extraArgs: ['--rename-command', 'CONFIG', '""'] });
    try {
      const server = await startServer({ env: { REDIS_URL: managed.url, TOTP_ENCRYPTION_KEYS: encryptionKey() } });
      try {
        const warnings = logLines(server.stdout()).filter((l) => l.level === 40).map((l) => l.msg);
        expect(warnings.some((m) => m.includes('does not allow CONFIG GET') && m.includes('noeviction'))).toBe(true);
        expect(await readyz(server)).toBe(200);
      } finally {
        expect(await server.stop()).toBe(0);
      }
    } finally {
      await managed.stop(true);
      managed.cleanup();
    }
  });
});
