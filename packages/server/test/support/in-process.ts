/**
 * The whole server (createServer) in this process, listening on a free loopback port, over a
 * real store: for tests that attack the HTTP and GraphQL surface without the cost of a process
 * per server. Tests of the built server as a process live in /test.
 */
import { DEFAULT_POLICY, type Policy } from '@totp-service/core';
import type { Store } from '../../src/store/store.js';
import { sha256, type ApiKey } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createServer, type ServerDeps, type TotpServer } from '../../src/server.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { CountingKeyRing } from '../contract/harness.js';

export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const APP_TOKEN = 'app-token-0123456789abcdef';
export const API_KEYS: readonly ApiKey[] = [
  { name: 'ops', role: 'admin', digest: sha256(ADMIN_TOKEN) },
  { name: 'shop', role: 'app', digest: sha256(APP_TOKEN) },
];

export interface Reply {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
  /** The body as JSON, or undefined when it is not JSON. */
  readonly json: { data?: Record<string, unknown> | null; errors?: GqlError[] } | undefined;
}
export interface GqlError {
  readonly message: string;
  readonly extensions?: { code?: string; argument?: string; limit?: string; stacktrace?: unknown };
  readonly locations?: unknown;
}

export interface InProcessServer {
  readonly server: TotpServer;
  readonly store: Store;
  readonly keyRing: CountingKeyRing;
  readonly url: string;
  readonly base: string;
  /** POST a body (an object is sent as JSON) with headers; JSON and the app token by default. */
  post(body: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** A GraphQL operation with variables, as the app (or `token`). */
  gql(query: string, variables?: Record<string, unknown>, token?: string): Promise<Reply>;
  close(): Promise<void>;
}

export interface InProcessOptions extends Partial<Omit<ServerDeps, 'policy'>> {
  readonly policy?: Partial<Policy>;
  /** Where the logs go (silent by default). */
  readonly logger?: Logger;
}

export async function startInProcess(opts: InProcessOptions = {}): Promise<InProcessServer> {
  const store = opts.store ?? new MemoryStore({ auditMaxEvents: 100_000, auditUserMaxEvents: 10_000 });
  const keyRing = (opts.keyRing as CountingKeyRing | undefined) ?? new CountingKeyRing([{ id: 'k1', key: Buffer.alloc(32, 9) }]);
  const server = await createServer({
    ...opts,
    store,
    keyRing,
    apiKeys: opts.apiKeys ?? API_KEYS,
    policy: Object.freeze({ ...DEFAULT_POLICY, ...opts.policy }),
    issuer: opts.issuer ?? 'Test',
    logger: opts.logger ?? createLogger('silent'),
  });
  const url = await server.listen(0, '127.0.0.1');
  const base = url.replace(/\/graphql$/, '');

  async function post(body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}`, ...headers },
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    return reply(res);
  }
  return {
    server,
    store,
    keyRing,
    url,
    base,
    post,
    gql: (query, variables, token = APP_TOKEN) => post({ query, variables }, { authorization: `Bearer ${token}` }),
    async close() {
      await server.stop();
      await store.close();
    },
  };
}

export async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let json: Reply['json'];
  try {
    json = JSON.parse(text) as Reply['json'];
  } catch {
    json = undefined;
  }
  return { status: res.status, text, headers: res.headers, json };
}
