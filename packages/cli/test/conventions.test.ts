/**
 * The oclif conventions, on the built CLI as a process: `help` and `-h` (@oclif/plugin-help),
 * "did you mean" for a typo (@oclif/plugin-not-found, through the CLI's own hook), shell
 * completion (@oclif/plugin-autocomplete), `version` (@oclif/plugin-version); and every
 * command that their messages name runs as written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, json, runCli, stderrLines } from './support/cli.js';
import { expectHintsRun, onTerminal, scriptTool } from './support/hints.js';

const OWN = ['enroll', 'verify', 'revoke', 'status', 'devices', 'rename-device', 'list', 'unlock', 'recovery-codes', 'import', 'export', 'rekey', 'keys', 'doctor', 'audit', 'code', 'keygen', 'export-key'];
const PLUGINS = ['help', 'autocomplete', 'version'];
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const script = scriptTool();

/** Where an installed package lives (its exports may hide its package.json). */
function packageRoot(name: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  while (!existsSync(join(dir, 'package.json')) || (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name !== name) {
    if (dirname(dir) === dir) throw new Error(`no package.json of ${name} above its entry point`);
    dir = dirname(dir);
  }
  return dir;
}

beforeAll(() => assertBuilt());

const REGISTER_LOADS = fileURLToPath(new URL('./support/register-loads.mjs', import.meta.url));

describe('start-up', () => {
  it("--help reads the commands from the manifest: it loads no command's code and not the core", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'totp-loads-'));
    try {
      const file = join(dir, 'loads.txt');
      const result = await runCli(['--help'], { env: { NODE_OPTIONS: `--import=${pathToFileURL(REGISTER_LOADS).href}`, RECORD_LOADS_FILE: file } });
      expect(result.code, result.stderr).toBe(0);
      const loaded = readFileSync(file, 'utf8').trim().split('\n');
      expect(loaded).toContainEqual(expect.stringMatching(/\/dist\/help\.js$/));
      expect(loaded.filter((url) => url.includes('/dist/commands/') || url.includes('/core/dist/'))).toEqual([]);
      const manifest = JSON.parse(readFileSync(new URL('../oclif.manifest.json', import.meta.url), 'utf8')) as { commands: Record<string, unknown> };
      expect(Object.keys(manifest.commands).toSorted()).toEqual([...OWN].toSorted());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every registered plugin ships an oclif manifest, so that none of its code loads until its command runs', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { oclif: { plugins: string[] } };
    expect(pkg.oclif.plugins.toSorted()).toEqual(['@oclif/plugin-autocomplete', '@oclif/plugin-help', '@oclif/plugin-version']);
    for (const plugin of pkg.oclif.plugins) {
      const manifest = JSON.parse(readFileSync(join(packageRoot(plugin), 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
      expect(Object.keys(manifest.commands).length, plugin).toBeGreaterThan(0);
    }
  });
});

describe('help: `help`, `help <command>`, -h and --help (plugin-help)', () => {
  it('`help` is the grouped root help, the same as --help and as no command at all', async () => {
    const [help, flag, bare] = await Promise.all([runCli(['help']), runCli(['--help']), runCli([])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(flag.stdout);
    expect(help.stdout).toBe(bare.stdout);
    for (const heading of ['USER FACTORS', 'OPERATIONS', 'LOCAL TOOLS', 'HELP AND SHELL', 'EXIT STATUS']) expect(help.stdout).toContain(heading);
    expect(help.stdout).not.toContain('OTHER COMMANDS');
    for (const id of PLUGINS) expect(help.stdout).toMatch(new RegExp(`^  ${id}\\s+\\S`, 'm'));
  });

  it('`help -h` and `help --help` show help too', async () => {
    for (const flag of ['-h', '--help']) {
      const result = await runCli(['help', flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('USAGE');
    }
  });

  it.each([...OWN, 'autocomplete', 'version'])('`help %s`, `-h` and `--help` show the same command help', async (id) => {
    const [viaHelp, short, long] = await Promise.all([runCli(['help', id]), runCli([id, '-h']), runCli([id, '--help'])]);
    expect(viaHelp.code, viaHelp.stderr).toBe(0);
    expect(viaHelp.stdout).toMatch(new RegExp(`^USAGE\\n\\s+\\$ totp-admin ${id}`, 'm'));
    expect(short.stdout).toBe(viaHelp.stdout);
    expect(long.stdout).toBe(viaHelp.stdout);
    expect(short.code).toBe(0);
  });

  it('-h works after arguments too, as --help does', async () => {
    const result = await runCli(['verify', 'alice', '-h']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('$ totp-admin verify USERID CODE');
  });

  it.each([
    [['help', 'enrol'], 'totp-admin help enroll'],
    [['enrol', '--help'], 'totp-admin help enroll'],
    [['help', 'recovery'], 'totp-admin help recovery-codes'],
  ])('%j: unknown, exit 2, one line naming `%s`, which runs', async (args, meant) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(stderrLines(result)).toEqual([expect.stringContaining(`did you mean \`${meant}\`?`)]);
    await expectHintsRun(result.stderr, 2);
  });
});

describe('an unknown command (plugin-not-found)', () => {
  it.each([
    [['enrol', 'alice'], 'totp-admin enroll alice'],
    [['rekye'], 'totp-admin rekey'],
    [['verfy', 'alice', '123456', '--client-ip', '10.0.0.1'], 'totp-admin verify alice 123456 --client-ip 10.0.0.1'],
    [['recovery', 'alice'], 'totp-admin recovery-codes alice'],
    [['lsit', '--limit', '5'], 'totp-admin list --limit 5'],
    [['Status', "o'brien"], `totp-admin status 'o'\\''brien'`],
    [['kode', SECRET], `totp-admin code ${SECRET}`],
    [['hepl'], 'totp-admin help'],
    [['versoin'], 'totp-admin version'],
  ])('%j: exit 2, one line: did you mean `%s`? (which runs as written)', async (args, meant) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(stderrLines(result)).toEqual([
      `totp-admin: unknown command ${JSON.stringify(args[0])}; did you mean \`${meant}\`? (\`totp-admin help\` lists the commands)`,
    ]);
    await expectHintsRun(result.stderr, 2);
  });

  it('a word like no command gets no guess', async () => {
    const result = await runCli(['bogus', 'alice']);
    expect(result.code).toBe(2);
    expect(stderrLines(result)).toEqual(['totp-admin: unknown command "bogus"; see `totp-admin help` for the commands']);
  });

  it('does not repeat a --token value in the suggestion', async () => {
    const result = await runCli(['stauts', 'alice', '--token', 'sekrit-token-value']);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('sekrit');
    expect(result.stderr).toContain('did you mean `totp-admin status alice`?');
  });

  it('with --json: the error document, with the suggestion as its hint', async () => {
    const result = await runCli(['enrol', 'alice', '--json']);
    expect(result.code).toBe(2);
    expect(json(result)).toEqual({
      error: {
        code: 'USAGE',
        message: 'unknown command "enrol"',
        hint: 'did you mean `totp-admin enroll alice --json`? (`totp-admin help` lists the commands)',
        exitStatus: 2,
      },
    });
  });

  describe.skipIf(!script)('on a terminal, the plugin asks and runs the command on yes', () => {
    it('yes: runs it', async () => {
      const result = await onTerminal(script!, ['kode', SECRET, '--at', '2030-01-01T00:00:17Z'], 'Did you mean', 'y');
      expect(result.output).toContain('unknown command "kode"');
      expect(result.output).toMatch(/Did you mean code\?/);
      expect(result.output).toMatch(/^\d{6} {2}\(13 s left\)/m);
      expect(result.code).toBe(0);
    });

    it('no: wrong usage, exit 2', async () => {
      const result = await onTerminal(script!, ['kode', SECRET], 'Did you mean', 'n');
      expect(result.output).toContain('totp-admin: see `totp-admin help` for the commands');
      expect(result.code).toBe(2);
    });
  });
});

describe('version (plugin-version)', () => {
  it('`version`, `--version` and `version --json` name the CLI, its version, the platform and Node.js', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const [command, flag, asJson] = await Promise.all([runCli(['version']), runCli(['--version']), runCli(['version', '--json'])]);
    expect(command.code).toBe(0);
    expect(command.stdout).toBe(`@totp-service/cli/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`);
    expect(flag.stdout).toBe(command.stdout);
    expect(json(asJson)).toMatchObject({ cliVersion: `@totp-service/cli/${pkg.version}`, nodeVersion: `node-${process.version}` });
  });
});

describe('shell completion (plugin-autocomplete)', () => {
  let home: string;
  const env = (): Record<string, string> => ({ HOME: home, XDG_CACHE_HOME: join(home, '.cache') });
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'totp-autocomplete-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('`autocomplete bash` explains the setup; the script it installs completes commands and flags in bash', async () => {
    const instructions = await runCli(['autocomplete', 'bash'], { env: env() });
    expect(instructions.code, instructions.stderr).toBe(0);
    expect(instructions.stdout).toContain('totp-admin autocomplete script bash');
    const setup = await runCli(['autocomplete', 'script', 'bash'], { env: env() });
    expect(setup.code).toBe(0);
    const complete = (words: string): string[] => {
      const line = `${setup.stdout.trim()}\nCOMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _totp-admin_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const bash = spawnSync('bash', ['-c', line], { encoding: 'utf8', env: { ...process.env, ...env() } });
      expect(bash.status, bash.stderr).toBe(0);
      return bash.stdout.trim().split('\n');
    };
    expect(complete('totp-admin enr')).toEqual(['enroll']);
    expect(complete('totp-admin re')).toEqual(expect.arrayContaining(['revoke', 'rekey', 'recovery-codes']));
    expect(complete('totp-admin keygen --r')).toEqual(['--role']);
  });

  it('`autocomplete zsh` writes a zsh completion function with every command', async () => {
    const result = await runCli(['autocomplete', 'zsh'], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    const zsh = readFileSync(join(home, '.cache', 'totp-admin', 'autocomplete', 'functions', 'zsh', '_totp-admin'), 'utf8');
    for (const id of OWN) expect(zsh).toContain(`"${id}[`);
  });
});
