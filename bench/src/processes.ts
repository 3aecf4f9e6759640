/**
 * The real parts the benchmark measures, each as its own process on a free loopback port:
 * redis-server (no persistence, in a temporary directory) and the BUILT server
 * (packages/server/dist/main.js). Their output goes to files in the run's directory, so a busy
 * logger never waits on the benchmark and the benchmark never spends CPU reading it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_MAIN = join(ROOT, 'packages/server/dist/main.js');
export const CLI_BIN = join(ROOT, 'packages/cli/bin/run.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function onPath(program: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, program))) return join(dir, program);
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  readonly version: string;
  /** A connection for INFO, MEMORY USAGE and MONITOR (no key prefix). */
  readonly admin: Redis;
  stop(): Promise<void>;
}

export async function startRedis(workDir: string): Promise<RedisProcess> {
  const bin = onPath('redis-server');
  if (!bin) throw new Error('redis-server is not on PATH (apt-get install redis-server)');
  const port = await freePort();
  const dir = mkdtempSync(join(workDir, 'redis-'));
  const log = openSync(join(dir, 'redis.out'), 'a');
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: ['ignore', log, log],
  });
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  admin.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await admin.connect();
      await admin.ping();
      break;
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start: ${(err as Error).message}`);
      admin.disconnect();
      await sleep(50);
    }
  }
  const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    version,
    admin,
    stop: async () => {
      admin.disconnect();
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

export interface ServerProcess {
  readonly url: string;
  readonly base: string;
  readonly port: number;
  readonly pid: number;
  /** Whatever it wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM (the server drains and exits, writing its CPU profile if it has one). */
  stop(): Promise<number | null>;
  readonly alive: () => boolean;
}

export interface ServerOptions {
  readonly env: Record<string, string>;
  /** Write a V8 CPU profile (node --cpu-prof) into this directory at exit. */
  readonly cpuProfDir?: string;
  /** The node binary to run it on (default: this process's). */
  readonly node?: string;
  /** Options for node before the server's script (--node-flag), e.g. V8's heap sizes. */
  readonly nodeFlags?: readonly string[];
}

/** The built server as a process; resolves once /readyz answers 200. */
export async function startServer(workDir: string, opts: ServerOptions): Promise<ServerProcess> {
  if (!existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} is missing: build first (npx turbo run build)`);
  const port = await freePort();
  const dir = mkdtempSync(join(workDir, 'server-'));
  const out = openSync(join(dir, 'stdout.log'), 'a');
  const errFile = join(dir, 'stderr.log');
  const err = openSync(errFile, 'a');
  const args = [...(opts.nodeFlags ?? []), ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []), SERVER_MAIN];
  const env = { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', ...opts.env, PORT: String(port), HOST: '127.0.0.1' };
  const child = spawn(opts.node ?? process.execPath, args, { env, stdio: ['ignore', out, err] });
  const base = `http://127.0.0.1:${port}`;
  const stderr = () => (existsSync(errFile) ? readFileSync(errFile, 'utf8') : '');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it was ready:\n${stderr()}`);
    const ok = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`the server was not ready within 30 s:\n${stderr()}`);
    await sleep(100);
  }
  return {
    url: `${base}/graphql`,
    base,
    port,
    pid: child.pid!,
    stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited(child);
    },
  };
}

/**
 * CPU seconds (user + system, all threads) a process has used so far, from /proc; NaN where
 * there is no /proc. Clock ticks are 1/100 s on Linux.
 */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** A scratch directory for one run, removed at the end. */
export function workDirectory(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'totp-bench-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
