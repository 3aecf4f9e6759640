/**
 * A newcomer's first minute: `git clone`, `npm install`, `npx totp-admin …`, with nothing else.
 * The repository's committed HEAD (not the working tree: uncommitted changes are not what a
 * newcomer gets) is cloned into a temporary folder and installed from the npm cache, which the
 * root `prepare` step must leave with a working CLI (help, command help, a typo's suggestion).
 * It takes a minute or two: the install is real. The fresh CLI then imports each format it reads
 * into a running server (the built one of this tree, on its embedded store).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startServer } from './support/server.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const INSTALL_TIMEOUT_MS = 8 * 60_000;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment of someone who just opened a shell: no npm lifecycle variables from the npm
 * that may be running these tests (they would point npm at this checkout), no TOTP settings.
 * npm's cache and registry settings are kept, so the install can be served from the cache.
 */
function newcomerEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1' };
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('TOTP_') || name === 'INIT_CWD' || name === 'DEBUG' || name === 'FORCE_COLOR') continue;
    if (name.toLowerCase().startsWith('npm_') && !keep.has(name.toLowerCase())) continue;
    env[name] = value;
  }
  return env;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: newcomerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * `npx totp-admin …` as typed, with `--no-install`: should the local bin be missing, npx must
 * fail rather than fetch a same-named package from the registry.
 */
const npx = (dir: string, args: readonly string[]): Promise<Ran> => run('npx', ['--no-install', 'totp-admin', ...args], dir);

describe('a fresh clone, after `npm install` alone', () => {
  let dir: string;
  let clone: string;
  let install: Ran;

  beforeAll(async () => {
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' });
    if (head.status !== 0) throw new Error(`git rev-parse HEAD failed in ${REPO}: ${head.stderr || head.error?.message}`);
    dir = mkdtempSync(join(tmpdir(), 'totp-fresh-clone-'));
    clone = join(dir, 'totp-service');
    const cloned = await run('git', ['clone', '--quiet', REPO, clone], dir);
    expect(cloned.code, cloned.stderr).toBe(0);
    const checkout = await run('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', head.stdout.trim()], clone);
    expect(checkout.code, checkout.stderr).toBe(0);
    expect(existsSync(join(clone, 'packages/cli/dist'))).toBe(false);
    install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], clone, INSTALL_TIMEOUT_MS);
  }, INSTALL_TIMEOUT_MS + 60_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs, and the prepare step builds the CLI', () => {
    expect(install.code, `${install.stdout}\n${install.stderr}`).toBe(0);
    expect(existsSync(join(clone, 'packages/cli/dist/help.js'))).toBe(true);
    expect(existsSync(join(clone, 'packages/cli/oclif.manifest.json'))).toBe(true);
  });

  it('npx totp-admin --help lists the commands by purpose', async () => {
    const result = await npx(clone, ['--help']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('USER FACTORS');
    expect(result.stdout).toMatch(/^ {2}enroll\s/m);
    expect(result.stderr).toBe('');
  });

  it('npx totp-admin help enroll shows the command help', async () => {
    const result = await npx(clone, ['help', 'enroll']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^USAGE\n\s+\$ totp-admin enroll USERID/m);
    expect(result.stdout).toContain('--account-name');
    expect(result.stderr).toBe('');
  });

  it('a typo suggests the command that was meant', async () => {
    const result = await npx(clone, ['enrol', 'alice']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/unknown command "enrol"; did you mean `totp-admin enroll alice`\?/);
  });

  it('imports each format it reads (csv, json, uri, otpauth-migration) into a running server', async () => {
    const server = await startServer({ env: { REDIS_URL: undefined, TOTP_ENCRYPTION_KEYS: undefined } });
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const factor = { userId: 'fresh-json', deviceName: 'phone', status: 'ACTIVE', secret, algorithm: 'SHA1', digits: 6, period: 30, lastUsedAt: null };
    const inputs: [format: string, body: string, extra: string[]][] = [
      ['csv', `userId,secret\nfresh-csv,${secret}\n`, []],
      ['json', `{"version":1,"factors":[${JSON.stringify(factor)}]}\n`, []],
      ['uri', `otpauth://totp/Acme:fresh-uri?secret=${secret}&issuer=Acme\n`, []],
      // scito/extract_otp_secrets, example_export.txt: the Raspberry Pi account
      ['otpauth-migration', 'otpauth-migration://offline?data=CjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACjr4JKK%2B%2F%2F%2F%2F%2F8B\n', ['--user-from', 'label']],
    ];
    try {
      for (const [format, body, extra] of inputs) {
        const file = join(dir, `factors.${format}`);
        writeFileSync(file, body);
        const result = await npx(clone, ['import', file, '--format', format, ...extra, '--server', server.base, '--token', ADMIN_TOKEN]);
        expect(result.code, `${format}: ${result.stdout}\n${result.stderr}`).toBe(0);
        expect(result.stdout.trim().split('\n').at(-1), format).toMatch(/: 1 imported\b/);
      }
      const listed = await npx(clone, ['list', '--json', '--server', server.base, '--token', ADMIN_TOKEN]);
      expect(listed.code, listed.stderr).toBe(0);
      for (const userId of ['fresh-csv', 'fresh-json', 'fresh-uri', 'pi@raspberrypi']) expect(listed.stdout, userId).toContain(`"${userId}"`);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
