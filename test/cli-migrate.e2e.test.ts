/**
 * Moving factors out and in with totp-admin (issue 13), every part a real process: the built CLI
 * against the built server. Server A runs on the run's Redis with key K1 and exports to an age
 * recipient made by age-keygen; server B runs on a redis-server of its own with key K2. The
 * pages A encrypts are opened by `export --identity` and, independently, by `age -d`; a wrong
 * identity fails cleanly; --out is created with mode 600 and never replaces a file without
 * --force. The round trip A → B (`import --format json`) keeps devices, parameters and replay
 * protection: every device verifies on B with oathtool's code, and a step used on A before the
 * export is REPLAYED on B. Each import format gets hostile input (a clear error per row, nothing
 * half-written) and valid edge cases, on a fresh embedded-store server C; the Google
 * Authenticator fixture is the published test vectors of open-source extractors.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qrPng } from '@totp-service/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { assertBuilt, CLI_BIN, cleanEnv, json, runCli, stderrLines, type RunResult } from '../packages/cli/test/support/cli.js';
import { onTerminal, scriptTool } from '../packages/cli/test/support/hints.js';
import { serverBuilt, startServer, type ServerProcess } from '../packages/cli/test/support/server.js';
import type {} from './support/global-setup.js';
import { ageIdentity, oathCode, stepStart, type AgeIdentity, type CodeParams } from './support/migrate.js';
import { startRedis, type RedisProcess } from './support/redis.js';
import { requireTool } from './support/tools.js';

const age = requireTool('age');
const ageKeygen = requireTool('age-keygen');
const oathtool = requireTool('oathtool');
const zbarimg = requireTool('zbarimg');
const script = scriptTool();
const redisUrl = inject('redisUrl');
const ADMIN = `admin-${randomBytes(16).toString('hex')}`;
const run = randomBytes(3).toString('hex');

interface Factor {
  userId: string;
  deviceId: string;
  deviceName: string;
  status: string;
  secret: string;
  algorithm: string;
  digits: number;
  period: number;
  issuer: string;
  accountName: string;
  lastUsedAt: string | null;
  createdAt: string;
  activatedAt: string | null;
}

interface Device {
  id: string;
  name: string;
  status: string;
  algorithm: string;
  digits: number;
  period: number;
  issuer: string;
  accountName: string;
  lastUsedAt: string | null;
}

/** The devices of server A, before the export: what the round trip must carry over. */
const USERS = {
  ann: `ann ${run}`,
  uni: `用户-${run} ✓`,
  cat: `cat-${run}`,
  dan: `dan-${run}`,
};
const DEVICES: readonly { userId: string; name: string; params: CodeParams & { algorithm: string; digits: number; period: number } }[] = [
  { userId: USERS.ann, name: 'phone', params: { algorithm: 'SHA1', digits: 6, period: 30 } },
  { userId: USERS.ann, name: 'backup ✓', params: { algorithm: 'SHA512', digits: 8, period: 60 } },
  { userId: USERS.uni, name: 'default', params: { algorithm: 'SHA256', digits: 7, period: 30 } },
];
const CAT_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

let dir: string;
let ops: AgeIdentity;
let stranger: AgeIdentity;
let redisB: RedisProcess;
let serverA: ServerProcess;
let serverB: ServerProcess;
let serverC: ServerProcess;
const secrets = new Map<string, string>();

const on = (server: ServerProcess) => (args: readonly string[], input?: string): Promise<RunResult> =>
  runCli(args, { env: { TOTP_SERVER_URL: server.url, TOTP_TOKEN: ADMIN }, ...(input === undefined ? {} : { input }), timeoutMs: 60_000 });
const onA = (args: readonly string[], input?: string) => on(serverA)(args, input);
const onB = (args: readonly string[], input?: string) => on(serverB)(args, input);
const onC = (args: readonly string[], input?: string) => on(serverC)(args, input);

/** No secret of server A appears in `text` (stderr above all). */
function expectNoSecret(text: string): void {
  for (const secret of [...secrets.values(), CAT_SECRET]) expect(text).not.toContain(secret);
}

async function devicesOf(call: typeof onA, userId: string): Promise<Device[]> {
  const result = await call(['devices', userId, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return json<{ devices: Device[] }>(result).devices;
}

async function verify(call: typeof onA, userId: string, code: string): Promise<{ outcome: string; deviceName: string | null }> {
  return json<{ outcome: string; deviceName: string | null }>(await call(['verify', userId, code, '--json']));
}

beforeAll(async () => {
  assertBuilt();
  if (!serverBuilt()) throw new Error('packages/server is not built: run `npx turbo run build` first');
  if (!redisUrl) throw new Error('no Redis for the end-to-end tests (globalSetup provides none): install redis-server');
  if (!ageKeygen) return;
  dir = mkdtempSync(join(tmpdir(), 'totp-cli-migrate-'));
  ops = ageIdentity(ageKeygen, dir, 'ops');
  stranger = ageIdentity(ageKeygen, dir, 'stranger');
  redisB = await startRedis();
  const keys = `ops:admin:${ADMIN}`;
  [serverA, serverB, serverC] = await Promise.all([
    startServer({ REDIS_URL: redisUrl, TOTP_KEY_PREFIX: `cli-migrate-${run}:`, TOTP_API_KEYS: keys, TOTP_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`, TOTP_EXPORT_RECIPIENTS: ops.recipient }),
    startServer({ REDIS_URL: redisB.url, TOTP_KEY_PREFIX: 'elsewhere:', TOTP_API_KEYS: keys, TOTP_ENCRYPTION_KEYS: `k2:${randomBytes(32).toString('base64')}`, TOTP_EXPORT_RECIPIENTS: ops.recipient }),
    startServer({ TOTP_API_KEYS: keys }),
  ]);
  for (const d of DEVICES) {
    const p = d.params;
    const result = await onA(['enroll', d.userId, '--device', d.name, '--algorithm', p.algorithm, '--digits', String(p.digits), '--period', String(p.period), '--issuer', 'Ünïcode Co', '--json']);
    expect(result.code, result.stderr).toBe(0);
    secrets.set(`${d.userId}/${d.name}`, json<{ secret: string }>(result).secret);
  }
  const dan = await onA(['enroll', USERS.dan, '--json']);
  secrets.set(`${USERS.dan}/default`, json<{ secret: string }>(dan).secret);
  const cat = await onA(['import', '-'], `userId,secret,accountName\n${USERS.cat},${CAT_SECRET},cat@example.com\n`);
  expect(cat.code, cat.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await Promise.all([serverA?.stop(), serverB?.stop(), serverC?.stop()]);
  await redisB?.stop();
  redisB?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!age || !ageKeygen || !oathtool)('export', () => {
  it('decrypts the pages the server encrypts with an identity from age-keygen, as `age -d` does', async () => {
    const plain = await onA(['export', '--identity', ops.file, '--page-size', '1', '--json']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe('');
    const doc = json<{ format: string; out: null; pages: number; factors: number; document: { version: number; factors: Factor[] } }>(plain);
    // A page holds the devices of `--page-size` users: four users, five devices.
    expect(doc).toMatchObject({ format: 'json', out: null, factors: 5 });
    expect(doc.pages).toBeGreaterThanOrEqual(4);
    expect(doc.document.version).toBe(1);
    const mine = doc.document.factors;
    expect(mine.map((f) => `${f.userId}/${f.deviceName}`).toSorted()).toEqual([...secrets.keys(), `${USERS.cat}/default`].toSorted());
    for (const f of mine) expect(f.secret).toBe(secrets.get(`${f.userId}/${f.deviceName}`) ?? CAT_SECRET);
    expect(mine.find((f) => f.userId === USERS.dan)).toMatchObject({ status: 'PENDING', lastUsedAt: null });

    // The same pages, as the server made them, opened by age itself.
    const sealed = await onA(['export', '--page-size', '1', '--json']);
    expect(sealed.code, sealed.stderr).toBe(0);
    const { ciphertexts, format } = json<{ format: string; ciphertexts: string[] }>(sealed);
    expect(format).toBe('age');
    expect(ciphertexts).toHaveLength(doc.pages);
    const byAge = ciphertexts.flatMap((c) => {
      expect(c).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
      const opened = spawnSync(age!, ['-d', '-i', ops.file], { input: c, encoding: 'utf8' });
      expect(opened.status, opened.stderr).toBe(0);
      return (JSON.parse(opened.stdout) as { factors: Factor[] }).factors;
    });
    expect(byAge.map((f) => f.secret).toSorted()).toEqual(mine.map((f) => f.secret).toSorted());
  });

  it('without --identity writes the armored pages one after the other, for age to open', async () => {
    const out = join(dir, 'pages.age');
    const result = await onA(['export', '--out', out, '--page-size', '2']);
    expect(result.code, result.stderr).toBe(0);
    const reported = /^Exported 5 factors in (\d+) pages to .*pages\.age, each page an age file encrypted to the server's TOTP_EXPORT_RECIPIENTS\.\n`totp-admin import \S+pages\.age --format json --identity <file>` restores them \(or decrypt each page with `age -d -i <file>`\)\.\n$/.exec(result.stdout);
    expect(reported, result.stdout).not.toBeNull();
    const pages = readFileSync(out, 'utf8').split(/(?<=-----END AGE ENCRYPTED FILE-----\n)/).filter(Boolean);
    expect(pages).toHaveLength(Number(reported![1]));
    const secretsSeen = pages.flatMap((p) => (JSON.parse(execFileSync(age!, ['-d', '-i', ops.file], { input: p, encoding: 'utf8' })) as { factors: Factor[] }).factors.map((f) => f.secret));
    expect(secretsSeen).toHaveLength(5);
    expectNoSecret(readFileSync(out, 'utf8'));

    // import reads the pages back with the identity (a dry run, checked locally), and only with the right one.
    const back = await runCli(['import', out, '--format', 'json', '--identity', ops.file, '--dry-run']);
    expect(back.code, back.stderr).toBe(0);
    // Only cat's device is ACTIVE yet (the others are confirmed in the round trip below).
    expect(back.stdout.trim().split('\n').at(-1)).toBe('5 rows checked: 1 would be imported, 4 skipped, 0 would fail; nothing was written (dry run; not checked against the server: no token).');
    expectNoSecret(back.stdout + back.stderr);
    const wrong = await runCli(['import', out, '--format', 'json', '--identity', stranger.file, '--dry-run']);
    expect(wrong.code).toBe(1);
    expect(stderrLines(wrong)).toEqual([expect.stringMatching(/^totp-admin: this identity cannot open the export: it was encrypted to 1 X25519 recipient/)]);
    const without = await runCli(['import', out, '--format', 'json', '--dry-run']);
    expect(without.code).toBe(2);
    expect(stderrLines(without)).toEqual([expect.stringMatching(/pages\.age cannot be read as json: line 1: an encrypted export \(-----BEGIN AGE ENCRYPTED FILE-----\): pass --identity FILE to decrypt it; .*nothing was imported$/)]);
  });

  it('--out is created with mode 600, refused when it exists, replaced only with --force', async () => {
    const out = join(dir, 'factors.json');
    writeFileSync(out, 'keep me\n', { mode: 0o644 });
    const refused = await onA(['export', '--identity', ops.file, '--out', out]);
    expect(refused.code).toBe(1);
    expect(stderrLines(refused)).toEqual([`totp-admin: ${out} exists; nothing was written; pass --force to replace it, or name another file with --out`]);
    expect(readFileSync(out, 'utf8')).toBe('keep me\n');

    const forced = await onA(['export', '--identity', ops.file, '--out', out, '--force', '--status', 'active']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`Exported 1 factor (ACTIVE) in 1 page to ${out} as json (mode 600)`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { factors: Factor[] }).factors.map((f) => f.userId)).toEqual([USERS.cat]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
    expectNoSecret(forced.stdout + forced.stderr);
  });

  it('an identity the pages were not encrypted to fails cleanly: exit 1, one line, no file, no secret', async () => {
    const out = join(dir, 'never.json');
    const result = await onA(['export', '--identity', stranger.file, '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(stderrLines(result)).toEqual([
      `totp-admin: this identity cannot open the export: it was encrypted to 1 X25519 recipient (the server's TOTP_EXPORT_RECIPIENTS), which is not the identity in ${stranger.file} (its recipient is ${stranger.recipient}); pass the identity whose recipient (\`age-keygen -y FILE\` prints it) is in the server's TOTP_EXPORT_RECIPIENTS; nothing was written`,
    ]);
    expect(readdirSync(dir).filter((f) => f.startsWith('.never') || f === 'never.json')).toEqual([]);
    const toStdout = await onA(['export', '--identity', stranger.file]);
    expect(toStdout.code).toBe(1);
    expect(toStdout.stdout).toBe('');
    const asJson = await onA(['export', '--identity', stranger.file, '--json']);
    expect(asJson.code).toBe(1);
    expect(json<{ error: { code: string } }>(asJson).error.code).toBe('WRONG_IDENTITY');
  });

  it('refuses a file that is no identity without repeating it, and --format without --identity', async () => {
    const notKey = join(dir, 'not-a-key.txt');
    writeFileSync(notKey, `# a comment\n${CAT_SECRET}\n`);
    const bad = await onA(['export', '--identity', notKey]);
    expect(bad.code).toBe(2);
    expect(stderrLines(bad)).toEqual([expect.stringMatching(/not-a-key\.txt line 2 is not an age identity .*age-keygen -o key\.txt/)]);
    expectNoSecret(bad.stderr);
    const format = await onA(['export', '--format', 'csv']);
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/--format needs --identity/);
  });

  it('export-key makes an identity that age reads (mode 600, never over a file) and prints its recipient', async () => {
    const file = join(dir, 'made.txt');
    const made = await runCli(['export-key', '--out', file, '--json']);
    expect(made.code, made.stderr).toBe(0);
    const { recipient, entry } = json<{ recipient: string; entry: string }>(made);
    expect(entry).toBe(`TOTP_EXPORT_RECIPIENTS=${recipient}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(execFileSync(ageKeygen!, ['-y', file], { encoding: 'utf8' }).trim()).toBe(recipient);
    const sealed = execFileSync(age!, ['-r', recipient, '-a'], { input: 'hello', encoding: 'utf8' });
    expect(execFileSync(age!, ['-d', '-i', file], { input: sealed, encoding: 'utf8' })).toBe('hello');
    const before = readFileSync(file, 'utf8');
    const again = await runCli(['export-key', '--out', file]);
    expect(again.code).toBe(1);
    expect(stderrLines(again)).toEqual([expect.stringMatching(/made\.txt exists; nothing was written/)]);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('explains EXPORT_DISABLED: set TOTP_EXPORT_RECIPIENTS', async () => {
    const result = await onC(['export', '--identity', ops.file]);
    expect(result.code).toBe(1);
    expect(stderrLines(result)).toEqual([expect.stringMatching(/^totp-admin: EXPORT_DISABLED: .*; export is off on this server: set its TOTP_EXPORT_RECIPIENTS to your age recipient \(`age-keygen -o key\.txt` makes an identity, `age-keygen -y key\.txt` prints its recipient\) and restart it$/)]);
  });

  it('draws a progress bar on a terminal and nothing on stderr when it is a pipe', async () => {
    const piped = await onA(['export', '--identity', ops.file, '--format', 'uri', '--page-size', '1']);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout.trim().split('\n')).toHaveLength(5);
    expect(piped.stdout).toMatch(/^otpauth:\/\/totp\/%C3%9Cn%C3%AFcode%20Co:/m);
    expect(stderrLines(piped)).toEqual([expect.stringMatching(/^Exported 5 factors in \d+ pages as uri\.$/)]);
    if (!script) return;
    const out = join(dir, 'tty.json');
    const tty = await onTerminal(script, ['export', '--identity', ops.file, '--out', out, '--page-size', '1'], 'never shown', '', { TOTP_SERVER_URL: serverA.url, TOTP_TOKEN: ADMIN });
    expect(tty.code, tty.output).toBe(0);
    expect(tty.output).toMatch(/\[█+░*\] {2}5 of ~\d+ factors, \d+ pages/);
    expect(tty.output).toMatch(/Exported 5 factors in \d+ pages to \S*tty\.json/);
  });
});

describe.skipIf(!age || !ageKeygen || !oathtool)('the round trip: export from A, import into B', () => {
  const file = (): string => join(dir, 'round-trip.json');

  it('carries every device over, with its name, parameters and used steps', async () => {
    // Activate A's devices with their current codes, as users at their apps would, and note the step.
    const used = new Map<string, number>();
    for (const d of DEVICES) {
      const now = Date.now();
      const r = await verify(onA, d.userId, oathCode(oathtool!, secrets.get(`${d.userId}/${d.name}`)!, d.params, now));
      expect(r.outcome).toBe('ACCEPTED');
      used.set(`${d.userId}/${d.name}`, stepStart(now, d.params.period));
    }
    const exported = await onA(['export', '--identity', ops.file, '--out', file()]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain('Exported 5 factors in 1 page');

    const dry = await onB(['import', file(), '--format', 'json', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout.trim().split('\n').at(-1)).toBe('5 rows checked: 4 would be imported, 1 skipped, 0 would fail; nothing was written (dry run).');
    expect((await onB(['status', USERS.ann])).code).toBe(1);

    const imported = await onB(['import', file(), '--format', 'json', '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    const doc = json<{ imported: number; skipped: number; failed: number; rows: { userId: string; outcome: string; reason?: string }[] }>(imported);
    expect(doc).toMatchObject({ imported: 4, skipped: 1, failed: 0 });
    expect(doc.rows.find((r) => r.userId === USERS.dan)).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/PENDING/) as string });
    expectNoSecret(imported.stderr);

    // B holds the same devices: names, parameters, labels and last used steps.
    for (const userId of [USERS.ann, USERS.uni, USERS.cat]) {
      const strip = (ds: (Device & { createdAt?: string; activatedAt?: string })[]) => ds.map(({ id: _id, createdAt: _c, activatedAt: _a, ...rest }) => rest);
      expect(strip(await devicesOf(onB, userId))).toEqual(strip(await devicesOf(onA, userId)));
    }
    for (const [key, at] of used) {
      const [userId, name] = key.split('/') as [string, string];
      expect((await devicesOf(onB, userId)).find((d) => d.name === name)?.lastUsedAt).toBe(new Date(at).toISOString());
    }
    // And B exports what A exported, secret for secret (PENDING devices were not moved).
    const again = await onB(['export', '--identity', ops.file, '--json']);
    const pick = (fs: Factor[]) => fs.map(({ deviceId: _i, createdAt: _c, activatedAt: _a, ...rest }) => rest).toSorted((a, b) => `${a.userId}/${a.deviceName}`.localeCompare(`${b.userId}/${b.deviceName}`));
    const fromA = (JSON.parse(readFileSync(file(), 'utf8')) as { factors: Factor[] }).factors.filter((f) => f.status === 'ACTIVE');
    expect(pick(json<{ document: { factors: Factor[] } }>(again).document.factors)).toEqual(pick(fromA));

    // A step used on A before the export is REPLAYED on B; the next step verifies, on the right device.
    for (const d of DEVICES) {
      const secret = secrets.get(`${d.userId}/${d.name}`)!;
      const at = used.get(`${d.userId}/${d.name}`)!;
      expect(await verify(onB, d.userId, oathCode(oathtool!, secret, d.params, at))).toMatchObject({ outcome: 'REPLAYED' });
      expect(await verify(onB, d.userId, oathCode(oathtool!, secret, d.params, at + d.params.period * 1000))).toEqual(expect.objectContaining({ outcome: 'ACCEPTED', deviceName: d.name }));
    }
    expect(await verify(onB, USERS.cat, oathCode(oathtool!, CAT_SECRET))).toMatchObject({ outcome: 'ACCEPTED' });
  });

  it('importing again refuses each device that is there (dry run first), and writes nothing new', async () => {
    const dry = await onB(['import', file(), '--format', 'json', '--dry-run']);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toMatch(new RegExp(`^line \\d+  ${USERS.ann}  failed: ${USERS.ann} already has an active device named "phone" on the server$`, 'm'));
    const again = await onB(['import', file(), '--format', 'json']);
    expect(again.code).toBe(1);
    expect(again.stdout.trim().split('\n').at(-1)).toBe('5 rows: 0 imported, 1 skipped, 4 failed.');
    expect(stderrLines(again)).toEqual([expect.stringMatching(/^totp-admin: 4 of 5 rows failed \(line \d, \d, \d, \d\); fix those rows and import them again; the other rows are imported$/)]);
  });

  it('csv and uri exports import too (on a fresh server)', async () => {
    const csv = await onA(['export', '--identity', ops.file, '--format', 'csv', '--status', 'active']);
    expect(csv.code, csv.stderr).toBe(0);
    const intoC = await onC(['import', '-', '--device', 'ignored-when-named'], csv.stdout);
    expect(intoC.code, intoC.stderr).toBe(0);
    expect(intoC.stdout).toContain(`imported device "backup ✓": ACTIVE, SHA512, 8 digits, 60 s`);
    const backup = DEVICES[1]!;
    const next = Date.now() + 60_000;
    expect(await verify(onC, backup.userId, oathCode(oathtool!, secrets.get(`${backup.userId}/${backup.name}`)!, backup.params, next))).toMatchObject({ outcome: 'ACCEPTED', deviceName: backup.name });

    const uri = await onA(['export', '--identity', ops.file, '--format', 'uri', '--status', 'active']);
    // A URI names no device: the second device of a user is the same device to an import (json keeps both).
    const check = await runCli(['import', '-', '--format', 'uri', '--dry-run'], { input: uri.stdout });
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^line \d {2}ann \S+ {2}failed: line \d already imports the device "default" of this user$/m);
    expect(check.stdout.trim().split('\n').at(-1)).toBe('4 rows checked: 3 would be imported, 1 would fail; nothing was written (dry run; not checked against the server: no token).');
  });
});

/** Run an import on C and return its rows' lines and the summary, checking that no secret shows. */
async function importOnC(args: readonly string[], input: string): Promise<{ result: RunResult; lines: string[] }> {
  const result = await onC(['import', '-', ...args], input);
  return { result, lines: result.stdout.trim().split('\n') };
}

const S20 = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe.skipIf(!oathtool)('hostile input, format by format (a clear error per row, nothing half-written)', () => {
  it('csv: short and broken secrets, a bad algorithm, a future lastUsedAt; a cut-short file refused whole', async () => {
    const u = (n: string) => `csv-${n}-${run}`;
    const rows = [
      'userId,secret,algorithm,digits,period,deviceName,lastUsedAt',
      `${u('ok')},${S20},sha512,8,60,"a, b",`,
      `${u('short')},JBSWY3DPEHPK3PXP,,,,,`,
      `${u('b32')},${S20.replace('J', '1')},,,,,`,
      `${u('alg')},${S20},md5,,,,`,
      `${u('future')},${S20},,,,,2999-01-01T00:00:00Z`,
      `${u('ctrl')},${S20},,,,"x\u0007y",`,
    ];
    const { result, lines } = await importOnC([], rows.join('\n'));
    expect(result.code).toBe(1);
    expect(lines).toEqual([
      `line 2  ${u('ok')}  imported device "a, b": ACTIVE, SHA512, 8 digits, 60 s`,
      `line 3  ${u('short')}  failed: the secret is 80 bits; at least 128 bits are required`,
      `line 4  ${u('b32')}  failed: the secret is not base32 (letters A-Z and digits 2-7)`,
      `line 5  ${u('alg')}  failed: algorithm "md5" must be sha1, sha256 or sha512`,
      `line 6  ${u('future')}  failed: lastUsedAt 2999-01-01T00:00:00Z is in the future`,
      `line 7  ${u('ctrl')}  failed: the device name holds control characters or broken Unicode`,
      '6 rows: 1 imported, 5 failed.',
    ]);
    expect(result.stdout + result.stderr).not.toContain(S20);
    for (const n of ['short', 'b32', 'alg', 'future', 'ctrl']) expect((await onC(['status', u(n)])).code).toBe(1);

    const file = join(dir, 'cut.csv');
    writeFileSync(file, `${u('first')},${S20}\n${u('second')},"${S20}`);
    const cut = await onC(['import', file]);
    expect(cut.code).toBe(2);
    expect(stderrLines(cut)).toEqual([expect.stringMatching(/cut\.csv cannot be read as csv: line 2: a quoted field is never closed; .*nothing was imported$/)]);
    expect((await onC(['status', u('first')])).code).toBe(1);
  });

  it('json: a cut-short export is refused whole; bad factors fail on their rows', async () => {
    const u = (n: string) => `json-${n}-${run}`;
    const factor = (userId: string, extra: Record<string, unknown> = {}) => JSON.stringify({ userId, deviceName: 'phone', status: 'ACTIVE', secret: S20, algorithm: 'SHA1', digits: 6, period: 30, lastUsedAt: null, ...extra });
    const whole = `{"version":1,"factors":[\n${[factor(u('ok')), factor(u('digits'), { digits: 9 }), factor(u('nosecret'), { secret: '' }), '"a string"', factor(u('ok'))].join(',\n')}\n]}\n`;
    const file = join(dir, 'cut.json');
    writeFileSync(file, whole.slice(0, whole.length - 40));
    const cut = await onC(['import', file, '--format', 'json']);
    expect(cut.code).toBe(2);
    expect(stderrLines(cut)).toEqual([expect.stringMatching(/cut\.json cannot be read as json: line 6: the input ends inside the export \(is the file cut short\?\); .*nothing was imported$/)]);
    expectNoSecret(cut.stderr);
    expect(cut.stderr).not.toContain(S20);
    expect((await onC(['status', u('ok')])).code).toBe(1);

    const { result, lines } = await importOnC(['--format', 'json'], whole);
    expect(result.code).toBe(1);
    expect(lines).toEqual([
      `line 2  ${u('ok')}  imported device "phone": ACTIVE, SHA1, 6 digits, 30 s`,
      `line 3  ${u('digits')}  failed: digits "9" must be 6, 7 or 8`,
      `line 4  ${u('nosecret')}  failed: no secret`,
      'line 5  (no userId)  failed: factor 4 is not an object',
      `line 6  ${u('ok')}  failed: line 2 already imports the device "phone" of this user`,
      '5 rows: 1 imported, 4 failed.',
    ]);
    const another = await importOnC(['--format', 'json'], '{"version": 2, "factors": []}');
    expect(another.result.code).toBe(2);
    expect(another.result.stderr).toMatch(/export version 2: this totp-admin reads version 1 \(upgrade it\)/);
  });

  it('uri: missing and odd parameters fail per row; an 8-digit SHA512 60 s factor and unicode labels import and verify', async () => {
    const label = `Caf%C3%A9%20%E2%98%95:%E7%94%A8%E6%88%B7-${run}`;
    const lines = [
      '# exported from somewhere',
      `otpauth://totp/${label}?secret=${S20}&issuer=Caf%C3%A9%20%E2%98%95&algorithm=SHA512&digits=8&period=60`,
      `otpauth://totp/Acme:nosecret-${run}?issuer=Acme`,
      `otpauth://hotp/Acme:hotp-${run}?secret=${S20}&counter=1`,
      `otpauth://totp/Acme:period-${run}?secret=${S20}&period=15`,
      `otpauth://totp/Acme:twice-${run}?secret=${S20}&secret=${S20}`,
      `otpauth://totp/Acme:short-${run}?secret=JBSWY3DPEHPK3PXP`,
      `otpauth://totp/Acme:esc%ZZ-${run}?secret=${S20}`,
      'https://example.com/not-a-uri',
      '',
    ];
    const { result, lines: out } = await importOnC(['--format', 'uri', '--device', 'authenticator'], lines.join('\r\n'));
    expect(result.code).toBe(1);
    expect(out).toEqual([
      `line 2  用户-${run}  imported device "authenticator": ACTIVE, SHA512, 8 digits, 60 s`,
      'line 3  (no userId)  failed: no secret parameter',
      'line 4  (no userId)  failed: an HOTP (counter-based) URI: the service does TOTP only',
      'line 5  (no userId)  failed: period "15" must be 30 or 60',
      'line 6  (no userId)  failed: the parameter secret is given twice',
      `line 7  short-${run}  failed: the secret is 80 bits; at least 128 bits are required`,
      'line 8  (no userId)  failed: the label has a broken %-escape',
      'line 9  (no userId)  failed: not an otpauth:// URI (otpauth://totp/Issuer:account?secret=…)',
      '8 rows: 1 imported, 7 failed.',
    ]);
    expect(result.stdout + result.stderr).not.toContain(S20);
    const devices = await devicesOf(onC, `用户-${run}`);
    expect(devices).toEqual([expect.objectContaining({ name: 'authenticator', algorithm: 'SHA512', digits: 8, period: 60, issuer: 'Café ☕', accountName: `用户-${run}` })]);
    expect(await verify(onC, `用户-${run}`, oathCode(oathtool!, S20, { algorithm: 'SHA512', digits: 8, period: 60 }))).toMatchObject({ outcome: 'ACCEPTED' });
    const empty = await onC(['import', '-', '--format', 'uri'], '# nothing here\n\n');
    expect(empty.code).toBe(2);
    expect(stderrLines(empty)).toEqual([expect.stringMatching(/stdin cannot be read as uri: no otpauth:\/\/totp\/ lines to import/)]);
  });

  it('otpauth-migration: the published vectors decode to their secrets; HOTP skipped; truncated protobuf and wrong base64 fail per row', async () => {
    // Test vectors of open-source extractors of Google Authenticator's export (the data strings
    // only): scito/extract_otp_secrets, example_export.txt (the Raspberry Pi account, an HOTP
    // account, a unicode name), and johncallahan/otpauth_migration,
    // test/otpauth_migration_test.dart (four accounts in one payload; an 80-bit secret).
    const fixture = [
      '# scito/extract_otp_secrets example_export.txt',
      'otpauth-migration://offline?data=CjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACjr4JKK%2B%2F%2F%2F%2F%2F8B',
      'otpauth-migration://offline?data=CiUKEPqlBekzoNEukL7qlsjBCDYSCWhvdHAgZGVtbyABKAEwATgEEAEYASAAKNuv15j6%2F%2F%2F%2F%2FwE%3D',
      'otpauth-migration://offline?data=CjYKEPqlBekzoNEukL7qlsjBCDYSHGVuY29kaW5nOiDCv8Okw4TDqcOJPyAoZGVtbykgASgBMAIQARgBIAAorfCurv%2F%2F%2F%2F%2F%2FAQ%3D%3D',
      '# johncallahan/otpauth_migration test/otpauth_migration_test.dart',
      'otpauth-migration://offline?data=Cj8KFGnEpnTMQ7KDguNWnddyGyCbSVLaEhhBQ01FIENvOmpvaG5AZXhhbXBsZS5jb20aB0FDTUUgQ28gASgBMAIKRAoUXkj+5MY2arwKjsnH2aDsbm6TAlYSG0JldGEgTHRkLjpob21lckBleGFtcGxlLmNvbRoJQmV0YSBMdGQuIAEoATACCkgKFDDFyzUNPgYoI3q/KGHBdcNU9ptWEh1DYXRzICYgRG9nczptYXJnZUBleGFtcGxlLmNvbRoLQ2F0cyAmIERvZ3MgASgBMAIKSAoUunHzbm5h/LUO0yilLMI+dYZY1eISHURhaWx5IEJ1Z2xlOnBldGVyQGV4YW1wbGUuY29tGgtEYWlseSBCdWdsZSABKAEwAhABGAEgACjDnb+uAg==',
      'otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8SGEV4YW1wbGU6YWxpY2VAZ29vZ2xlLmNvbRoHRXhhbXBsZTAC',
      '# damaged copies',
      'otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8SGEV4YW1wbGU6YWxp',
      'otpauth-migration://offline?data=Cj%21%21EKCkhlbGxvId6tvu8S',
    ];
    const expected: Record<string, string> = {
      'pi@raspberrypi': '7KSQL2JTUDIS5EF65KLMRQIIGY',
      'encoding: ¿äÄéÉ? (demo)': '7KSQL2JTUDIS5EF65KLMRQIIGY',
      'ACME Co:john@example.com': 'NHCKM5GMIOZIHAXDK2O5O4Q3ECNUSUW2',
      'Beta Ltd.:homer@example.com': 'LZEP5ZGGGZVLYCUOZHD5TIHMNZXJGASW',
      'Cats & Dogs:marge@example.com': 'GDC4WNINHYDCQI32X4UGDQLVYNKPNG2W',
      'Daily Bugle:peter@example.com': 'XJY7G3TOMH6LKDWTFCSSZQR6OWDFRVPC',
    };
    const file = join(dir, 'google.txt');
    writeFileSync(file, fixture.join('\n'));
    const result = await onC(['import', file, '--format', 'otpauth-migration', '--user-from', 'label', '--json']);
    expect(result.code).toBe(1);
    const doc = json<{ imported: number; skipped: number; failed: number; rows: { line: number; entry?: number; userId: string | null; outcome: string; reason?: string; error?: { message: string } }[] }>(result);
    expect(doc).toMatchObject({ imported: 6, skipped: 1, failed: 3 });
    expect(doc.rows.map((r) => [r.line, r.entry ?? null, r.userId, r.outcome])).toEqual([
      [2, 1, 'pi@raspberrypi', 'imported'],
      [3, 1, 'hotp demo', 'skipped'],
      [4, 1, 'encoding: ¿äÄéÉ? (demo)', 'imported'],
      [6, 1, 'ACME Co:john@example.com', 'imported'],
      [6, 2, 'Beta Ltd.:homer@example.com', 'imported'],
      [6, 3, 'Cats & Dogs:marge@example.com', 'imported'],
      [6, 4, 'Daily Bugle:peter@example.com', 'imported'],
      [7, 1, 'Example:alice@google.com', 'failed'],
      [9, null, null, 'failed'],
      [10, null, null, 'failed'],
    ]);
    expect(doc.rows.map((r) => r.error?.message ?? r.reason)).toEqual([
      undefined,
      'an HOTP (counter-based) account, counter 4: the service does TOTP only',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      'the secret is 80 bits; at least 128 bits are required',
      'the data is not a Google Authenticator export (cut short or damaged: index out of range)',
      'the data parameter is not base64',
    ]);
    // Each imported account verifies with oathtool's code of the secret the extractors expect.
    for (const [userId, secret] of Object.entries(expected)) {
      expect(await verify(onC, userId, oathCode(oathtool!, secret)), userId).toMatchObject({ outcome: 'ACCEPTED' });
    }
    expect((await devicesOf(onC, 'ACME Co:john@example.com'))[0]).toMatchObject({ issuer: 'ACME Co', accountName: 'john@example.com', algorithm: 'SHA1', digits: 6, period: 30 });
    expect((await onC(['status', 'hotp demo'])).code).toBe(1);
  });

  it.skipIf(!zbarimg)('otpauth-migration: the transfer QR codes, read by zbarimg, piped into import', async () => {
    // Two "Transfer accounts" QR codes (the scito vector with a unicode name, one of johncallahan's).
    const codes = [
      'otpauth-migration://offline?data=CjYKEPqlBekzoNEukL7qlsjBCDYSHGVuY29kaW5nOiDCv8Okw4TDqcOJPyAoZGVtbykgASgBMAIQARgBIAAorfCurv%2F%2F%2F%2F%2F%2FAQ%3D%3D',
      'otpauth-migration://offline?data=CkMKFD3GyqSCSm0oh2eyMx4gtDFmy4XZEhxBQ01FIENvOmpvaG4uZG9lQGV4YW1wbGUuY29tGgdBQ01FIENvIAEoATACCjUKCkhlbGxvId6tvu8SGEV4YW1wbGU6YWxpY2VAZ29vZ2xlLmNvbRoHRXhhbXBsZSABKAEwAhABGAEgACjn4Pv4Ag==',
    ];
    const pngs = await Promise.all(
      codes.map(async (code, i) => {
        const png = join(dir, `transfer-${i}.png`);
        writeFileSync(png, await qrPng(code));
        return png;
      }),
    );
    const scanned = execFileSync(zbarimg!, ['-q', '--raw', ...pngs], { encoding: 'utf8' });
    const result = await onC(['import', '-', '--format', 'otpauth-migration', '--device', 'google'], scanned);
    expect(result.code).toBe(1);
    expect(result.stdout.trim().split('\n')).toEqual([
      'line 1 account 1  ¿äÄéÉ? (demo)  imported device "google": ACTIVE, SHA1, 6 digits, 30 s',
      'line 2 account 1  john.doe@example.com  imported device "google": ACTIVE, SHA1, 6 digits, 30 s',
      'line 2 account 2  alice@google.com  failed: the secret is 80 bits; at least 128 bits are required',
      '3 rows: 2 imported, 1 failed.',
    ]);
    expect(await verify(onC, 'john.doe@example.com', oathCode(oathtool!, 'HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ'))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'google' });
  });
});

describe('big files are read as they come, never whole', () => {
  it('a 10,000-line file: every row checked, the bad ones named, quickly', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) =>
      i % 1000 === 999 ? `otpauth://totp/Big:row-${i}?secret=SHORT` : `otpauth://totp/Big:row-${i}?secret=${randomBytes(20).toString('hex').toUpperCase().replace(/[^A-Z2-7]/g, 'A')}`,
    );
    const file = join(dir, 'ten-thousand.txt');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const started = Date.now();
    const result = await runCli(['import', file, '--format', 'uri', '--dry-run'], { timeoutMs: 120_000 });
    expect(result.code).toBe(1);
    const out = result.stdout.trim().split('\n');
    expect(out).toHaveLength(10_001);
    expect(out.at(-1)).toBe('10000 rows checked: 9990 would be imported, 10 would fail; nothing was written (dry run; not checked against the server: no token).');
    expect(out.filter((l) => l.includes('failed: '))).toHaveLength(10);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('from stdin, the first rows are reported before the rest has arrived', async () => {
    const child = spawn(process.execPath, [CLI_BIN, 'import', '-', '--format', 'uri', '--dry-run'], { env: cleanEnv(), stdio: 'pipe' });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    const sawRow15 = new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('line 15 ')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const uri = (i: number) => `otpauth://totp/Slow:row-${i}?secret=${S20}\n`;
    for (let i = 1; i <= 16; i++) child.stdin.write(uri(i));
    await sawRow15;
    expect(stdout).not.toContain('line 16 ');
    child.stdin.end(uri(17));
    expect(await exited).toBe(0);
    expect(stdout.trim().split('\n').at(-1)).toMatch(/^17 rows checked: 17 would be imported/);
  });
});
