/**
 * The built CLI as a process, for everything that needs no server: help, `code` against
 * oathtool, `keygen`, usage errors and their exit status 2, and an unreachable server.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../../../test/support/tools.js';
import { assertBuilt, json, runCli, stderrLines } from './support/cli.js';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const COMMANDS = ['enroll', 'verify', 'revoke', 'status', 'devices', 'rename-device', 'list', 'unlock', 'recovery-codes', 'import', 'export', 'rekey', 'keys', 'doctor', 'audit', 'code', 'keygen', 'export-key'];
const oathtool = requireTool('oathtool');

beforeAll(() => assertBuilt());

/** A TCP port on which nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('help', () => {
  it('lists every command by purpose, with the environment and exit statuses', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    const out = result.stdout;
    for (const heading of ['USER FACTORS', 'OPERATIONS', 'LOCAL TOOLS', 'ENVIRONMENT', 'EXIT STATUS']) expect(out).toContain(heading);
    expect(out).not.toContain('OTHER COMMANDS');
    for (const id of COMMANDS) expect(out).toMatch(new RegExp(`^  ${id}\\s`, 'm'));
    expect(out.indexOf('enroll')).toBeLessThan(out.indexOf('OPERATIONS'));
    expect(out.indexOf('LOCAL TOOLS')).toBeLessThan(out.indexOf('  keygen'));
    expect(out).toContain('TOTP_SERVER_URL');
    expect(out).toContain('TOTP_TOKEN');
  });

  it.each(COMMANDS)('%s --help has a description and examples', async (id) => {
    const result = await runCli([id, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('DESCRIPTION');
    expect(result.stdout).toContain('EXAMPLES');
    expect(result.stdout).toContain(`$ totp-admin ${id}`);
    expect(result.stdout).toContain('--json');
    if (!['code', 'keygen', 'export-key'].includes(id)) expect(result.stdout).toMatch(/--server=<url>[\s\S]*TOTP_SERVER_URL[\s\S]*--token=<token>[\s\S]*TOTP_TOKEN/);
  });
});

describe.skipIf(!oathtool)('code, against oathtool', () => {
  const at = '2030-01-01T00:00:17Z';
  const oath = (args: string[]): string =>
    execFileSync(oathtool!, [...args, '-b', '-N', '2030-01-01 00:00:17 UTC', SECRET], { encoding: 'utf8' }).trim();

  it.each([
    [[], ['--totp=SHA1']],
    [['--algorithm', 'sha256'], ['--totp=SHA256']],
    [['--algorithm', 'SHA512', '--digits', '8'], ['--totp=SHA512', '-d', '8']],
    [['--digits', '7', '--period', '60'], ['--totp=SHA1', '-d', '7', '-s', '60s']],
  ])('totp-admin code %j equals oathtool %j', async (flags, oathFlags) => {
    const result = await runCli(['code', SECRET, '--at', at, ...flags, '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const doc = json<{ code: string; secondsRemaining: number }>(result);
    expect(doc.code).toBe(oath(oathFlags));
    expect(doc.secondsRemaining).toBe(flags.includes('60') ? 43 : 13);
  });

  it('prints the current code and the seconds it has left', async () => {
    // Retry if a time step boundary falls between the two programs.
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = execFileSync(oathtool!, ['--totp', '-b', SECRET], { encoding: 'utf8' }).trim();
      const result = await runCli(['code', SECRET.toLowerCase().replace(/(.{4})/g, '$1 ')]);
      const after = execFileSync(oathtool!, ['--totp', '-b', SECRET], { encoding: 'utf8' }).trim();
      if (before !== after) continue;
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^${before}  \\((30|[12]?[0-9]) s left\\)\\n$`));
      return;
    }
    throw new Error('three step boundaries in a row');
  });

  it('reads the secret from stdin with -, and from an otpauth URI', async () => {
    const fromStdin = await runCli(['code', '-', '--at', at, '--json'], { input: `${SECRET}\n` });
    const uri = `otpauth://totp/Acme:alice?secret=${SECRET}&issuer=Acme&algorithm=SHA256&digits=8&period=60`;
    const fromUri = await runCli(['code', uri, '--at', at, '--json']);
    expect(json(fromStdin).code).toBe(oath(['--totp=SHA1']));
    expect(json(fromUri)).toMatchObject({ code: oath(['--totp=SHA256', '-d', '8', '-s', '60s']), algorithm: 'SHA256', digits: 8, period: 60 });
  });
});

describe('the workspace bin', () => {
  it('node_modules/.bin/totp-admin runs the built CLI (what `npx totp-admin` finds)', async () => {
    const bin = fileURLToPath(new URL('../../../node_modules/.bin/totp-admin', import.meta.url));
    const output = execFileSync(bin, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_ENV: '' } });
    expect(output).toMatch(/^@totp-service\/cli\/\d+\.\d+\.\d+ /);
  });
});

describe('code, locally', () => {
  it('refuses a secret that is not base32 with exit 2', async () => {
    const result = await runCli(['code', 'not-base32!']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(stderrLines(result)).toEqual([expect.stringMatching(/^totp-admin: secret is not base32/)]);
  });
});

describe('keygen', () => {
  it('prints a random token and the TOTP_API_KEYS entry holding its SHA-256', async () => {
    const result = await runCli(['keygen', '--name', 'shop', '--role', 'app', '--json']);
    expect(result.code).toBe(0);
    const doc = json<{ token: string; entry: string; sha256: string; role: string }>(result);
    expect(doc.token).toMatch(/^totp_[A-Za-z0-9_-]{43}$/);
    const hash = createHash('sha256').update(doc.token).digest('hex');
    expect(doc).toMatchObject({ name: 'shop', role: 'app', sha256: hash, entry: `shop:app:sha256:${hash}` });
    const again = json<{ token: string }>(await runCli(['keygen', '--name', 'shop', '--role', 'app', '--json']));
    expect(again.token).not.toBe(doc.token);
  });

  it('says in words where each part goes', async () => {
    const result = await runCli(['keygen', '--name', 'ops', '--role', 'admin']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Token\s+totp_\S+$/m);
    expect(result.stdout).toMatch(/^TOTP_API_KEYS entry\s+ops:admin:sha256:[0-9a-f]{64}$/m);
  });

  it.each([
    [['--name', 'shop'], /missing flag --role/],
    [['--name', 'a:b', '--role', 'app'], /may hold only/],
    [['--name', 'shop', '--role', 'root'], /root/],
  ])('refuses %j with exit 2', async (args, message) => {
    const result = await runCli(['keygen', ...args]);
    expect(result.code).toBe(2);
    expect(stderrLines(result)).toEqual([expect.stringMatching(message)]);
  });
});

describe('usage errors exit 2 with one line on stderr', () => {
  it.each([
    [['enroll'], /missing argument <userId>; see `totp-admin enroll --help`/],
    [['verify', 'alice'], /missing argument <code>/],
    [['status', 'alice', 'extra'], /unexpected argument extra/],
    [['status', 'alice', '--bogus'], /unknown flag --bogus/],
    [['list', '--limit', '0'], /--limit/],
    [['list', '--status', 'revoked'], /revoked/],
    [['enroll', 'alice', '--digits', '9'], /--digits "9" must be 6, 7 or 8/],
    [['enroll', 'alice', '--algorithm', 'md5'], /--algorithm "md5"/],
    [['audit', '--since', 'yesterday'], /--since "yesterday" is neither/],
    [['audit', '--type', 'nope'], /--type "nope" is not an audit event type/],
    [['audit', '--follow', '--until', '1h'], /--follow cannot be used with --until/],
    [['nope'], /unknown command "nope"/],
  ])('totp-admin %j', async (args, message) => {
    const result = await runCli([...args], { env: { TOTP_TOKEN: 'x' } });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(stderrLines(result)).toEqual([expect.stringMatching(message)]);
  });

  it('with --json, prints the error as one JSON document too', async () => {
    const result = await runCli(['verify', 'alice', '--json'], { env: { TOTP_TOKEN: 'x' } });
    expect(result.code).toBe(2);
    expect(json(result)).toEqual({
      error: { code: 'USAGE', message: 'missing argument <code>', hint: 'see `totp-admin verify --help`', exitStatus: 2 },
    });
    expect(stderrLines(result)).toHaveLength(1);
  });

  it('an unknown command with --json also prints the error document', async () => {
    const result = await runCli(['bogus', '--json']);
    expect(result.code).toBe(2);
    expect(json(result)).toMatchObject({ error: { code: 'USAGE', message: 'unknown command "bogus"', exitStatus: 2 } });
  });

  it('a missing token is wrong usage that says how to pass one', async () => {
    const result = await runCli(['status', 'alice']);
    expect(result.code).toBe(2);
    expect(stderrLines(result)).toEqual([expect.stringMatching(/no API token given; pass --token TOKEN or set TOTP_TOKEN/)]);
  });

  it('revoke refuses to act without a terminal unless --yes', async () => {
    const result = await runCli(['revoke', 'alice'], { env: { TOTP_TOKEN: 'x', TOTP_SERVER_URL: 'http://127.0.0.1:9/graphql' } });
    expect(result.code).toBe(2);
    expect(stderrLines(result)).toEqual([expect.stringMatching(/stdin is not a terminal; pass --yes/)]);
  });
});

describe('an unreachable server', () => {
  it('exits 1 naming the URL that was tried', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/graphql`;
    const result = await runCli(['status', 'alice', '--server', url, '--token', 'x']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(stderrLines(result)).toEqual([`totp-admin: cannot reach the server at ${url} (ECONNREFUSED); start it, or point --server (or TOTP_SERVER_URL) at it`]);
  });

  it('with --json, as an error document; the URL may come from TOTP_SERVER_URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/graphql`;
    const result = await runCli(['list', '--json'], { env: { TOTP_SERVER_URL: url, TOTP_TOKEN: 'x' } });
    expect(result.code).toBe(1);
    expect(json(result)).toMatchObject({ error: { code: 'SERVER_UNREACHABLE', exitStatus: 1 } });
    expect(result.stderr).toContain(url);
  });
});
