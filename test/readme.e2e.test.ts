/**
 * The README's first hour, run as printed, so that it cannot rot. Its fenced blocks marked
 * ```sh runnable are run in order, each by bash in the same folder, in a copy of this working tree
 * (the files git would commit, without node_modules or build output), in the environment of
 * someone who just opened a shell; the block marked ```sh runnable server (`npm start`) runs in the
 * background meanwhile. Shell variables and functions carry from one block to the next, as in one
 * terminal. Each block must exit 0 and print what it should; a block followed by a ```json sample
 * must print JSON of the sample's shape.
 *
 * All of it runs twice: on the README's own port, 4000 (skipped with a warning when another
 * process holds it, except under CI=true, where that fails), and on a free port, with the port
 * changed in the start command and in TOTP_SERVER_URL only: every other block must reach the
 * server through $TOTP_SERVER_URL. The first run pays for `npm install` and the build in the copy
 * (a few minutes).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/redis.js';
import { isCI, requireTool } from './support/tools.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const README_PORT = 4000;
const INSTALL_TIMEOUT_MS = 8 * 60_000;
const START_TIMEOUT_MS = 5 * 60_000;

interface Block {
  /** Line of the opening fence, 1-based. */
  readonly line: number;
  readonly server: boolean;
  readonly code: string;
  /** The ```json block printed right after it, as the output to expect. */
  readonly sample: string | null;
}

/** The runnable blocks of a Markdown text, in order. */
export function runnableBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S+)(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end === -1) throw new Error(`README.md:${i + 1}: a fence that is never closed`);
    const words = open[2]!.trim().split(/\s+/);
    if (open[1] === 'sh' && words.includes('runnable')) {
      let next = end + 1;
      while (lines[next]?.trim() === '') next++;
      const sampleEnd = lines[next] === '```json' ? lines.indexOf('```', next + 1) : -1;
      blocks.push({
        line: i + 1,
        server: words.includes('server'),
        code: lines.slice(i + 1, end).join('\n'),
        sample: sampleEnd === -1 ? null : lines.slice(next + 1, sampleEnd).join('\n'),
      });
    }
    i = end;
  }
  return blocks;
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A fresh shell's environment: no TOTP, Redis or server settings, no npm lifecycle variables from
 * the npm running these tests, no NODE_ENV from vitest. npm's cache and registry settings stay, and
 * npm prefers its cache (the install is real, but need not download what the cache holds). The
 * runtime of this test run comes first on PATH, as in CI's second run.
 */
function newcomerEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const drop = /^(TOTP_|REDIS_|VITEST|OTEL_)|^(NODE_ENV|PORT|HOST|LOG_LEVEL|INIT_CWD|DEBUG|FORCE_COLOR|NODE_OPTIONS)$/;
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1', npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
  for (const [name, value] of Object.entries(process.env)) {
    if (drop.test(name)) continue;
    if (name.toLowerCase().startsWith('npm_') && !keep.has(name.toLowerCase())) continue;
    env[name] = value;
  }
  env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  return env;
}

/** The working tree as git would commit it (tracked and untracked files, not ignored ones). */
function copyTree(to: string): void {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed in ${REPO}: ${listed.stderr}`);
  for (const file of new Set(listed.stdout.split('\0').filter(Boolean))) {
    if (!existsSync(join(REPO, file))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(REPO, file), join(to, file));
  }
}

/**
 * One block, in a bash that first restores the variables and functions the blocks before it left
 * (STATE) and afterwards writes what it has now, for the next block. `set -euo pipefail`: a failing
 * command, an unset variable or a failing stage of a pipe fails the block.
 */
function script(code: string, state: string): string {
  return [
    '__before=$(compgen -v | sort)',
    `source ${JSON.stringify(state)}`,
    'set -euo pipefail',
    code,
    'set +euo pipefail',
    `for __v in $(comm -13 <(printf '%s\\n' "$__before") <(compgen -v | sort)); do`,
    '  case $__v in __*|BASH*|PIPESTATUS|FUNCNAME|_|LINENO|RANDOM|SECONDS|SRANDOM|EPOCH*|COMP*|OLDPWD|PWD) continue ;; esac',
    '  declare -p "$__v"',
    `done > ${JSON.stringify(`${state}.next`)}`,
    `declare -f >> ${JSON.stringify(`${state}.next`)}`,
    `mv ${JSON.stringify(`${state}.next`)} ${JSON.stringify(state)}`,
  ].join('\n');
}

function runBash(file: string, cwd: string, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [file], { cwd, env: newcomerEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      signalGroup(child.pid!, 'SIGKILL');
      reject(new Error(`${file} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Started {
  output(): string;
  /** Ctrl-C, as a terminal sends it: SIGINT to the whole process group (bash, npm, node). */
  stop(): Promise<unknown>;
}

/** A signal to a process group that may be gone already. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group has exited
  }
}

/** The server block in the background, once it printed that it is ready. */
function startServerBlock(code: string, cwd: string, port: number): Promise<Started> {
  const child = spawn('bash', ['-c', code], { cwd, env: newcomerEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  const started: Started = {
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      signalGroup(child.pid!, 'SIGINT');
      const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  const ready = `TOTP service ready at http://127.0.0.1:${port}/graphql`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void started.stop();
      reject(new Error(`the server block did not print "${ready}" within ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    child.stdout.on('data', () => {
      if (!output.includes(ready)) return;
      clearTimeout(timer);
      resolve(started);
    });
    void exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`the server block exited (${c}) before it was ready:\n${output}`));
    });
  });
}

/** True when something listens on (or holds) 127.0.0.1:port. */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

/**
 * The JSON a block printed has the sample's shape: the same keys all the way down, the same
 * booleans, nulls and enum values (upper-case words such as PENDING), strings and numbers where
 * the sample has them (secrets, times and URIs differ from run to run).
 */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
  }
  if (typeof value === 'string') return /^[A-Z][A-Z_]+$/.test(value) ? value : '<string>';
  if (typeof value === 'number') return '<number>';
  return value;
}

/** What each runnable block must print, in README order, each named by a piece of its text. */
interface Expectation {
  readonly has: string;
  readonly check: (ran: Ran, dir: string) => void;
}

// CI=true fails here without zbarimg; elsewhere the QR check is skipped with a warning.
const zbarimg = requireTool('zbarimg');

const EXPECTATIONS: readonly Expectation[] = [
  { has: 'npm install', check: (r) => expect(r.stdout).toMatch(/(added|changed|removed) \d+ packages?|up to date/) },
  { has: 'export TOTP_SERVER_URL=', check: (r) => expect(r.stdout).toBe('') },
  {
    has: 'enrollTotp(input: $input)',
    check: (r, dir) => {
      const enrolled = (JSON.parse(readFileSync(join(dir, 'alice.json'), 'utf8')) as { data: { enrollTotp: Record<string, string> } }).data.enrollTotp;
      expect(enrolled.status).toBe('PENDING');
      expect(enrolled.secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(enrolled.qrCodeDataUrl).toMatch(/^data:image\/png;base64,/);
      expect(r.stdout).not.toContain('qrCodeDataUrl');
    },
  },
  {
    has: 'alice.png',
    check: (_r, dir) => {
      const png = readFileSync(join(dir, 'alice.png'));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      if (!zbarimg) return;
      const uri = (JSON.parse(readFileSync(join(dir, 'alice.json'), 'utf8')) as { data: { enrollTotp: { otpauthUri: string } } }).data.enrollTotp.otpauthUri;
      const read = spawnSync(zbarimg, ['-q', '--raw', join(dir, 'alice.png')], { encoding: 'utf8' });
      expect(read.stdout.trim()).toBe(uri);
    },
  },
  {
    has: 'verifyTotp(userId: $userId, code: $code)',
    check: (r) => expect(JSON.parse(r.stdout)).toEqual({ data: { verifyTotp: { valid: true, outcome: 'ACCEPTED', activated: true, deviceName: 'default' } } }),
  },
  {
    has: 'npx totp-admin status alice',
    check: (r) => {
      expect(r.stdout).toMatch(/^Status\s+ACTIVE$/m);
      expect(r.stdout).toContain('Enrolled bob: PENDING');
      expect(r.stdout).toContain('otpauth://totp/Acme:bob?secret=');
      expect(r.stdout).toContain('ACTIVATED');
    },
  },
  {
    has: '--device backup',
    check: (r) => {
      expect(r.stdout).toMatch(/ACCEPTED.*"backup"/);
      expect(r.stdout).toMatch(/^0\s+default\s+ACTIVE/m);
      expect(r.stdout).toMatch(/^1\s+backup\s+ACTIVE/m);
    },
  },
  { has: 'keygen --name shop --role app', check: (r) => expect(r.stdout).toMatch(/^TOTP_API_KEYS entry\s+shop:app:sha256:[0-9a-f]{64}$/m) },
  {
    has: 'totp-admin doctor',
    check: (r) => {
      expect(r.stdout).toMatch(/^ok\s+token\s+valid, role admin$/m);
      expect(r.stdout).toMatch(/^ok\s+keys\s+every sealed value has its key/m);
      expect(r.stdout.trim().split('\n').filter((line) => line.startsWith('ok '))).toHaveLength(4);
    },
  },
];

const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const BLOCKS = runnableBlocks(README);
const tools = ['curl', 'jq', 'oathtool'] as const;
const missing = tools.filter((t) => requireTool(t) === null);
const defaultPortTaken = await portTaken(README_PORT);
if (defaultPortTaken && !isCI()) {
  console.warn(`skipping the README's first hour on port ${README_PORT}: another process holds 127.0.0.1:${README_PORT} (it still runs on a free port)`);
}

describe('README.md', () => {
  it('has one server block and, in order, the runnable blocks this test knows what to expect of', () => {
    expect(BLOCKS.filter((b) => b.server).map((b) => b.code)).toEqual([expect.stringMatching(/\bPORT=4000 npm start$/)]);
    const clients = BLOCKS.filter((b) => !b.server);
    expect(clients.map((b) => EXPECTATIONS.findIndex((e) => b.code.includes(e.has)))).toEqual(EXPECTATIONS.map((_e, i) => i));
  });

  it('names the server only in the start command and TOTP_SERVER_URL (other blocks use the variable)', () => {
    const clients = BLOCKS.filter((b) => !b.server);
    const naming = clients.filter((b) => /127\.0\.0\.1|localhost|:4000\b/.test(b.code));
    expect(naming.map((b) => b.code)).toEqual([expect.stringContaining(`export TOTP_SERVER_URL=http://127.0.0.1:${README_PORT}/graphql`)]);
  });
});

describe.skipIf(missing.length > 0)('the README, run as printed', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'totp-readme-'));
    copyTree(dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Every block against a server on `port`: the README as printed, but for the port. */
  async function firstHour(port: number): Promise<void> {
    const onPort = (code: string) => code.replaceAll(`PORT=${README_PORT} `, `PORT=${port} `).replaceAll(`127.0.0.1:${README_PORT}/`, `127.0.0.1:${port}/`);
    const state = join(dir, `.readme-state-${port}`);
    writeFileSync(state, '');
    let server: Started | undefined;
    try {
      let expectation = 0;
      for (const block of BLOCKS) {
        if (block.server) {
          server = await startServerBlock(onPort(block.code), dir, port);
          continue;
        }
        const file = join(dir, `.readme-block-${block.line}.sh`);
        writeFileSync(file, script(onPort(block.code), state));
        const ran = await runBash(file, dir, block.code.includes('npm install') ? INSTALL_TIMEOUT_MS : 120_000);
        const where = `README.md:${block.line} on port ${port}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}\n--- server\n${server?.output() ?? ''}`;
        expect(ran.code, where).toBe(0);
        if (block.sample !== null) expect(shapeOf(JSON.parse(ran.stdout)), where).toEqual(shapeOf(JSON.parse(block.sample)));
        EXPECTATIONS[expectation++]!.check(ran, dir);
      }
      expect(server, 'the server block never ran').toBeDefined();
    } finally {
      await server?.stop();
    }
    // Ctrl-C: the server drained and stopped by itself (the exit statuses are npm's and bash's)
    expect(server!.output()).toContain('"msg":"stopped"');
  }

  it.skipIf(defaultPortTaken && !isCI())(`works on the default port, ${README_PORT}`, async () => {
    expect(defaultPortTaken, `another process holds 127.0.0.1:${README_PORT}, the README's port: CI=true requires it free`).toBe(false);
    await firstHour(README_PORT);
  }, INSTALL_TIMEOUT_MS + START_TIMEOUT_MS + 5 * 60_000);

  it('works on another port, with only PORT and TOTP_SERVER_URL changed', async () => {
    await firstHour(await freePort());
  }, INSTALL_TIMEOUT_MS + START_TIMEOUT_MS + 5 * 60_000);
});
