/**
 * The previous release of the server, built from this repository's own history, for tests of an
 * upgrade in place: the tree of RELEASE is exported (git archive) into a cache folder, installed
 * (npm ci, from the npm cache the current install filled) and built once; later runs reuse it.
 * Nothing of it is committed; it is made from the commit named here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The last release before version 2: what every store in the field was written by. */
export const RELEASE = '93beab2df4a27c14fe0f85ad1ee181e385c85169';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 600_000, env: { ...process.env, CI: 'true' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd} (${r.status}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
}

/** The path of the previous release's server entry point (dist/main.js), built on first use. */
export function previousServer(): string {
  const dir = join(process.env.TOTP_CACHE_DIR ?? join(tmpdir(), 'totp-test-cache'), `release-${RELEASE.slice(0, 12)}`);
  const main = join(dir, 'packages/server/dist/main.js');
  if (existsSync(join(dir, '.built'))) return main;
  const known = spawnSync('git', ['cat-file', '-e', `${RELEASE}^{commit}`], { cwd: ROOT });
  if (known.status !== 0) {
    throw new Error(`commit ${RELEASE} is not in this clone (a shallow clone?): the upgrade test builds the previous release from it; fetch the history`);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tar = execFileSync('git', ['archive', '--format=tar', RELEASE], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], dir);
  run('npx', ['turbo', 'run', 'build', '--filter=@totp-service/server', '--output-logs=errors-only'], dir);
  writeFileSync(join(dir, '.built'), `${RELEASE}\n`);
  return main;
}
