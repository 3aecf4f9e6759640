import { ApiError, type GraphQLClient } from './client.js';
import { CliFailure } from './errors.js';
import { missingKeys, missingLine } from './keys.js';
import { encryptionKeys } from './operations.js';
import type { EncryptionKeyUsage } from './schema.js';

/**
 * The checks of `totp-admin doctor` (docs/api.md, "Encryption keys"): the server, the token and
 * its role, the store, the keys. Each check yields one line; a check that cannot be made because
 * an earlier one failed says so instead of failing again.
 */

export type CheckStatus = 'ok' | 'fail' | 'skipped';

export interface Check {
  readonly check: 'server' | 'token' | 'store' | 'keys';
  readonly status: CheckStatus;
  readonly detail: string;
}

const PROBE_TIMEOUT_MS = 5_000;

/** The server's base URL: the GraphQL endpoint without its `/graphql`, where /healthz and /readyz are. */
export function baseUrl(graphqlUrl: string): string {
  const url = new URL(graphqlUrl);
  url.pathname = url.pathname.replace(/\/graphql\/?$/, '').replace(/\/$/, '');
  url.search = '';
  return url.toString().replace(/\/$/, '');
}

interface Probe {
  readonly status: number;
  readonly body: { status?: string; store?: string; reason?: string };
}

/** GET a health endpoint: its status and JSON body, or the reason it could not be reached. */
async function probe(url: string): Promise<Probe | string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = (await response.json().catch(() => ({}))) as Probe['body'];
    return { status: response.status, body: typeof body === 'object' && body !== null ? body : {} };
  } catch (error) {
    const err = error as { name?: string; cause?: { code?: string }; message?: string };
    if (err.name === 'TimeoutError') return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
    return err.cause?.code ?? err.message ?? 'unknown error';
  }
}

async function serverCheck(base: string): Promise<Check> {
  const answer = await probe(`${base}/healthz`);
  if (typeof answer === 'string') return { check: 'server', status: 'fail', detail: `cannot reach ${base} (${answer})` };
  if (answer.status !== 200 || answer.body.status !== 'ok') {
    return { check: 'server', status: 'fail', detail: `${base}/healthz answered HTTP ${answer.status}: not a TOTP server, or not this path` };
  }
  return { check: 'server', status: 'ok', detail: `${base} is up` };
}

async function storeCheck(base: string): Promise<Check> {
  const answer = await probe(`${base}/readyz`);
  if (typeof answer === 'string') return { check: 'store', status: 'fail', detail: `${base}/readyz: ${answer}` };
  const kind = answer.body.store === 'memory' ? 'the embedded store (data is lost on restart)' : (answer.body.store ?? 'the store');
  if (answer.status === 200) return { check: 'store', status: 'ok', detail: `${kind} answers` };
  return { check: 'store', status: 'fail', detail: `${kind} is not ready: ${answer.body.reason ?? `HTTP ${answer.status}`}` };
}

/** The token, by asking for encryptionKeys: admin answers, app is FORBIDDEN, anything else is refused. */
async function tokenCheck(client: GraphQLClient | undefined): Promise<[Check, EncryptionKeyUsage[] | undefined]> {
  if (!client) return [{ check: 'token', status: 'fail', detail: 'no API token: pass --token or set TOTP_TOKEN' }, undefined];
  try {
    return [{ check: 'token', status: 'ok', detail: 'valid, role admin' }, await encryptionKeys(client)];
  } catch (error) {
    if (error instanceof ApiError && error.serverCode === 'FORBIDDEN') {
      return [{ check: 'token', status: 'ok', detail: 'valid, role app (the checks of keys need an admin token)' }, undefined];
    }
    if (error instanceof ApiError && error.serverCode === 'UNAUTHENTICATED') {
      return [{ check: 'token', status: 'fail', detail: 'the server does not know this token (UNAUTHENTICATED)' }, undefined];
    }
    if (error instanceof CliFailure) return [{ check: 'token', status: 'fail', detail: error.message }, undefined];
    throw error;
  }
}

function keysCheck(token: Check, keys: EncryptionKeyUsage[] | undefined): Check {
  if (!keys) {
    const why = token.status === 'ok' ? 'needs an admin token' : 'needs a valid token';
    return { check: 'keys', status: 'skipped', detail: `not checked: ${why}` };
  }
  const missing = missingKeys(keys);
  if (missing.length > 0) return { check: 'keys', status: 'fail', detail: missing.map(missingLine).join('; ') };
  const active = keys.find((k) => k.active);
  const sealed = keys.reduce((n, k) => n + k.sealedValues, 0);
  return { check: 'keys', status: 'ok', detail: `every sealed value has its key (${sealed} values; ${active?.keyId ?? '?'} is active)` };
}

/** Run the four checks; the token and keys are only asked for once the server is known to be up. */
export async function runChecks(graphqlUrl: string, client: GraphQLClient | undefined): Promise<Check[]> {
  const base = baseUrl(graphqlUrl);
  const server = await serverCheck(base);
  if (server.status !== 'ok') {
    const skipped = (check: Check['check']): Check => ({ check, status: 'skipped', detail: 'not checked: the server did not answer' });
    return [server, skipped('token'), skipped('store'), skipped('keys')];
  }
  const [[token, keys], store] = await Promise.all([tokenCheck(client), storeCheck(base)]);
  return [server, token, store, keysCheck(token, keys)];
}
