/**
 * 10,000 factors moved with totp-admin (issue 13): a 10,000-row CSV imported into server A (the
 * run's Redis), exported from A with --identity (ten pages of 1,000 users), and the export
 * imported into server B (a redis-server of its own, another key). The rates are printed; the
 * bounds are loose (a shared CI machine), the counts exact, and a sample verifies on B with
 * oathtool's codes. Each step is a process, as an operator runs it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBase32 } from '@totp-service/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { assertBuilt, json, runCli, type RunResult } from '../packages/cli/test/support/cli.js';
import { serverBuilt, startServer, type ServerProcess } from '../packages/cli/test/support/server.js';
import type {} from './support/global-setup.js';
import { ageIdentity, oathCode, type AgeIdentity } from './support/migrate.js';
import { startRedis, type RedisProcess } from './support/redis.js';
import { requireTool } from './support/tools.js';

const ageKeygen = requireTool('age-keygen');
const oathtool = requireTool('oathtool');
const redisUrl = inject('redisUrl');
const ADMIN = `admin-${randomBytes(16).toString('hex')}`;
const run = randomBytes(3).toString('hex');
const COUNT = 10_000;

let dir: string;
let ops: AgeIdentity;
let redisB: RedisProcess;
let serverA: ServerProcess;
let serverB: ServerProcess;

const on = (server: ServerProcess) => (args: readonly string[]): Promise<RunResult> =>
  runCli(args, { env: { TOTP_SERVER_URL: server.url, TOTP_TOKEN: ADMIN }, timeoutMs: 600_000 });

/** Run `step` and print its rate; returns its result. */
async function timed(what: string, step: () => Promise<RunResult>): Promise<RunResult> {
  const started = performance.now();
  const result = await step();
  const seconds = (performance.now() - started) / 1000;
  console.log(`${what}: ${COUNT} factors in ${seconds.toFixed(1)} s, ${Math.round(COUNT / seconds)} factors/s`);
  return result;
}

beforeAll(async () => {
  assertBuilt();
  if (!serverBuilt()) throw new Error('packages/server is not built: run `npx turbo run build` first');
  if (!redisUrl) throw new Error('no Redis for the end-to-end tests (globalSetup provides none): install redis-server');
  if (!ageKeygen) return;
  dir = mkdtempSync(join(tmpdir(), 'totp-cli-scale-'));
  ops = ageIdentity(ageKeygen, dir, 'ops');
  redisB = await startRedis();
  [serverA, serverB] = await Promise.all([
    startServer({ REDIS_URL: redisUrl, TOTP_KEY_PREFIX: `cli-scale-${run}:`, TOTP_API_KEYS: `ops:admin:${ADMIN}`, TOTP_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`, TOTP_EXPORT_RECIPIENTS: ops.recipient }),
    startServer({ REDIS_URL: redisB.url, TOTP_API_KEYS: `ops:admin:${ADMIN}`, TOTP_ENCRYPTION_KEYS: `k2:${randomBytes(32).toString('base64')}` }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([serverA?.stop(), serverB?.stop()]);
  await redisB?.stop();
  redisB?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!ageKeygen || !oathtool)(`${COUNT} factors`, () => {
  it('import CSV into A, export from A, import the export into B: every factor arrives', async () => {
    const secrets = Array.from({ length: COUNT }, () => encodeBase32(randomBytes(20)));
    const csv = join(dir, 'users.csv');
    writeFileSync(csv, ['userId,secret,issuer,deviceName', ...secrets.map((s, i) => `u${i}-${run},${s},Scale,phone`)].join('\n'));

    const imported = await timed('import --format csv into A', () => on(serverA)(['import', csv]));
    expect(imported.code, imported.stderr.slice(0, 2000)).toBe(0);
    expect(imported.stdout.trim().split('\n').at(-1)).toBe(`${COUNT} rows: ${COUNT} imported, 0 failed.`);

    const file = join(dir, 'factors.json');
    const exported = await timed('export --identity (json) from A', () => on(serverA)(['export', '--identity', ops.file, '--out', file, '--json']));
    expect(exported.code, exported.stderr).toBe(0);
    expect(json(exported)).toMatchObject({ format: 'json', factors: COUNT, pages: expect.any(Number) as number });
    const { factors } = JSON.parse(readFileSync(file, 'utf8')) as { factors: { userId: string; secret: string }[] };
    expect(new Set(factors.map((f) => f.userId)).size).toBe(COUNT);

    const moved = await timed('import --format json into B', () => on(serverB)(['import', file, '--format', 'json']));
    expect(moved.code, moved.stderr.slice(0, 2000)).toBe(0);
    expect(moved.stdout.trim().split('\n').at(-1)).toBe(`${COUNT} rows: ${COUNT} imported, 0 failed.`);

    for (const i of [0, 4_999, COUNT - 1]) {
      const result = json<{ outcome: string }>(await on(serverB)(['verify', `u${i}-${run}`, oathCode(oathtool!, secrets[i]!), '--json']));
      expect(result.outcome, `u${i}`).toBe('ACCEPTED');
    }
  }, 900_000);
});
