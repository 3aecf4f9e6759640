/**
 * Wrong usage (exit 2) on the built CLI as a process: each missing argument or flag on its own
 * line and then the command's usage, oclif's other parse errors in the CLI's words, and every
 * command that such a message names runs as written.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, json, runCli, stderrLines } from './support/cli.js';
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
  ])('%j: every command the message names runs as written', async (args, count) => {
    const result = await runCli(args, { env: UNREACHABLE });
    expect(result.code).toBe(2);
    await expectHintsRun(result.stderr, count);
  });
});
