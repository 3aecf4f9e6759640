/**
 * Run the built `totp-admin` as a real process, the way operators and scripts do: no module
 * mocking, only argv, environment, stdin, stdout, stderr and the exit status.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI_BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const MANIFEST = fileURLToPath(new URL('../../oclif.manifest.json', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/commands/code.js', import.meta.url));

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Added to (or, as undefined, removed from) a clean environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Written to stdin, which is then closed; without it stdin is empty. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** The test runner's environment without anything that would change the CLI's behaviour. */
export function cleanEnv(extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const name of ['TOTP_SERVER_URL', 'TOTP_TOKEN', 'NODE_ENV', 'DEBUG', 'FORCE_COLOR', 'TOTP_ADMIN_CONTENT_TYPE']) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Fail with one clear line when the CLI was not built (the tests run dist/, as users do). */
export function assertBuilt(): void {
  if (!existsSync(BUILT) || !existsSync(MANIFEST)) {
    throw new Error('packages/cli is not built: run `npm run build` (or `npx turbo run build`) first');
  }
}

/** Run `totp-admin …args` to completion. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env: cleanEnv(options.env), stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`totp-admin ${args.join(' ')} did not finish within ${options.timeoutMs ?? 30_000} ms\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Parse stdout as exactly one JSON document (what `--json` promises), or fail saying why. */
export function json<T = Record<string, unknown>>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${result.stdout}\n--- stderr:\n${result.stderr}`);
  }
}

/** The lines of stderr, for the rule "one readable line per failure". */
export function stderrLines(result: RunResult): string[] {
  return result.stderr.split('\n').filter((line) => line.trim() !== '');
}
