/**
 * Every command that a server-side failure names runs as written: the failure is provoked
 * against the built server (embedded store), the command is taken from between the backticks of
 * the stderr line and pasted into a shell (`totp-admin` on PATH, as after `npm install`), with
 * the same environment, and it must do what the hint says it does. The user ids have quotes,
 * spaces and braces, so a hint that does not quote them for the shell fails here.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, json, runCli, stderrLines, type RunResult } from '../packages/cli/test/support/cli.js';
import { hintedCommands, runInShell } from '../packages/cli/test/support/hints.js';
import { serverBuilt, startServer, type ServerProcess } from '../packages/cli/test/support/server.js';

const ADMIN = `admin-${randomBytes(16).toString('hex')}`;
let server: ServerProcess;
let appToken: string;
let adminEnv: Record<string, string>;
let appEnv: Record<string, string>;
const odd = (name: string): string => `o'${name} {x}:y ${randomBytes(2).toString('hex')}`;

/** The one command that the failure's stderr line names. */
function hinted(result: RunResult): string {
  const lines = stderrLines(result);
  expect(lines, result.stderr).toHaveLength(1);
  const commands = hintedCommands(lines[0]!);
  expect(commands, lines[0]).toHaveLength(1);
  return commands[0]!;
}

async function activeUser(userId: string): Promise<void> {
  const { secret } = json<{ secret: string }>(await runCli(['enroll', userId, '--json'], { env: adminEnv }));
  const { code } = json<{ code: string }>(await runCli(['code', secret, '--json']));
  expect((await runCli(['verify', userId, code], { env: adminEnv })).code).toBe(0);
}

beforeAll(async () => {
  assertBuilt();
  if (!serverBuilt()) throw new Error('packages/server is not built: run `npx turbo run build` first');
  const keygen = json<{ token: string; entry: string }>(await runCli(['keygen', '--name', 'shop', '--role', 'app', '--json']));
  appToken = keygen.token;
  server = await startServer({
    REDIS_URL: undefined,
    TOTP_ENCRYPTION_KEYS: undefined,
    TOTP_API_KEYS: `ops:admin:${ADMIN},${keygen.entry}`,
    TOTP_MAX_FAILURES: '1',
  });
  adminEnv = { TOTP_SERVER_URL: server.url, TOTP_TOKEN: ADMIN };
  appEnv = { TOTP_SERVER_URL: server.url, TOTP_TOKEN: appToken };
});

afterAll(async () => server?.stop());

describe('the commands in failure hints run as written', () => {
  it('FORBIDDEN names a keygen command that makes an admin key', async () => {
    const forbidden = await runCli(['list'], { env: appEnv });
    expect(forbidden.code).toBe(1);
    const command = hinted(forbidden);
    expect(command).toBe('totp-admin keygen --name ops --role admin');
    const made = await runInShell(command);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^TOTP_API_KEYS entry\s+ops:admin:sha256:[0-9a-f]{64}$/m);
  });

  it('UNAUTHENTICATED names the same keygen command', async () => {
    const result = await runCli(['status', 'alice'], { env: { ...adminEnv, TOTP_TOKEN: 'not-a-token' } });
    expect(result.code).toBe(1);
    expect(hinted(result)).toBe('totp-admin keygen --name ops --role admin');
  });

  it.each([
    ['status', (id: string) => ['status', id]],
    ['verify', (id: string) => ['verify', id, '123456']],
    ['recovery-codes', (id: string) => ['recovery-codes', id]],
  ])('nothing enrolled (%s) names `totp-admin enroll <that user>`, which enrolls exactly that user', async (_name, args) => {
    const userId = odd('nobody');
    const failed = await runCli(args(userId), { env: adminEnv });
    expect(failed.code).toBe(1);
    const command = hinted(failed);
    expect(command).toMatch(/^totp-admin enroll '/);
    const enrolled = await runInShell(command, adminEnv);
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(json(await runCli(['status', userId, '--json'], { env: adminEnv }))).toMatchObject({ userId, status: 'PENDING' });
  });

  it('ALREADY_ENROLLED names the enroll --replace command', async () => {
    const userId = odd('active');
    await activeUser(userId);
    const again = await runCli(['enroll', userId], { env: adminEnv });
    expect(again.code).toBe(1);
    const replaced = await runInShell(hinted(again), adminEnv);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toContain(`Enrolled ${userId}: PENDING`);
  });

  it('LOCKED names the unlock command, which clears the lockout', async () => {
    const userId = odd('locked');
    await activeUser(userId);
    await runCli(['verify', userId, '000000'], { env: adminEnv });
    const locked = await runCli(['verify', userId, '000000'], { env: adminEnv });
    const before = json<{ lockedUntil: string | null }>(await runCli(['status', userId, '--json'], { env: adminEnv }));
    expect(before.lockedUntil).toMatch(/Z$/);
    expect(locked.code).toBe(1);
    const unlocked = await runInShell(hinted(locked), adminEnv);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(json(await runCli(['status', userId, '--json'], { env: adminEnv }))).toMatchObject({ lockedUntil: null, failedAttempts: 0 });
  });

  it('revoking a user with nothing enrolled names a status command that checks the id', async () => {
    const userId = odd('gone');
    const revoked = await runCli(['revoke', userId, '--yes'], { env: adminEnv });
    expect(revoked.code).toBe(1);
    const status = await runInShell(hinted(revoked), adminEnv);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(`nothing is enrolled for ${userId}`);
  });
});
