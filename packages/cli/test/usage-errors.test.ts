/**
 * Wrong usage (exit 2) on the built CLI as a process: each missing argument or flag on its own
 * line and then the command's usage, oclif's other parse errors in the CLI's words (the plugins'
 * commands' too), and every command that such a message names runs as written.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanEnv, json, runCli, stderrLines } from './support/cli.js';
import { expectHintsRun, UNREACHABLE } from './support/hints.js';

beforeAll(() => assertBuilt());

describe('usage errors: one line per problem, and the usage', () => {
  it('keygen without its flags names each missing flag on its own line, then the usage', async () => {
    const result = await runCli(['keygen']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(stderrLines(result)).toEqual([
      'totp-admin: missing flag --name <name>',
      'totp-admin: missing flag --role <app|admin>',
      'totp-admin: usage: totp-admin keygen --name <name> --role <app|admin> [--json]; see `totp-admin keygen --help`',
    ]);
    await expectHintsRun(result.stderr, 1);
  });

  it('verify without its arguments: each missing argument, then the usage', async () => {
    const result = await runCli(['verify']);
    expect(result.code).toBe(2);
    expect(stderrLines(result)).toEqual([
      'totp-admin: missing argument <userId>',
      'totp-admin: missing argument <code>',
      'totp-admin: usage: totp-admin verify <userId> <code> [flags]; see `totp-admin verify --help`',
    ]);
  });

  it('rename-device without its device id and name: each missing argument, then the usage', async () => {
    const result = await runCli(['rename-device', 'alice']);
    expect(result.code).toBe(2);
    expect(stderrLines(result)).toEqual([
      'totp-admin: missing argument <deviceId>',
      'totp-admin: missing argument <name>',
      'totp-admin: usage: totp-admin rename-device <userId> <deviceId> <name> [flags]; see `totp-admin rename-device --help`',
    ]);
  });

  it('one problem stays one line, with the usage at its end', async () => {
    const result = await runCli(['keygen', '--name', 'shop']);
    expect(stderrLines(result)).toEqual([
      'totp-admin: missing flag --role <app|admin>; see `totp-admin keygen --help` (usage: totp-admin keygen --name <name> --role <app|admin> [--json])',
    ]);
  });

  it('with --json: one document naming every problem', async () => {
    const result = await runCli(['keygen', '--json']);
    expect(result.code).toBe(2);
    expect(json(result)).toEqual({
      error: { code: 'USAGE', message: 'missing flag --name <name>; missing flag --role <app|admin>', hint: 'see `totp-admin keygen --help`', exitStatus: 2 },
    });
  });

  it('an unknown flag names the nearest real one', async () => {
    const result = await runCli(['enroll', 'alice', '--isuer', 'Acme'], { env: { TOTP_TOKEN: 'x' } });
    expect(result.code).toBe(2);
    expect(stderrLines(result)).toEqual([expect.stringMatching(/^totp-admin: unknown flag --isuer; did you mean --issuer\?; see `totp-admin enroll --help`/)]);
  });

  it('a value outside a flag\'s choices says which values it takes', async () => {
    const result = await runCli(['keygen', '--name', 'shop', '--role', 'root']);
    expect(stderrLines(result)).toEqual(['totp-admin: --role "root" must be one of: app, admin; see `totp-admin keygen --help`']);
  });

  it.each([
    [['enroll'], 1],
    [['status', 'alice', 'extra'], 1],
    [['audit', '--follow', '--until', '1h'], 1],
    [['revoke', 'alice'], 0],
    [['revoke', 'alice', '--device', '', '--yes'], 1],
    [['enroll', 'alice', '--device', ' '], 0],
    [['rename-device', "o'brien", '', 'backup'], 1],
  ])('%j: every command the message names runs as written', async (args, count) => {
    const result = await runCli(args, { env: UNREACHABLE });
    expect(result.code).toBe(2);
    await expectHintsRun(result.stderr, count);
  });
});

describe("the oclif plugins' commands follow the same rules", () => {
  it.each([
    [['autocomplete', 'fish'], 'totp-admin: "fish" must be one of: zsh, bash, powershell; see `totp-admin autocomplete --help`'],
    [['help', '--bogus'], 'totp-admin: unknown flag --bogus; see `totp-admin help --help` (usage: totp-admin help [<command>] [--nested-commands])'],
    [['version', '--bogus'], 'totp-admin: unknown flag --bogus; see `totp-admin version --help` (usage: totp-admin version [flags])'],
  ])('%j: exit 2 and one line', async (args, line) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(stderrLines(result)).toEqual([line]);
    await expectHintsRun(result.stderr, 1);
  });

  it('with --json, which help does not take, the error document', async () => {
    const result = await runCli(['help', 'enroll', '--json']);
    expect(result.code).toBe(2);
    expect(json(result)).toMatchObject({ error: { code: 'USAGE', message: 'unknown flag --json', exitStatus: 2 } });
  });
});

describe('a checkout that was not built', () => {
  it('says so in one line, naming the command that builds it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'totp-unbuilt-'));
    try {
      const cli = fileURLToPath(new URL('..', import.meta.url));
      for (const part of ['bin', 'package.json']) cpSync(join(cli, part), join(dir, 'cli', part), { recursive: true });
      symlinkSync(fileURLToPath(new URL('../../../node_modules', import.meta.url)), join(dir, 'node_modules'));
      for (const args of [['--help'], ['code', 'JBSWY3DPEHPK3PXP']]) {
        const result = spawnSync(process.execPath, [join(dir, 'cli', 'bin', 'run.js'), ...args], { encoding: 'utf8', env: cleanEnv() });
        expect(result.status).toBe(1);
        expect(result.stderr).toBe('totp-admin: the CLI is not built (packages/cli/dist is missing); run `npm run build` at the repository root\n');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
