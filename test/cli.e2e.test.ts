/**
 * totp-admin end to end: the built CLI as a process against the built server as a process, on a
 * real Redis (the run's redis-server from globalSetup). Human and --json output, exit statuses,
 * the revoke prompt on a pseudo-terminal, `audit --follow`, `import`, and codes checked against
 * oathtool. Nothing is skipped for a server that lacks an operation: that is a failure.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLI_BIN, assertBuilt, cleanEnv, json, runCli, stderrLines, type RunResult } from '../packages/cli/test/support/cli.js';
import { serverBuilt, startServer, type ServerProcess } from '../packages/cli/test/support/server.js';
import type {} from './support/global-setup.js';
import { requireTool } from './support/tools.js';

const oathtool = requireTool('oathtool');
const script = scriptTool();
const redisUrl = inject('redisUrl');
const ADMIN = `admin-${randomBytes(16).toString('hex')}`;
const run = randomBytes(3).toString('hex');
const uid = (name: string): string => `${name}-${run}`;

let server: ServerProcess;
let appToken: string;
let dir: string;

const admin = (args: readonly string[], input?: string): Promise<RunResult> =>
  runCli(args, { env: { TOTP_SERVER_URL: server.url, TOTP_TOKEN: ADMIN }, ...(input === undefined ? {} : { input }) });
const app = (args: readonly string[]): Promise<RunResult> =>
  runCli(args, { env: { TOTP_SERVER_URL: server.url, TOTP_TOKEN: appToken } });

/** util-linux `script`, which runs a command on a pseudo-terminal (for the revoke prompt). */
function scriptTool(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).stdout.trim() || null;
  if (!found && process.env.CI === 'true') throw new Error('script (util-linux) is not on PATH; CI=true requires it (apt-get install bsdutils)');
  return found;
}

/** The current code of a secret, from the CLI itself; cross-checked against oathtool when present. */
async function currentCode(secret: string, flags: string[] = []): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = Math.floor(Date.now() / 30_000);
    const result = await runCli(['code', secret, ...flags, '--json']);
    expect(result.code).toBe(0);
    const { code } = json<{ code: string }>(result);
    if (oathtool && flags.length === 0) {
      const oath = execFileSync(oathtool, ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
      if (Math.floor(Date.now() / 30_000) !== before) continue;
      expect(code).toBe(oath);
    }
    return code;
  }
  throw new Error('three step boundaries in a row');
}

/** A code that is wrong for every step of the window around now. */
async function wrongCode(secret: string): Promise<string> {
  const now = Date.now();
  const near = await Promise.all(
    [-60_000, -30_000, 0, 30_000, 60_000].map(async (offset) => {
      const at = new Date(now + offset).toISOString();
      return json<{ code: string }>(await runCli(['code', secret, '--at', at, '--json'])).code;
    }),
  );
  return ['000000', '111111', '222222', '333333'].find((c) => !near.includes(c))!;
}

async function enroll(userId: string, extra: string[] = []): Promise<{ secret: string; otpauthUri: string }> {
  const result = await admin(['enroll', userId, '--json', ...extra]);
  expect(result.code, result.stderr).toBe(0);
  return json(result);
}

beforeAll(async () => {
  assertBuilt();
  if (!serverBuilt()) throw new Error('packages/server is not built: run `npx turbo run build` first');
  if (!redisUrl) throw new Error('no Redis for the end-to-end tests (globalSetup provides none): install redis-server');
  dir = mkdtempSync(join(tmpdir(), 'totp-cli-e2e-'));
  // The app key comes from `totp-admin keygen`: its entry is what the server is configured with.
  const keygen = json<{ token: string; entry: string }>(await runCli(['keygen', '--name', 'shop', '--role', 'app', '--json']));
  appToken = keygen.token;
  const key = (): string => randomBytes(32).toString('base64');
  server = await startServer({
    REDIS_URL: redisUrl,
    TOTP_KEY_PREFIX: `cli-e2e-${run}:`,
    TOTP_API_KEYS: `ops:admin:${ADMIN},${keygen.entry}`,
    TOTP_ENCRYPTION_KEYS: `k2:${key()},k1:${key()}`,
    TOTP_MAX_FAILURES: '3',
    TOTP_ISSUER: 'CLI Test',
  });
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('enroll', () => {
  it('prints the grouped secret, the otpauth URI and a terminal QR code within 80 columns', async () => {
    const user = uid('alice');
    const result = await admin(['enroll', user]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const out = result.stdout;
    expect(out).toContain(`Enrolled ${user}: PENDING until `);
    expect(out).toMatch(/^Secret\s+([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/m);
    expect(out).toMatch(new RegExp(`^URI\\s+otpauth://totp/CLI%20Test:${user}\\?secret=[A-Z2-7]{32}&`, 'm'));
    const qrLines = out.split('\n').filter((line) => line.includes('\u001b[47m'));
    expect(qrLines.length).toBeGreaterThan(10);
    for (const line of qrLines) expect(line.replaceAll(/\[[0-9;]*m/g, '').replaceAll('\u001b', '').length).toBeLessThanOrEqual(80);
    expect(out).toContain(`totp-admin verify ${user} <code>`);
  });

  it('--json prints one document with the secret and URI, --png writes a private PNG, --no-qr draws none', async () => {
    const user = uid('bob');
    const png = join(dir, 'bob.png');
    const result = await admin(['enroll', user, '--json', '--png', png, '--issuer', 'Acme', '--account-name', 'bob@acme.example', '--algorithm', 'sha256', '--digits', '8', '--period', '60']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const doc = json<Record<string, unknown>>(result);
    expect(doc).toMatchObject({ userId: user, status: 'PENDING', issuer: 'Acme', accountName: 'bob@acme.example', algorithm: 'SHA256', digits: 8, period: 60, png });
    expect(doc.secret).toMatch(/^[A-Z2-7]+$/);
    expect(doc.otpauthUri).toMatch(/^otpauth:\/\/totp\/Acme:bob%40acme\.example\?/);
    expect(readFileSync(png).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(statSync(png).mode & 0o777).toBe(0o600);

    const plain = await admin(['enroll', uid('carol'), '--no-qr']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain('\u001b[47m');
  });

  it('a PNG that cannot be written still leaves the secret on screen (exit 1)', async () => {
    const user = uid('bea');
    const result = await admin(['enroll', user, '--png', join(dir, 'missing', 'bea.png'), '--no-qr']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^Secret\s+([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/m);
    expect(stderrLines(result)).toEqual([expect.stringMatching(`^totp-admin: enrolled ${user}, but could not write .*bea\\.png: .*; the secret and URI are printed above`)]);
  });

  it('refuses to replace an ACTIVE factor without --replace (exit 1), and replaces it with', async () => {
    const user = uid('dave');
    const { secret } = await enroll(user);
    expect((await admin(['verify', user, await currentCode(secret)])).code).toBe(0);
    const again = await admin(['enroll', user]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(stderrLines(again)).toEqual([expect.stringMatching(/already has an ACTIVE factor.*--replace/)]);
    const asJson = await admin(['enroll', user, '--json']);
    expect(json(asJson)).toMatchObject({ error: { code: 'ALREADY_ENROLLED', exitStatus: 1 } });
    const replaced = await admin(['enroll', user, '--replace', '--json']);
    expect(replaced.code).toBe(0);
    expect(json(replaced)).toMatchObject({ userId: user, status: 'PENDING' });
  });
});

describe('verify, status, unlock', () => {
  const user = uid('erin');
  let secret: string;

  beforeAll(async () => {
    ({ secret } = await enroll(user));
  });

  it('ACCEPTED exits 0 and activates; the same code again is REPLAYED (exit 1)', async () => {
    const code = await currentCode(secret);
    const ok = await admin(['verify', user, code]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^ACCEPTED: the code is valid.* ${user} is now ACTIVE\\.\\n$`));
    const replay = await admin(['verify', user, code, '--json']);
    expect(replay.code).toBe(1);
    expect(json(replay)).toMatchObject({ userId: user, valid: false, outcome: 'REPLAYED' });
    expect(stderrLines(replay)).toEqual([expect.stringMatching(/^totp-admin: REPLAYED: .*wait for the next code/)]);
  });

  it('status shows the state, as text and as JSON', async () => {
    const text = await app(['status', user]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^User\\s+${user}$`, 'm'));
    expect(text.stdout).toMatch(/^Status\s+ACTIVE$/m);
    expect(text.stdout).toMatch(/^Codes\s+SHA1, 6 digits, 30 s$/m);
    expect(text.stdout).not.toContain(secret);
    const doc = json<Record<string, unknown>>(await app(['status', user, '--json']));
    expect(doc).toMatchObject({ userId: user, status: 'ACTIVE', algorithm: 'SHA1', digits: 6, period: 30, issuer: 'CLI Test' });
  });

  it('a user with nothing enrolled: status exits 1, verify says NOT_ENROLLED, unlock exits 1', async () => {
    const nobody = uid('nobody');
    const status = await app(['status', nobody, '--json']);
    expect(status.code).toBe(1);
    expect(json(status)).toMatchObject({ error: { code: 'NOT_ENROLLED', exitStatus: 1 } });
    expect(stderrLines(status)).toEqual([expect.stringMatching(`nothing is enrolled for ${nobody}; enroll with`)]);
    const verify = await app(['verify', nobody, '123456']);
    expect(verify.code).toBe(1);
    expect(stderrLines(verify)).toEqual([expect.stringMatching(/^totp-admin: NOT_ENROLLED/)]);
    expect((await admin(['unlock', nobody])).code).toBe(1);
  });

  it('MALFORMED and INVALID_CODE exit 1; the lockout says when to retry; unlock clears it', async () => {
    // A user of its own: the REPLAYED above counted as a failure for erin.
    const user = uid('erin-locked');
    const { secret } = await enroll(user);
    const malformed = await admin(['verify', user, '12ab56']);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/MALFORMED: .*did not count as a failure/);
    const wrong = await wrongCode(secret);
    const first = await admin(['verify', user, wrong]);
    expect(first.code).toBe(1);
    expect(stderrLines(first)).toEqual(['totp-admin: INVALID_CODE: wrong code; 2 attempts left before a lockout']);
    await admin(['verify', user, wrong]);
    const last = await admin(['verify', user, wrong, '--json']);
    expect(json(last)).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 0 });
    const locked = await admin(['verify', user, await currentCode(secret), '--json']);
    expect(locked.code).toBe(1);
    const doc = json<{ outcome: string; retryAfterSeconds: number }>(locked);
    expect(doc.outcome).toBe('LOCKED');
    expect(doc.retryAfterSeconds).toBeGreaterThan(0);
    expect(stderrLines(locked)).toEqual([
      expect.stringMatching(new RegExp(`^totp-admin: LOCKED: .*retry in \\d+ s \\(after .*Z\\), or clear the lockout with \`totp-admin unlock ${user}\``)),
    ]);
    const status = await app(['status', user]);
    expect(status.stdout).toMatch(/^Locked until\s+\S+Z$/m);

    const forbidden = await app(['unlock', user]);
    expect(forbidden.code).toBe(1);
    expect(stderrLines(forbidden)).toEqual([expect.stringMatching(/FORBIDDEN: .*pass an admin key instead/)]);
    const unlocked = await admin(['unlock', user]);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(unlocked.stdout).toMatch(/^Unlocked /);
    expect(unlocked.stdout).toMatch(/^Failed attempts\s+0$/m);
    expect(json(await admin(['unlock', user, '--json']))).toMatchObject({ userId: user, failedAttempts: 0, lockedUntil: null });
  });

  it('passes odd user ids through exactly', async () => {
    const odd = `用户 {x}:y ${run}`;
    const { secret: oddSecret } = await enroll(odd);
    const ok = await admin(['verify', odd, await currentCode(oddSecret), '--json']);
    expect(json(ok)).toMatchObject({ userId: odd, outcome: 'ACCEPTED', activated: true });
    expect(json(await admin(['status', odd, '--json']))).toMatchObject({ userId: odd, status: 'ACTIVE' });
  });
});

describe('revoke', () => {
  /** Run revoke on a pseudo-terminal (util-linux script) and answer the prompt once it shows. */
  function revokeOnTerminal(userId: string, answer: string): Promise<{ code: number | null; output: string }> {
    const command = [process.execPath, CLI_BIN, 'revoke', userId].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
    const child = spawn(script!, ['-qec', command, '/dev/null'], {
      env: cleanEnv({ TOTP_SERVER_URL: server.url, TOTP_TOKEN: ADMIN }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let answered = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (!answered && output.includes('[y/N]')) {
        answered = true;
        child.stdin.write(`${answer}\n`);
      }
    });
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
  }

  it.skipIf(!script)('asks on a terminal: no keeps the factor (exit 1), yes revokes it', async () => {
    const user = uid('frank');
    await enroll(user);
    const no = await revokeOnTerminal(user, 'n');
    expect(no.output).toContain(`Revoke the TOTP factor of ${user}?`);
    expect(no.output).toContain('cancelled: nothing was revoked');
    expect(no.code).toBe(1);
    expect((await admin(['status', user])).code).toBe(0);
    const yes = await revokeOnTerminal(user, 'y');
    expect(yes.output).toContain(`Revoked the factor of ${user}.`);
    expect(yes.code).toBe(0);
    expect((await admin(['status', user])).code).toBe(1);
  });

  it('--yes revokes without asking; nothing to revoke exits 1; no terminal and no --yes is wrong usage', async () => {
    const user = uid('grace');
    await enroll(user);
    const piped = await admin(['revoke', user]);
    expect(piped.code).toBe(2);
    const done = await admin(['revoke', user, '--yes', '--reason', 'lost phone', '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(json(done)).toEqual({ userId: user, revoked: true });
    const again = await admin(['revoke', user, '--yes', '--json']);
    expect(again.code).toBe(1);
    expect(json(again)).toEqual({ userId: user, revoked: false });
    expect(stderrLines(again)).toEqual([expect.stringMatching(`nothing is enrolled for ${user}, so nothing was revoked`)]);
  });
});

describe('credentials and connection', () => {
  it('a wrong token exits 1 and says how to pass one', async () => {
    const result = await runCli(['status', 'x', '--server', server.url, '--token', 'wrong-token-0123456789']);
    expect(result.code).toBe(1);
    expect(stderrLines(result)).toEqual([expect.stringMatching(/^totp-admin: UNAUTHENTICATED: .*; pass a valid API token with --token or the TOTP_TOKEN environment variable/)]);
    const asJson = await runCli(['status', 'x', '--json'], { env: { TOTP_SERVER_URL: server.url, TOTP_TOKEN: 'wrong-token-0123456789' } });
    expect(json(asJson)).toMatchObject({ error: { code: 'UNAUTHENTICATED', exitStatus: 1 } });
  });

  it('an app key may not use admin operations (FORBIDDEN, exit 1)', async () => {
    const result = await app(['list']);
    expect(result.code).toBe(1);
    expect(stderrLines(result)).toEqual([expect.stringMatching(/FORBIDDEN/)]);
  });

  it('--server may be the base URL', async () => {
    const base = server.url.replace(/\/graphql$/, '');
    const result = await runCli(['status', uid('nobody'), '--server', base, '--token', ADMIN]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nothing is enrolled');
  });
});

describe('list', () => {
  it('pages through the cursors up to --limit, as a table and as JSON', async () => {
    for (const name of ['list1', 'list2', 'list3']) await enroll(uid(name));
    const paged = await admin(['list', '--status', 'pending', '--limit', '5', '--page-size', '2', '--json']);
    expect(paged.code, paged.stderr).toBe(0);
    const doc = json<{ enrollments: { userId: string; status: string }[]; more: boolean }>(paged);
    expect(doc.enrollments).toHaveLength(5);
    expect(new Set(doc.enrollments.map((e) => e.userId)).size).toBe(5);
    expect(doc.enrollments.every((e) => e.status === 'PENDING')).toBe(true);
    expect(doc.more).toBe(true);
    const all = json<{ enrollments: { userId: string }[] }>(await admin(['list', '--limit', '1000', '--json']));
    for (const name of ['list1', 'list2', 'list3']) expect(all.enrollments.map((e) => e.userId)).toContain(uid(name));
    const table = await admin(['list', '--limit', '2']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^USER\s+STATUS\s+DEVICES\s+CODES\s+CREATED\s+LAST VERIFIED\s+FAILURES\s+LOCKED UNTIL$/m);
    expect(table.stdout).toMatch(/^2 enrollments shown; more exist \(raise --limit, now 2\)\.$/m);
  });
});

describe('recovery-codes and rekey', () => {
  it('recovery-codes prints ten codes once', async () => {
    const user = uid('heidi');
    await enroll(user);
    const text = await admin(['recovery-codes', user]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split('\n').filter((l) => /^ {2}\S+$/.test(l))).toHaveLength(10);
    const doc = json<{ userId: string; codes: string[] }>(await admin(['recovery-codes', user, '--json']));
    expect(doc.userId).toBe(user);
    expect(doc.codes).toHaveLength(10);
  });

  it('rekey re-encrypts with the active key', async () => {
    const result = await admin(['rekey', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ activeKeyId: 'k2' });
    const text = await admin(['rekey']);
    expect(text.stdout).toMatch(/^Re-encrypted \d+ secrets? with key k2\./);
    expect((await app(['rekey'])).code).toBe(1);
  });
});

describe('import', () => {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

  it('imports good rows, reports bad ones, goes on, and exits 1', async () => {
    const file = join(dir, 'users.csv');
    writeFileSync(
      file,
      [
        'userId,secret,issuer,accountName,algorithm,digits,period',
        `${uid('imp1')},${secret},Old System,imp1@example.com,,,`,
        `${uid('imp2')},not base32!,,,,,`,
        `${uid('imp3')},${secret.toLowerCase()},,,sha256,8,60`,
        `${uid('imp4')},${secret},,,md5,,`,
        `,${secret}`,
      ].join('\n'),
    );
    const result = await admin(['import', file]);
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toEqual([
      `line 2  ${uid('imp1')}  imported: ACTIVE, SHA1, 6 digits, 30 s`,
      `line 3  ${uid('imp2')}  failed: the secret is not base32 (letters A-Z and digits 2-7)`,
      `line 4  ${uid('imp3')}  imported: ACTIVE, SHA256, 8 digits, 60 s`,
      `line 5  ${uid('imp4')}  failed: algorithm "md5" must be sha1, sha256 or sha512`,
      'line 6  (no userId)  failed: the userId is empty',
      '5 rows: 2 imported, 3 failed.',
    ]);
    expect(result.stdout).not.toContain(secret);
    expect(stderrLines(result)).toEqual(['totp-admin: 3 of 5 rows failed (line 3, 5, 6); fix those rows and import them again; the other rows are imported']);
    // The imported secret works at once: users keep their codes.
    const ok = await admin(['verify', uid('imp1'), await currentCode(secret), '--json']);
    expect(json(ok)).toMatchObject({ outcome: 'ACCEPTED' });
  });

  it('reads stdin with -, without a header, and reports per row in JSON', async () => {
    const csv = `${uid('imp5')},${secret}\n${uid('imp5')},${secret}\n`;
    const result = await admin(['import', '-', '--json'], csv);
    expect(result.code).toBe(1);
    const doc = json<{ rows: { line: number; ok: boolean; error?: { code: string } }[]; imported: number; failed: number }>(result);
    expect(doc.imported).toBe(1);
    expect(doc.failed).toBe(1);
    expect(doc.rows[0]).toMatchObject({ line: 1, ok: true });
    expect(doc.rows[1]).toMatchObject({ line: 2, ok: false, error: { code: 'DUPLICATE_ROW', message: 'line 1 already imports the device "default" of this user' } });
    const clean = await admin(['import', '-'], `${uid('imp6')},${secret}\n`);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('1 row: 1 imported, 0 failed.');
  });

  it('refuses an unreadable file as a whole (exit 2)', async () => {
    const result = await admin(['import', join(dir, 'missing.csv')]);
    expect(result.code).toBe(2);
    expect(stderrLines(result)).toEqual([expect.stringMatching(/cannot read .*missing\.csv.*nothing was imported/)]);
  });
});

describe('audit', () => {
  it('reads the log newest first, filtered, as a table, JSON and CSV', async () => {
    const user = uid('ivan');
    const { secret } = await enroll(user);
    await admin(['verify', user, '000000']);
    await admin(['verify', user, await currentCode(secret)]);
    const doc = json<{ events: { type: string; userId: string; actor: string; outcome: string | null }[] }>(
      await admin(['audit', '--user', user, '--json']),
    );
    expect(doc.events.map((e) => e.type)).toEqual(expect.arrayContaining(['ENROLLED', 'VERIFY']));
    expect(doc.events.every((e) => e.userId === user && e.actor === 'ops')).toBe(true);
    expect(doc.events[0]!.type === 'VERIFY' || doc.events[0]!.type === 'ACTIVATED').toBe(true);
    expect(doc.events.at(-1)!.type).toBe('ENROLLED');

    const verifies = json<{ events: { type: string }[] }>(await admin(['audit', '--user', user, '--type', 'verify', '--since', '1h', '--json']));
    expect(verifies.events.length).toBeGreaterThanOrEqual(2);
    expect(verifies.events.every((e) => e.type === 'VERIFY')).toBe(true);
    const none = json<{ events: unknown[] }>(await admin(['audit', '--user', user, '--until', '1h', '--json']));
    expect(none.events).toEqual([]);
    const limited = json<{ events: unknown[]; more: boolean }>(await admin(['audit', '--user', user, '--limit', '1', '--json']));
    expect(limited).toMatchObject({ events: [expect.anything()], more: true });

    const table = await admin(['audit', '--user', user]);
    expect(table.stdout).toMatch(/^AT\s+TYPE\s+USER\s+DEVICE\s+OUTCOME\s+ACTOR\s+CLIENT IP\s+DETAIL$/m);
    expect(table.stdout).toMatch(new RegExp(`^\\S+Z\\s+VERIFY\\s+${user}\\s+INVALID_CODE\\s+ops`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^\\S+Z\\s+ENROLLED\\s+${user}\\s+0\\s+ops`, 'm'));
    const csv = await admin(['audit', '--user', user, '--csv']);
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]).toBe('id,at,type,userId,actor,clientIp,outcome,detail,deviceId');
    expect(rows.length).toBe(doc.events.length + 1);
  });

  it('--follow prints events recorded after it started, and exits 0 on SIGINT', async () => {
    const user = uid('judy');
    const child = spawn(process.execPath, [CLI_BIN, 'audit', '--follow', '--user', user, '--interval', '1', '--json'], {
      env: cleanEnv({ TOTP_SERVER_URL: server.url, TOTP_TOKEN: ADMIN }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const waitFor = async (predicate: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstdout: ${stdout}\nstderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await new Promise((resolve) => setTimeout(resolve, 1500)); // it has started and polled at least once
    expect(stdout).toBe('');
    await enroll(user);
    await waitFor(() => stdout.includes('"ENROLLED"'), 'the ENROLLED event');
    await admin(['verify', user, '000000']);
    await waitFor(() => stdout.includes('"VERIFY"'), 'the VERIFY event');
    child.kill('SIGINT');
    expect(await closed).toBe(0);
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; userId: string });
    expect(events.map((e) => e.type)).toEqual(['ENROLLED', 'VERIFY']);
    expect(events.every((e) => e.userId === user)).toBe(true);
    expect(stderr).toBe('');
  });
});

describe('quick start: the embedded store and the admin token printed at start-up', () => {
  let quick: ServerProcess | undefined;
  afterAll(async () => quick?.stop());

  it('works with the token the server prints when TOTP_API_KEYS is unset', async () => {
    quick = await startServer({ TOTP_API_KEYS: undefined, REDIS_URL: undefined, TOTP_ENCRYPTION_KEYS: undefined });
    const token = /Admin token[^\n]*\n\s*\n\s*(\S+)/.exec(quick.output())?.[1];
    expect(token, quick.output()).toBeTruthy();
    const env = { TOTP_SERVER_URL: quick.url, TOTP_TOKEN: token };
    const enrolled = await runCli(['enroll', 'alice', '--json'], { env });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const { secret } = json<{ secret: string }>(enrolled);
    const verified = await runCli(['verify', 'alice', await currentCode(secret)], { env });
    expect(verified.code, verified.stderr).toBe(0);
    expect(json(await runCli(['status', 'alice', '--json'], { env }))).toMatchObject({ status: 'ACTIVE' });
  });
});
