/**
 * Real Redis servers for tests: started on free ports, in a temporary directory, never touching
 * the Redis on 6379. A test that needs to stop and restart Redis (outages, AOF) starts its own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from './tools.js';

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

export interface RedisOptions {
  /** Keep an append-only file (appendfsync always), so a restart loses nothing. */
  readonly aof?: boolean;
  readonly port?: number;
  /** Reuse this data directory (to restart a server on its own files). */
  readonly dir?: string;
  readonly extraArgs?: readonly string[];
}

export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  /** Stop it (SHUTDOWN, or SIGKILL when `hard`). */
  stop(hard?: boolean): Promise<void>;
  /** Remove its directory (after stop). */
  cleanup(): void;
}

/** The port asked for was taken between being found free and redis-server binding it. */
export class PortTakenError extends Error {}

/** Wait until the redis-server `child` answers on `port` (and not another one that holds the port). */
async function waitForPing(port: number, child: ChildProcess, exited: () => boolean, timeoutMs = 10_000): Promise<void> {
  const cli = findTool('redis-cli');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`redis-server on port ${port} exited before answering`);
    // bounded: whatever else holds the port may never answer
    const r = cli ? spawnSync(cli, ['-p', String(port), 'info', 'server'], { encoding: 'utf8', timeout: 2_000 }) : null;
    // a server with requirepass answers NOAUTH: it is up all the same
    if (/NOAUTH/.test(r?.stdout ?? '')) return;
    const pid = /^process_id:(\d+)/m.exec(r?.stdout ?? '')?.[1];
    if (pid !== undefined) {
      if (Number(pid) === child.pid) return;
      throw new PortTakenError(`port ${port} is held by another redis-server (pid ${pid})`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

/** The last lines of a redis-server log, if it wrote one: why it did not start (a port taken, …). */
function readLogTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

/**
 * `start` again (up to 5 tries) while it fails with PortTakenError: a port found free can be taken
 * before redis-server binds it (by another test's server, or as the local end of an outgoing
 * connection), so `start` is to find its ports afresh each time.
 */
export async function retryOnPortTaken<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt === 5) throw err;
    }
  }
}

/**
 * A redis-server on `opts.port`, or on a free port: without a port asked for, a port taken is
 * tried again on another one (retryOnPortTaken); with one, PortTakenError says so.
 */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisProcess> {
  if (opts.port !== undefined) return launchRedis(opts.port, opts);
  return retryOnPortTaken(async () => launchRedis(await freePort(), opts));
}

async function launchRedis(port: number, opts: RedisOptions): Promise<RedisProcess> {
  const bin = findTool('redis-server');
  if (!bin) throw new Error('redis-server is not on PATH (apt-get install redis-server)');
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'totp-redis-'));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--daemonize', 'no',
    '--logfile', join(dir, 'redis.log'),
    ...(opts.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(bin, args, { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    await waitForPing(port, child, () => exited);
  } catch (err) {
    // not left running behind a failed start (a run's setup that failed used to leave one)
    child.kill('SIGKILL');
    const log = readLogTail(join(dir, 'redis.log'));
    if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
    const message = `${(err as Error).message}${log ? `; its log ends:\n${log}` : ''}`;
    throw err instanceof PortTakenError || /Address already in use/.test(log) ? new PortTakenError(message) : new Error(message);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    process: child,
    stop: (hard = false) =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        if (hard) child.kill('SIGKILL');
        else {
          const cli = findTool('redis-cli');
          if (cli) spawnSync(cli, ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
          else child.kill('SIGTERM');
        }
      }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
