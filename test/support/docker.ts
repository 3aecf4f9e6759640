/**
 * A Docker engine and docker-compose for the compose test (test/docker-stack.e2e.test.ts): the
 * tools found (or the test skipped with one line; with CI=true, a failure), dockerd started when
 * it is not running (as root; stopped again at the end), and a compose project run the way a
 * deployer runs it: in its own directory, with its own .env, from a fresh shell (no variable of
 * ours exported).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isCI } from './tools.js';

/** Where the test keeps what it makes once (stand-in images' inputs, Node runtimes, logs). */
export const CACHE_DIR = process.env.TOTP_CACHE_DIR?.trim() || join(homedir(), '.cache', 'totp-service');

/** Programs the compose test needs, and the Debian package of each. */
const NEEDED = {
  docker: 'docker.io',
  dockerd: 'docker.io',
  'docker-compose': 'docker-compose',
  debootstrap: 'debootstrap',
  oathtool: 'oathtool',
} as const;
type Program = keyof typeof NEEDED;

function onPath(program: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin']) {
    if (dir === '') continue;
    const candidate = join(dir, program);
    if (spawnSync('test', ['-x', candidate]).status === 0) return candidate;
  }
  return null;
}

export type Tools = Record<Program, string>;

/**
 * The programs, or null after one line saying what is missing (the caller skips); with CI=true a
 * missing program, or not being root (dockerd and debootstrap need it), throws instead.
 */
export function dockerTools(): Tools | null {
  const found = Object.fromEntries(Object.keys(NEEDED).map((p) => [p, onPath(p)])) as Record<Program, string | null>;
  const missing = (Object.keys(NEEDED) as Program[]).filter((p) => found[p] === null);
  const problems = missing.map((p) => `${p} is not on PATH (apt-get install ${NEEDED[p]})`);
  if (process.getuid?.() !== 0) problems.push('the compose test runs as root (it starts dockerd and runs debootstrap)');
  if (problems.length === 0) return found as Tools;
  const line = `the compose test needs: ${problems.join('; ')}`;
  if (isCI()) throw new Error(`${line}; CI=true requires it`);
  console.warn(`skipping the compose test: ${line}`);
  return null;
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Run a program to its end without blocking the event loop (a burst may run meanwhile). */
export function run(program: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(program, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.on('error', () => {}); // a program that exits without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run, but a non-zero exit throws with the command and its output. */
export async function mustRun(program: string, args: readonly string[], opts: Parameters<typeof run>[2] = {}): Promise<Run> {
  const r = await run(program, args, opts);
  if (r.code !== 0) {
    throw new Error(`${program} ${args.join(' ')} exited with ${r.code}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  }
  return r;
}

export interface Engine {
  /** True when this test started dockerd (and stop() ends it). */
  readonly started: boolean;
  stop(): Promise<void>;
}

const engineUp = (docker: string) => spawnSync(docker, ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 }).status === 0;

/** A running Docker engine: the one there is, or dockerd started here (its log in CACHE_DIR). */
export async function ensureEngine(tools: Tools): Promise<Engine> {
  if (engineUp(tools.docker)) return { started: false, stop: async () => {} };
  mkdirSync(CACHE_DIR, { recursive: true });
  const log = openSync(join(CACHE_DIR, 'dockerd.log'), 'a');
  const child = spawn(tools.dockerd, [], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + 60_000;
  while (!engineUp(tools.docker)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`dockerd did not start (exit ${child.exitCode}); see ${join(CACHE_DIR, 'dockerd.log')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    started: true,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    },
  };
}

/**
 * One compose project: docker-compose run in `dir` (which holds docker-compose.yml, the build
 * context and .env) under the project name `name`, with only PATH and HOME in its environment,
 * as in a fresh shell, so everything the stack needs must come from the .env file.
 */
export class ComposeProject {
  constructor(
    readonly tools: Tools,
    readonly dir: string,
    readonly name: string,
  ) {}

  private get env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    if (process.env.DOCKER_HOST) env.DOCKER_HOST = process.env.DOCKER_HOST;
    return env;
  }

  run(args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<Run> {
    return run(this.tools['docker-compose'], ['--ansi', 'never', '-p', this.name, ...args], { cwd: this.dir, env: this.env, ...opts });
  }

  async must(args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<Run> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited with ${r.code}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    return r;
  }

  /** The id of a service's (first) container, or null. */
  async container(service: string): Promise<string | null> {
    const r = await this.run(['ps', '-a', '-q', service]);
    return r.stdout.trim().split('\n')[0] || null;
  }

  /** Containers, volumes and networks that still carry this project's label. */
  async leftovers(): Promise<string[]> {
    const label = `label=com.docker.compose.project=${this.name}`;
    const out: string[] = [];
    for (const [kind, args] of [
      ['container', ['ps', '-a', '-q', '--filter', label]],
      ['volume', ['volume', 'ls', '-q', '--filter', label]],
      ['network', ['network', 'ls', '-q', '--filter', label]],
    ] as const) {
      const r = await mustRun(this.tools.docker, args);
      for (const id of r.stdout.trim().split('\n').filter(Boolean)) out.push(`${kind} ${id}`);
    }
    return out;
  }
}
