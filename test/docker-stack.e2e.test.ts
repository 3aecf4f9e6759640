/**
 * The Dockerfile and docker-compose.yml, built and run on a real Docker engine, the way a deployer
 * runs them: a copy of the repository with a .env made from .env.example, docker-compose from a
 * fresh shell (nothing exported). Base images come from local stand-ins built under their names
 * (test/support/docker-standins.ts). Over the published port: an enrollment and a verify with
 * oathtool's code; `totp-admin` inside the container; Redis replaced by a new container on the
 * same volume (user, used step and lockout survive); `stop` during a burst of verifies (every
 * answer whole, exit 0 within the grace period); the cluster profile; `down -v` leaves nothing.
 * Runs as its own vitest project (`npm run test:docker`); the phases' times are printed at the end.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComposeProject, dockerTools, ensureEngine, mustRun, run, type Engine } from './support/docker.js';
import { ensureStandIns, namedBaseImages } from './support/docker-standins.js';
import { burst, endpoint, type Endpoint } from './support/docker-http.js';
import { freePort } from './support/redis.js';
import { codeAt, stepOf, wrong } from './support/totp.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tools = dockerTools();
const IMAGE = 'totp-service:e2e';
const MINUTES = 60_000;

/** .env.example with `values` set (a commented-out line is uncommented), as a deployer fills it. */
function fillEnv(example: string, values: Record<string, string>): string {
  let text = example;
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`^#?\\s*${key}=.*$`, 'm');
    text = line.test(text) ? text.replace(line, `${key}=${value}`) : `${text}\n${key}=${value}\n`;
  }
  return text;
}

/** The files of the working tree that git would commit (tracked or new, not ignored). */
function copyTree(to: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(ROOT, file), join(to, file), { force: true, errorOnExist: false });
  }
}

async function oathtool(secret: string): Promise<string> {
  return (await mustRun(tools!.oathtool, ['--totp', '-b', secret])).stdout.trim();
}

describe.skipIf(!tools)('docker compose, built and run', () => {
  const times: Record<string, number> = {};
  const adminToken = randomBytes(24).toString('hex');
  const appToken = randomBytes(24).toString('hex');
  const encryptionKey = `k1:${randomBytes(32).toString('base64')}`;
  const redisPassword = randomBytes(32).toString('hex');
  let engine: Engine | undefined;
  let dir: string | undefined;
  let compose: ComposeProject;
  let totp: Endpoint;
  let cluster: Endpoint;
  const timed = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      times[phase] = (times[phase] ?? 0) + Date.now() - started;
    }
  };

  beforeAll(async () => {
    engine = await timed('engine', () => ensureEngine(tools!));
    const names = namedBaseImages(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'));
    const standIns = await timed('stand-in images', () => ensureStandIns(tools!, names));
    console.log(`stand-in base images: ${Object.entries(standIns.images).map(([n, s]) => `${n} (${s})`).join(', ')}`);
    dir = mkdtempSync(join(tmpdir(), 'totp-compose-'));
    copyTree(dir);
    const [port, clusterPort] = [await freePort(), await freePort()];
    writeFileSync(
      join(dir, '.env'),
      fillEnv(readFileSync(join(dir, '.env.example'), 'utf8'), {
        TOTP_ENCRYPTION_KEYS: encryptionKey,
        TOTP_API_KEYS: `ops:admin:${adminToken},shop:app:${appToken}`,
        REDIS_PASSWORD: redisPassword,
        TOTP_PUBLISH: `127.0.0.1:${port}`,
        TOTP_CLUSTER_PUBLISH: `127.0.0.1:${clusterPort}`,
        TOTP_IMAGE: IMAGE,
        // settings from .env reach the server: a lockout of 900 s shows in retryAfterSeconds
        TOTP_LOCKOUT_SECONDS: '900',
        TOTP_ISSUER: 'Compose Test',
      }),
    );
    compose = new ComposeProject(tools!, dir, `totpe2e${randomBytes(4).toString('hex')}`);
    totp = endpoint(port, adminToken, appToken);
    cluster = endpoint(clusterPort, adminToken, appToken);
  }, 30 * MINUTES);

  afterAll(async () => {
    if (compose) {
      const r = await compose.run(['--profile', 'cluster', 'down', '-v', '--remove-orphans', '-t', '5']);
      if (r.code !== 0) console.warn(`docker-compose down: ${r.stderr}`);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    await engine?.stop();
    const total = Object.values(times).reduce((a, b) => a + b, 0);
    console.log(`compose test phases (s): ${Object.entries(times).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')}; total ${(total / 1000).toFixed(1)}`);
  }, 5 * MINUTES);

  it('builds the image: Node 24, production dependencies only, totp-admin on PATH, not root', async () => {
    await timed('build', () => compose.must(['build'], { timeoutMs: 30 * MINUTES }));
    const inImage = (cmd: string) => mustRun(tools!.docker, ['run', '--rm', '--entrypoint', 'sh', IMAGE, '-c', cmd]).then((r) => r.stdout.trim());
    expect(await inImage('node --version')).toMatch(/^v24\./);
    expect(await inImage('id -u')).toBe('1000');
    expect(await inImage('totp-admin --version')).toMatch(/^@totp-service\/cli\/\S+ linux-x64 node-v24\./);
    const modules = (await inImage('ls node_modules node_modules/@totp-service')).split(/\s+/);
    for (const dev of ['typescript', 'vitest', 'eslint', 'turbo', 'fast-check', 'yaml', 'autocannon']) expect(modules).not.toContain(dev);
    for (const prod of ['ioredis', '@oclif', 'cli', 'server', 'core']) expect(modules).toContain(prod);
    const size = Number((await mustRun(tools!.docker, ['image', 'inspect', '-f', '{{.Size}}', IMAGE])).stdout.trim());
    console.log(`image ${IMAGE}: ${(size / 1e6).toFixed(0)} MB`);
  }, 30 * MINUTES);

  it('default profile: up from .env; enroll and verify over the published port; totp-admin in the container', async () => {
    await timed('up', async () => {
      await compose.must(['up', '-d'], { timeoutMs: 5 * MINUTES });
      await totp.ready(120_000);
    });
    const enrolled = await totp.enroll('alice');
    expect(enrolled.issuer).toBe('Compose Test');
    const code = await oathtool(enrolled.secret);
    expect(await totp.verify('alice', code)).toMatchObject({ outcome: 'ACCEPTED', activated: true });
    expect(await totp.verify('alice', code)).toMatchObject({ outcome: 'REPLAYED' });

    const status = await compose.run(['exec', '-T', '-e', `TOTP_TOKEN=${adminToken}`, 'totp', 'totp-admin', 'status', 'alice', '--json']);
    expect([status.code, status.stderr]).toEqual([0, '']);
    expect(status.stdout).toMatch(/"status":\s*"ACTIVE"/);
    // the usual commands work from a fresh shell: .env is all they need
    expect((await compose.must(['ps'])).stdout).toMatch(/totp.*Up/);
    const logs = (await compose.must(['logs', '--no-color', 'totp'])).stdout;
    expect(logs).toContain('listening');
    for (const secret of [adminToken, appToken, encryptionKey.slice(3), redisPassword, enrolled.secret]) expect(logs).not.toContain(secret);
  }, 10 * MINUTES);

  it('Redis requires its password, which never appears on a command line', async () => {
    const bare = await compose.run(['exec', '-T', 'redis', 'sh', '-c', 'unset REDISCLI_AUTH; redis-cli ping']);
    expect(bare.stdout).toMatch(/NOAUTH/);
    const cmdline = await compose.must(['exec', '-T', 'redis', 'cat', '/proc/1/cmdline']);
    expect(cmdline.stdout).toMatch(/redis-server/);
    expect(cmdline.stdout).not.toContain(redisPassword);
  });

  it('Redis replaced by a new container on its volume: the user, its used step and a lockout are still there', async () => {
    const { secret } = await totp.enroll('bob');
    const step = stepOf();
    expect(await totp.verify('bob', codeAt(secret, step))).toMatchObject({ outcome: 'ACCEPTED' });
    let outcome = '';
    for (let i = 0; i < 10 && outcome !== 'LOCKED'; i++) outcome = (await totp.verify('bob', wrong(codeAt(secret, step)))).outcome;
    expect(outcome).toBe('LOCKED');
    const used = codeAt(secret, step);

    await timed('redis replaced', async () => {
      const before = await compose.container('redis');
      await compose.must(['rm', '-s', '-f', 'redis']);
      await compose.must(['up', '-d', 'redis']);
      expect(await compose.container('redis')).not.toBe(before);
      await totp.ready(60_000);
    });
    expect(await totp.status('bob')).toMatchObject({ status: 'ACTIVE' });
    expect(await totp.status('alice')).toMatchObject({ status: 'ACTIVE' });
    const locked = await totp.verify('bob', used);
    expect(locked.outcome).toBe('LOCKED');
    expect(locked.retryAfterSeconds).toBeGreaterThan(800);
    // bob's used step: unlock him, then the code of that step is refused as used
    await totp.unlock('bob');
    if (stepOf() - step <= 1) expect(await totp.verify('bob', used)).toMatchObject({ outcome: 'REPLAYED' });
    else console.warn('the used step left the window during the restart: its replay was not checked');
  }, 5 * MINUTES);

  it('`stop totp` during a burst of verifies: every answer whole, exit 0 within the grace period', async () => {
    const { secret } = await totp.enroll('carol');
    await totp.verify('carol', await oathtool(secret));
    const id = await compose.container('totp');
    const load = burst(totp, 16, (i) => ({ userId: i % 2 === 0 ? 'carol' : `nobody-${i}`, code: '000000' }));
    await new Promise((r) => setTimeout(r, 1500));
    const stop = await timed('stop', () => compose.must(['stop', 'totp'], { timeoutMs: 2 * MINUTES }));
    const results = await load.stop();
    const exit = (await mustRun(tools!.docker, ['inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', id!])).stdout.trim();
    console.log(`stop during a burst: ${stop.ms} ms; ${results.complete} whole answers, ${results.refused} refused, ${results.cut.length} cut`);
    expect(exit).toBe('0 false');
    expect(stop.ms).toBeLessThan(20_000); // stop_grace_period: beyond it docker kills (exit 137)
    expect(results.cut).toEqual([]);
    expect(results.wrongAnswers).toEqual([]);
    expect(results.complete).toBeGreaterThan(16);
    expect((await compose.must(['logs', '--no-color', 'totp'])).stdout).toMatch(/"msg":"stopped"/);
  }, 5 * MINUTES);

  it('cluster profile: three password-protected masters and a server on them, serving', async () => {
    await timed('cluster up', async () => {
      await compose.must(['--profile', 'cluster', 'up', '-d', 'totp-cluster'], { timeoutMs: 5 * MINUTES });
      await cluster.ready(180_000);
    });
    const info = await compose.must(['exec', '-T', 'redis-node-1', 'redis-cli', 'cluster', 'info']);
    expect(info.stdout).toMatch(/cluster_state:ok/);
    expect(info.stdout).toMatch(/cluster_known_nodes:3/);
    const bare = await compose.run(['exec', '-T', 'redis-node-2', 'sh', '-c', 'unset REDISCLI_AUTH; redis-cli ping']);
    expect(bare.stdout).toMatch(/NOAUTH/);
    for (const userId of ['dave', 'erin', '{x}:y']) {
      const { secret } = await cluster.enroll(userId);
      expect(await cluster.verify(userId, await oathtool(secret))).toMatchObject({ outcome: 'ACCEPTED' });
    }
  }, 10 * MINUTES);

  it('`down -v` leaves no container, volume or network behind', async () => {
    await timed('down', () => compose.must(['--profile', 'cluster', 'down', '-v', '--remove-orphans'], { timeoutMs: 5 * MINUTES }));
    expect(await compose.leftovers()).toEqual([]);
    const ps = await run(tools!.docker, ['ps', '-a', '--filter', `label=com.docker.compose.project=${compose.name}`, '-q']);
    expect(ps.stdout.trim()).toBe('');
  }, 10 * MINUTES);
});
