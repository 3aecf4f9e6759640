/**
 * The built server as a real process, for end-to-end tests: `startServer({ env })` runs
 * packages/server/dist/main.js on a free port, waits until it prints where it listens, and hands
 * back its URL, a token and a GraphQL helper. Logs (stdout and stderr) are kept for inspection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis.js';

export const SERVER_MAIN = fileURLToPath(new URL('../../packages/server/dist/main.js', import.meta.url));

export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const APP_TOKEN = 'app-token-0123456789abcdef';
export const TEST_API_KEYS = `ops:admin:${ADMIN_TOKEN},shop:app:${APP_TOKEN}`;

/** A fresh `kid:base64` entry for TOTP_ENCRYPTION_KEYS. */
export function encryptionKey(kid = 'k1'): string {
  return `${kid}:${randomBytes(32).toString('base64')}`;
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly data?: T | null;
  readonly errors?: { message: string; extensions?: { code?: string; argument?: string } }[];
  readonly headers: Headers;
}

export interface ServerProcess {
  readonly url: string;
  readonly base: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Everything the process wrote, so far. */
  stdout(): string;
  stderr(): string;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GraphQLResponse<T>>;
  /** SIGTERM and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  readonly env?: Record<string, string | undefined>;
  readonly port?: number;
  /** Wait this long for start-up. */
  readonly timeoutMs?: number;
  /** Another build's entry point (the previous release, in the upgrade test). */
  readonly main?: string;
  /** Arguments after the entry point. */
  readonly args?: readonly string[];
}

export async function startServer(opts: StartOptions = {}): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NODE_ENV: 'test', TOTP_API_KEYS: TEST_API_KEYS, LOG_LEVEL: 'info', ...opts.env, PORT: String(port), HOST: '127.0.0.1' })) {
    if (v !== undefined) env[k] = v;
  }
  const child = spawn(process.execPath, [opts.main ?? SERVER_MAIN, ...(opts.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${opts.timeoutMs ?? 15000} ms\n${out}\n${err}`)), opts.timeoutMs ?? 15_000);
    const check = () => {
      const m = /ready at (http:\/\/\S+\/graphql)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready\n${out}\n${err}`));
    });
  });

  const base = url.replace(/\/graphql$/, '');
  return {
    url,
    base,
    port,
    process: child,
    stdout: () => out,
    stderr: () => err,
    async gql(query, variables, token = ADMIN_TOKEN) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: never; errors?: never };
      return { status: res.status, data: body.data, errors: body.errors, headers: res.headers };
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
