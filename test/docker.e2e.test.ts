/**
 * docker-compose.yml and the Dockerfile, validated without a Docker engine (there is none on the
 * machines this project is built on): the compose file is parsed and its wiring checked, and
 * `docker-compose config` validates it against the compose schema where that client exists; the
 * Dockerfile's stages are replayed by hand: its production-dependency install runs as written,
 * its runtime COPYs are taken from a real build, and the result starts and serves.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort } from './support/redis.js';
import { ADMIN_TOKEN, TEST_API_KEYS } from './support/server.js';
import { requireTool } from './support/tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dockerCompose = requireTool('docker-compose');

interface Service {
  image?: string;
  build?: string;
  command?: string | string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  ports?: string[];
  restart?: string;
  stop_grace_period?: string;
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const text = (s: Service) => [s.command ?? ''].flat().join(' ').replace(/\s+/g, ' ');

/** Variables the README's configuration table documents (the server's whole configuration). */
const documented = new Set([...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));

describe('docker-compose.yml', () => {
  it('runs Redis with an append-only file fsynced every second, noeviction, a volume and a health check', () => {
    const redis = services.redis!;
    expect(redis.image).toMatch(/^redis:7/);
    expect(text(redis)).toMatch(/--appendonly yes/);
    expect(text(redis)).toMatch(/--appendfsync everysec/);
    expect(text(redis)).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.volumes).toContainEqual(expect.stringMatching(/^redis-data:\/data$/));
    expect(compose.volumes).toHaveProperty('redis-data');
    expect(redis.healthcheck?.test.join(' ')).toContain('redis-cli ping');
    expect(redis.profiles).toBeUndefined();
  });

  it('builds the server from the Dockerfile and wires it to that Redis once it is healthy', () => {
    const totp = services.totp!;
    expect(totp.build).toBe('.');
    expect(totp.profiles).toBeUndefined();
    expect(totp.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(totp.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(totp.environment?.TOTP_ENCRYPTION_KEYS).toMatch(/^\$\{TOTP_ENCRYPTION_KEYS:\?/);
    expect(totp.environment?.TOTP_API_KEYS).toMatch(/^\$\{TOTP_API_KEYS:\?/);
    expect(totp.environment?.HOST).toBe('0.0.0.0');
    expect(totp.ports).toEqual([`127.0.0.1:4000:${totp.environment?.PORT}`]);
    // docker's stop waits longer than the server's drain
    expect(parseInt(totp.stop_grace_period!, 10) * 1000).toBeGreaterThan(Number(totp.environment?.SHUTDOWN_GRACE_MS));
  });

  it('has a "cluster" profile: three durable masters, a one-shot cluster-create, a server on them', () => {
    const nodes = ['redis-node-1', 'redis-node-2', 'redis-node-3'];
    for (const name of nodes) {
      const node = services[name]!;
      expect(node.profiles).toEqual(['cluster']);
      for (const flag of ['--cluster-enabled yes', '--appendonly yes', '--appendfsync everysec', '--maxmemory-policy noeviction', `--cluster-announce-hostname ${name}`]) {
        expect(text(node)).toContain(flag);
      }
      expect(node.healthcheck?.test.join(' ')).toContain('redis-cli ping');
      expect(node.volumes).toEqual([`${name}:/data`]);
      expect(compose.volumes).toHaveProperty(name);
    }
    const create = services['redis-cluster-create']!;
    expect(create.profiles).toEqual(['cluster']);
    expect(create.restart).toBe('no');
    expect(create.depends_on).toEqual(Object.fromEntries(nodes.map((n) => [n, { condition: 'service_healthy' }])));
    expect(text(create)).toMatch(/redis-cli --cluster create .* --cluster-replicas 0 --cluster-yes/);
    for (const n of nodes) expect(text(create)).toContain(n);

    const server = services['totp-cluster']!;
    expect(server.profiles).toEqual(['cluster']);
    expect(server.build).toBe('.');
    expect(server.depends_on).toEqual({ 'redis-cluster-create': { condition: 'service_completed_successfully' } });
    expect(server.environment?.REDIS_CLUSTER_NODES).toBe(nodes.map((n) => `${n}:6379`).join(','));
    expect(server.environment?.REDIS_URL).toBeUndefined();
    expect(server.ports).toEqual(['127.0.0.1:4001:4000']);
  });

  it('names only services that exist and variables the server documents', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect([name, dep, dep in services]).toEqual([name, dep, true]);
      for (const variable of Object.keys(s.image?.startsWith('redis') ? {} : (s.environment ?? {}))) {
        expect([name, variable, documented.has(variable)]).toEqual([name, variable, true]);
      }
    }
  });

  it.skipIf(!dockerCompose)('passes `docker-compose config`, with and without the cluster profile', () => {
    const env = { ...process.env, TOTP_ENCRYPTION_KEYS: 'k1:x', TOTP_API_KEYS: 'a:admin:x' };
    for (const args of [['config', '-q'], ['--profile', 'cluster', 'config', '-q']]) {
      const r = spawnSync(dockerCompose!, ['-f', join(ROOT, 'docker-compose.yml'), ...args], { env, encoding: 'utf8' });
      expect([args.join(' '), r.status, r.stderr.trim()]).toEqual([args.join(' '), 0, '']);
    }
    const services = spawnSync(dockerCompose!, ['-f', join(ROOT, 'docker-compose.yml'), '--profile', 'cluster', 'config', '--services'], { env, encoding: 'utf8' });
    expect(services.stdout.trim().split('\n').sort()).toEqual(['redis', 'redis-cluster-create', 'redis-node-1', 'redis-node-2', 'redis-node-3', 'totp', 'totp-cluster']);
    // without the secrets it refuses, naming them
    const bare = spawnSync(dockerCompose!, ['-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toMatch(/set TOTP_(ENCRYPTION|API)_KEYS/);
  });
});

interface Stage {
  name: string;
  lines: string[];
}

function stages(): Stage[] {
  const out: Stage[] = [];
  const joined = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) out.push({ name: from[1] ?? `stage${out.length}`, lines: [] });
    else out.at(-1)!.lines.push(line);
  }
  return out;
}

/** COPY [--from=x] src… dest, relative to WORKDIR /app. */
function copies(stage: Stage) {
  return stage.lines
    .filter((l) => l.startsWith('COPY '))
    .map((l) => {
      const parts = l.split(/\s+/).slice(1);
      const from = parts[0]!.startsWith('--from=') ? parts.shift()!.slice('--from='.length) : null;
      const dest = parts.pop()!;
      return { from, sources: parts.map((p) => p.replace(/^\/app\//, '')), dest };
    });
}

describe('Dockerfile', () => {
  const [build, deps, runtime] = stages();

  it('has three stages: build, production dependencies, and a non-root runtime', () => {
    expect([build?.name, deps?.name, runtime?.name]).toEqual(['build', 'deps', 'runtime']);
    expect(deps!.lines.find((l) => l.startsWith('RUN '))).toMatch(/npm ci --omit=dev --workspace @totp-service\/server/);
    expect(runtime!.lines.some((l) => /^RUN\b/.test(l))).toBe(false); // nothing installed or built in the image that runs
    expect(runtime!.lines).toContain('USER node');
    expect(runtime!.lines.indexOf('USER node')).toBeLessThan(runtime!.lines.findIndex((l) => l.startsWith('CMD')));
    expect(runtime!.lines.find((l) => l.startsWith('HEALTHCHECK'))).toContain('/readyz');
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    expect(ignore).toMatch(/node_modules/);
    expect(ignore).toMatch(/dist/);
  });

  it('copies into the build and deps stages only files of the repository', () => {
    for (const stage of [build!, deps!]) {
      for (const c of copies(stage)) for (const src of c.sources) expect([src, existsSync(join(ROOT, src))]).toEqual([src, true]);
    }
  });

  it('assembles, as written, a runtime that starts and serves with production dependencies only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'totp-image-'));
    try {
      // the deps stage: its COPYs, then its RUN (from the npm cache when it can)
      for (const c of copies(deps!)) for (const src of c.sources) cpSync(join(ROOT, src), join(dir, 'deps', c.dest.endsWith('/') ? join(c.dest, src.split('/').pop()!) : src));
      const run = deps!.lines.find((l) => l.startsWith('RUN '))!.slice(4);
      const installed = spawnSync('sh', ['-c', `${run} --prefer-offline`], { cwd: join(dir, 'deps'), encoding: 'utf8', timeout: 300_000 });
      expect(installed.status, installed.stderr).toBe(0);
      // the runtime stage: its COPYs from deps (just installed) and from build (this repository, built)
      const app = join(dir, 'app');
      for (const c of copies(runtime!)) {
        for (const src of c.sources) {
          const origin = c.from === 'deps' ? join(dir, 'deps', src) : join(ROOT, src);
          expect([src, existsSync(origin)]).toEqual([src, true]);
          const target = c.dest.endsWith('/') ? join(app, c.dest, src.split('/').pop()!) : join(app, c.dest);
          cpSync(origin, target, { recursive: true, verbatimSymlinks: true });
        }
      }
      const modules = readdirSync(join(app, 'node_modules'));
      for (const dev of ['typescript', 'vitest', 'eslint', 'turbo', '@oclif', 'fast-check', 'yaml']) expect(modules).not.toContain(dev);
      expect(modules).toContain('ioredis');

      const cmd = JSON.parse(/^CMD\s+(\[.*\])$/.exec(runtime!.lines.find((l) => l.startsWith('CMD'))!)![1]!) as string[];
      expect(cmd[0]).toBe('node');
      const port = await freePort();
      const child = spawn(process.execPath, cmd.slice(1), {
        cwd: app,
        env: { PATH: process.env.PATH, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), TOTP_API_KEYS: TEST_API_KEYS },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      for (let i = 0; i < 200 && !out.includes('ready at'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('ready at');
      const r = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ query: 'mutation { enrollTotp(input: {userId: "docker"}) { status } }' }),
      });
      expect(await r.json()).toEqual({ data: { enrollTotp: { status: 'PENDING' } } });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

