/**
 * The commands that the CLI's messages name, run as a user would paste them: from a shell, with
 * `totp-admin` found on PATH where `npx` finds it (node_modules/.bin).
 */
import { spawn, spawnSync } from 'node:child_process';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { cleanEnv, CLI_BIN, type RunResult } from './cli.js';

const BIN_DIR = fileURLToPath(new URL('../../../../node_modules/.bin', import.meta.url));

/**
 * The environment for the commands a hint names: a token, and a server that is not there. A
 * server command gets as far as trying to connect (exit 1), which shows that its command line
 * is right; a local one runs.
 */
export const UNREACHABLE = { TOTP_TOKEN: 'x', TOTP_SERVER_URL: 'http://127.0.0.1:9/graphql' } as const;

/** Every `totp-admin …` command quoted in backticks in `text`, in order. */
export function hintedCommands(text: string): string[] {
  return [...text.matchAll(/`(totp-admin(?: [^`]*)?)`/g)].map((m) => m[1]!);
}

/** Run `command` with sh, as pasted into a terminal. */
export function runInShell(command: string, env: Readonly<Record<string, string | undefined>> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const path = `${BIN_DIR}${delimiter}${process.env.PATH ?? ''}`;
    const child = spawn('sh', ['-c', command], { env: cleanEnv({ PATH: path, ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `stderr` names `expected` commands in backticks, and each runs as written: never wrong usage (exit 2). */
export async function expectHintsRun(stderr: string, expected: number): Promise<void> {
  const commands = hintedCommands(stderr);
  expect(commands, stderr).toHaveLength(expected);
  for (const command of commands) {
    const result = await runInShell(command, UNREACHABLE);
    expect(result.code, `${command}\n${result.stderr}`).not.toBeNull();
    expect(result.code, `${command}\n${result.stderr}`).not.toBe(2);
  }
}

/** util-linux `script`, which runs a command on a pseudo-terminal; null when it is missing. */
export function scriptTool(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).stdout.trim() || null;
  if (!found && process.env.CI === 'true') throw new Error('script (util-linux) is not on PATH; CI=true requires it (apt-get install bsdutils)');
  return found;
}

/**
 * Run `totp-admin …args` on a pseudo-terminal and type `answer` (then Enter) once `prompt`
 * shows; what the terminal showed, with colours and cursor moves removed, and the exit status.
 * `env` is added to the clean environment (a server and a token).
 */
export function onTerminal(
  script: string,
  args: readonly string[],
  prompt: string,
  answer: string,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<{ code: number | null; output: string }> {
  const quote = (a: string): string => `'${a.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, CLI_BIN, ...args].map(quote).join(' ');
  const child = spawn(script, ['-qec', command, '/dev/null'], { env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let answered = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    if (!answered && output.includes(prompt)) {
      answered = true;
      child.stdin.write(`${answer}\r`);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      // eslint-disable-next-line no-control-regex -- terminal escape sequences start with ESC
      resolve({ code, output: output.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '') });
    }),
  );
}
