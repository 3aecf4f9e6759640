/**
 * docker-compose.yml, .env.example and the Dockerfile, checked without a Docker engine (seconds,
 * part of every `npm test`): the compose wiring (durable, password-protected Redis; settings from
 * .env; nothing required at parse time), `docker-compose config` on a fresh copy with the example
 * .env, .env.example against the variables the server reads, and the Dockerfile's stages. The
 * stack itself is built and run by docker-stack.e2e.test.ts (`npm run test:docker`).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { requireTool } from './support/tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dockerCompose = requireTool('docker-compose');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: string;
  command?: string | string[];
  entrypoint?: string | string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  env_file?: string | string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  volumes?: string[];
  ports?: string[];
  restart?: string;
  stop_grace_period?: string;
}
const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const text = (s: Service) => [s.command ?? ''].flat().join(' ').replace(/\s+/g, ' ');

/** Variables the server reads: config.ts reads the environment (store/tls.ts its TLS part, for it). */
const serverVariables = new Set(
  ['packages/server/src/config.ts', 'packages/server/src/store/tls.ts'].flatMap((file) =>
    [...read(file).matchAll(/\benv\.([A-Z][A-Z0-9_]*)|\(env, '([A-Z][A-Z0-9_]*)'/g)].map((m) => (m[1] ?? m[2])!),
  ),
);
/** Variables .env.example names (set or commented out). */
const exampleVariables = new Map([...read('.env.example').matchAll(/^#?([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
/** Variables docker-compose.yml interpolates. */
const composeVariables = new Set([...composeText.matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
/** Variables the configuration table of docs/operations.md documents. */
const documented = new Set([...read('docs/operations.md').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));

describe('docker-compose.yml', () => {
  const redisServices = ['redis', 'redis-node-1', 'redis-node-2', 'redis-node-3'];

  it('runs every Redis with a password on its standard input, an append-only file fsynced every second, noeviction, a volume and a health check', () => {
    for (const name of redisServices) {
      const redis = services[name]!;
      expect(redis.image).toMatch(/^redis:7\.\d+-bookworm$/);
      const script = text(redis);
      expect(script).toContain('requirepass $$REDIS_PASSWORD');
      expect(script).toContain('exec docker-entrypoint.sh redis-server - "$$@"');
      for (const flag of ['--appendonly yes', '--appendfsync everysec', '--maxmemory-policy noeviction']) expect(script).toContain(flag);
      expect(redis.volumes).toEqual([`${name === 'redis' ? 'redis-data' : name}:/data`]);
      expect(redis.environment).toEqual({ REDIS_PASSWORD: '${REDIS_PASSWORD:-}', REDISCLI_AUTH: '${REDIS_PASSWORD:-}' });
      // redis-cli answers NOAUTH with exit status 0: only PONG is healthy
      expect(redis.healthcheck?.test?.join(' ')).toMatch(/redis-cli ping \| grep -q PONG/);
    }
    expect(services.redis!.profiles).toBeUndefined();
  });

  it('builds the server from the Dockerfile, reads its settings from .env, and wires it to that Redis once it is healthy', () => {
    const totp = services.totp!;
    expect(totp.build).toBe('.');
    expect(totp.image).toBe('${TOTP_IMAGE:-totp-service:local}');
    expect(totp.env_file).toBe('.env');
    expect(totp.profiles).toBeUndefined();
    expect(totp.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(totp.environment).toMatchObject({ HOST: '0.0.0.0', PORT: '4000', NODE_ENV: 'production', REDIS_URL: 'redis://:${REDIS_PASSWORD:-}@redis:6379' });
    // what a .env written for `npm start` may hold cannot point this server elsewhere
    expect(totp.environment).toMatchObject({ REDIS_PASSWORD: '', REDIS_CLUSTER_NODES: '', REDIS_SENTINELS: '' });
    expect(totp.ports).toEqual(['${TOTP_PUBLISH:-127.0.0.1:4000}:4000']);
    // docker's stop waits longer than the server's drain
    expect(parseInt(totp.stop_grace_period!, 10) * 1000).toBeGreaterThan(Number(exampleVariables.get('SHUTDOWN_GRACE_MS')));
  });

  it('has a "cluster" profile: three durable masters, a one-shot cluster-create, a server on them, all with the password', () => {
    const nodes = ['redis-node-1', 'redis-node-2', 'redis-node-3'];
    for (const name of nodes) {
      const node = services[name]!;
      expect(node.profiles).toEqual(['cluster']);
      for (const flag of ['--cluster-enabled yes', `--cluster-announce-hostname ${name}`]) expect(text(node)).toContain(flag);
      expect(text(node)).toContain('masterauth $$REDIS_PASSWORD');
      expect(compose.volumes).toHaveProperty(name);
    }
    const create = services['redis-cluster-create']!;
    expect(create.profiles).toEqual(['cluster']);
    expect(create.restart).toBe('no');
    expect(create.environment?.REDISCLI_AUTH).toBe('${REDIS_PASSWORD:-}');
    expect(create.depends_on).toEqual(Object.fromEntries(nodes.map((n) => [n, { condition: 'service_healthy' }])));
    expect(text(create)).toMatch(/redis-cli --cluster create .* --cluster-replicas 0 --cluster-yes/);

    const server = services['totp-cluster']!;
    expect(server.profiles).toEqual(['cluster']);
    expect(server.env_file).toBe('.env');
    expect(server.depends_on).toEqual({ 'redis-cluster-create': { condition: 'service_completed_successfully' } });
    expect(server.environment).toMatchObject({
      REDIS_CLUSTER_NODES: nodes.map((n) => `${n}:6379`).join(','),
      REDIS_PASSWORD: '${REDIS_PASSWORD:-}',
      REDIS_URL: '',
      REDIS_SENTINELS: '',
    });
    expect(server.ports).toEqual(['${TOTP_CLUSTER_PUBLISH:-127.0.0.1:4001}:4000']);
  });

  it('requires nothing when parsed (no ${VAR:?}), so ps, logs and down work in any shell', () => {
    expect(composeText).not.toMatch(/\$\{[A-Z_]+:?\?/);
    for (const variable of composeVariables) expect([variable, exampleVariables.has(variable)]).toEqual([variable, true]);
  });

  it('names only services that exist, and server variables the server reads', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect([name, dep, dep in services]).toEqual([name, dep, true]);
      if (!s.env_file) continue;
      for (const variable of Object.keys(s.environment ?? {})) expect([name, variable, serverVariables.has(variable)]).toEqual([name, variable, true]);
    }
  });

  it.skipIf(!dockerCompose)('passes `docker-compose config` on a fresh copy with the example .env, from an empty environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'totp-compose-config-'));
    try {
      copyFileSync(join(ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
      copyFileSync(join(ROOT, '.env.example'), join(dir, '.env'));
      const env = { PATH: process.env.PATH };
      for (const args of [['config', '-q'], ['--profile', 'cluster', 'config', '-q']]) {
        const r = spawnSync(dockerCompose!, args, { cwd: dir, env, encoding: 'utf8' });
        expect([args.join(' '), r.status, r.stderr.trim()]).toEqual([args.join(' '), 0, '']);
      }
      const listed = spawnSync(dockerCompose!, ['--profile', 'cluster', 'config', '--services'], { cwd: dir, env, encoding: 'utf8' });
      expect(listed.stdout.trim().split('\n').sort()).toEqual(['redis', 'redis-cluster-create', 'redis-node-1', 'redis-node-2', 'redis-node-3', 'totp', 'totp-cluster']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('.env.example', () => {
  it('lists every variable the server reads, each documented in docs/operations.md', () => {
    expect(serverVariables.size).toBeGreaterThan(20);
    for (const variable of serverVariables) {
      expect([variable, exampleVariables.has(variable), documented.has(variable)]).toEqual([variable, true, true]);
    }
  });

  it('lists nothing else than those and what docker-compose.yml reads', () => {
    for (const variable of exampleVariables.keys()) {
      expect([variable, serverVariables.has(variable) || composeVariables.has(variable)]).toEqual([variable, true]);
    }
  });

  it('gives each variable a comment and leaves only the secrets to fill in uncommented', () => {
    const lines = read('.env.example').split('\n');
    const set = lines.filter((l) => /^[A-Z]/.test(l)).map((l) => l.split('=')[0]);
    expect(set.sort()).toEqual(['REDIS_PASSWORD', 'TOTP_API_KEYS', 'TOTP_ENCRYPTION_KEYS']);
    lines.forEach((line, i) => {
      if (/^#?[A-Z][A-Z0-9_]*=/.test(line)) expect([line, lines[i - 1]]).toEqual([line, expect.stringMatching(/^# \S/)]);
    });
  });
});

interface Stage {
  from: string;
  name: string;
  lines: string[];
}

function stages(): Stage[] {
  const out: Stage[] = [];
  for (const raw of read('Dockerfile').replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) out.push({ from: from[1]!, name: from[2] ?? `stage${out.length}`, lines: [] });
    else out.at(-1)!.lines.push(line);
  }
  return out;
}

describe('Dockerfile', () => {
  const [build, deps, runtime] = stages();

  it('has three stages on Node 24: build, production dependencies, and a non-root runtime with the CLI', () => {
    expect([build?.name, deps?.name, runtime?.name]).toEqual(['build', 'deps', 'runtime']);
    for (const stage of [build!, deps!, runtime!]) expect(stage.from).toBe('node:24-bookworm-slim');
    expect(deps!.lines.find((l) => l.startsWith('RUN '))).toMatch(/npm ci --omit=dev --workspace @totp-service\/server --workspace @totp-service\/cli/);
    // nothing installed or built in the image that runs: one link puts the CLI on PATH
    expect(runtime!.lines.filter((l) => /^RUN\b/.test(l))).toEqual(['RUN ln -s /app/packages/cli/bin/run.js /usr/local/bin/totp-admin']);
    expect(runtime!.lines).toContain('USER node');
    expect(runtime!.lines.indexOf('USER node')).toBeLessThan(runtime!.lines.findIndex((l) => l.startsWith('CMD')));
    expect(runtime!.lines.find((l) => l.startsWith('HEALTHCHECK'))).toContain('/readyz');
  });

  it('copies into the build and deps stages only files of the repository, and never .env', () => {
    for (const stage of [build!, deps!]) {
      for (const line of stage.lines.filter((l) => l.startsWith('COPY '))) {
        for (const src of line.split(/\s+/).slice(1, -1)) expect([src, existsSync(join(ROOT, src))]).toEqual([src, true]);
      }
    }
    const ignore = read('.dockerignore').split('\n');
    for (const pattern of ['node_modules', '**/dist', '.env', '.env.*', '!.env.example']) expect(ignore).toContain(pattern);
  });
});
