/**
 * `totp-admin keys` and `totp-admin doctor`, the built CLI as a process against the built server as
 * a process on the run's Redis: the keys and their counts as a table, JSON and advice; doctor's four
 * lines on a healthy server (exit 0), after a restart with a newly made key (the keys line names the
 * missing key and its count, exit 1), with an app token (keys not checked), a wrong token, no
 * token, and no server at all; and the command its advice names (rekey) runs as written.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { assertBuilt, json, runCli, stderrLines, type RunResult } from '../packages/cli/test/support/cli.js';
import { serverBuilt, startServer, type ServerProcess } from '../packages/cli/test/support/server.js';
import type {} from './support/global-setup.js';
import { codeAt } from './support/totp.js';

const redisUrl = inject('redisUrl');
const ADMIN = `admin-${randomBytes(16).toString('hex')}`;
const APP = `app-${randomBytes(16).toString('hex')}`;
const run = randomBytes(3).toString('hex');
const k1 = `k1:${randomBytes(32).toString('base64')}`;
const k2 = `k2:${randomBytes(32).toString('base64')}`;

interface Check {
  check: string;
  status: string;
  detail: string;
}

const servers: ServerProcess[] = [];

async function serve(keys: string, extra: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer({
    REDIS_URL: redisUrl!,
    TOTP_KEY_PREFIX: `cli-keys-${run}:`,
    TOTP_API_KEYS: `ops:admin:${ADMIN},web:app:${APP}`,
    TOTP_ENCRYPTION_KEYS: keys,
    ...extra,
  });
  servers.push(server);
  return server;
}

const cli = (server: ServerProcess | string, token: string | undefined, args: readonly string[]): Promise<RunResult> =>
  runCli(args, { env: { TOTP_SERVER_URL: typeof server === 'string' ? server : server.url, ...(token ? { TOTP_TOKEN: token } : {}) } });

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  assertBuilt();
  if (!serverBuilt()) throw new Error('packages/server is not built: run `npx turbo run build` first');
  if (!redisUrl) throw new Error('no Redis for the end-to-end tests (globalSetup provides none): install redis-server');
  // Three ACTIVE users: the counts are of stored records that last (a PENDING secret lapses by itself).
  const first = await serve(k1);
  for (const user of ['ann', 'bob', 'cy']) {
    const enrolled = json<{ secret: string }>(await cli(first, ADMIN, ['enroll', user, '--json']));
    expect((await cli(first, ADMIN, ['verify', user, codeAt(enrolled.secret)])).code).toBe(0);
  }
  await first.stop();
});

afterAll(async () => {
  for (const server of servers) await server.stop();
});

describe('keys and doctor', () => {
  it('on a healthy server: keys lists k1 sealing 3 values, doctor prints four ok lines and exits 0', async () => {
    const server = await serve(k1);
    const keys = await cli(server, ADMIN, ['keys']);
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^KEY\s+SEALS\s+CONFIGURED\s+ACTIVE$/), expect.stringMatching(/^k1\s+3\s+yes\s+yes$/)]);
    expect(json(await cli(server, ADMIN, ['keys', '--json']))).toEqual({ keys: [{ keyId: 'k1', sealedValues: 3, configured: true, active: true }] });

    const doctor = await cli(server, ADMIN, ['doctor']);
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(doctor.stderr).toBe('');
    expect(doctor.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^ok\s+server\s+http:\/\/127\.0\.0\.1:\d+ is up$/),
      expect.stringMatching(/^ok\s+token\s+valid, role admin$/),
      expect.stringMatching(/^ok\s+store\s+redis answers$/),
      expect.stringMatching(/^ok\s+keys\s+every sealed value has its key \(3 values; k1 is active\)$/),
    ]);
    expect(json(await cli(server, ADMIN, ['doctor', '--json']))).toMatchObject({ ok: true, checks: [{ check: 'server', status: 'ok' }, { check: 'token' }, { check: 'store' }, { check: 'keys' }] });
    await server.stop();
  });

  it('restarted with a newly made key (TOTP_ALLOW_MISSING_KEYS=true): keys and doctor name the missing key and its count', async () => {
    const server = await serve(k2, { TOTP_ALLOW_MISSING_KEYS: 'true' });
    const keys = await cli(server, ADMIN, ['keys']);
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.stdout).toMatch(/^k1\s+3\s+NO\s*$/m);
    expect(keys.stdout).toContain('key "k1" seals 3 values but is not in TOTP_ENCRYPTION_KEYS: the users whose values it seals cannot verify');

    const doctor = await cli(server, ADMIN, ['doctor']);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^FAIL\s+keys\s+key "k1" seals 3 values but is not in TOTP_ENCRYPTION_KEYS$/m);
    expect(stderrLines(doctor)).toEqual(['totp-admin: 1 check did not pass: keys']);
    const doc = json<{ ok: boolean; checks: Check[] }>(await cli(server, ADMIN, ['doctor', '--json']));
    expect(doc.ok).toBe(false);
    expect(doc.checks.map((c) => `${c.check}:${c.status}`)).toEqual(['server:ok', 'token:ok', 'store:ok', 'keys:fail']);
    await server.stop();
  });

  it('with both keys, k2 first: keys advises the rekey it names, which runs as written; then k1 can be removed', async () => {
    const server = await serve(`${k2},${k1}`);
    const before = await cli(server, ADMIN, ['keys']);
    expect(before.stdout).toContain('key "k1" still seals 3 values: `totp-admin rekey` moves them to k2.');
    expect((await cli(server, ADMIN, ['rekey'])).code).toBe(0);
    const after = await cli(server, ADMIN, ['keys']);
    expect(after.stdout).toMatch(/^k2\s+3\s+yes\s+yes$/m);
    expect(after.stdout).toContain('key "k1" seals nothing: it can be removed from TOTP_ENCRYPTION_KEYS.');
    await server.stop();
  });

  it('an app token: valid, role app, keys not checked (exit 1); keys itself is FORBIDDEN', async () => {
    const server = await serve(k2);
    const doctor = await cli(server, APP, ['doctor']);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^ok\s+token\s+valid, role app/m);
    expect(doctor.stdout).toMatch(/^--\s+keys\s+not checked: needs an admin token$/m);
    const keys = await cli(server, APP, ['keys']);
    expect(keys.code).toBe(1);
    expect(stderrLines(keys)[0]).toMatch(/FORBIDDEN/);
    await server.stop();
  });

  it('a wrong token and no token fail the token check; the server and the store are still checked', async () => {
    const server = await serve(k2);
    for (const token of ['not-a-token', undefined]) {
      const doc = json<{ checks: Check[] }>(await cli(server, token, ['doctor', '--json']));
      expect(doc.checks.map((c) => `${c.check}:${c.status}`)).toEqual(['server:ok', 'token:fail', 'store:ok', 'keys:skipped']);
    }
    const text = await cli(server, undefined, ['doctor']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^FAIL\s+token\s+no API token: pass --token or set TOTP_TOKEN$/m);
    await server.stop();
  });

  it('no server: the server line says why (ECONNREFUSED), the other three are not checked', async () => {
    const url = `http://127.0.0.1:${await deadPort()}/graphql`;
    const doctor = await cli(url, ADMIN, ['doctor']);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^FAIL\s+server\s+cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/),
      expect.stringMatching(/^--\s+token\s+not checked: the server did not answer$/),
      expect.stringMatching(/^--\s+store\s+not checked/),
      expect.stringMatching(/^--\s+keys\s+not checked/),
    ]);
    expect(stderrLines(doctor)).toEqual(['totp-admin: 4 checks did not pass: server, token, store, keys']);
  });
});
