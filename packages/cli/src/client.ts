import { CliFailure, EXIT, usageError } from './errors.js';
import { shellArg } from './format.js';

/**
 * A small typed GraphQL client over Node's built-in fetch: one POST per operation, the API key as
 * a bearer token, and every way a call can fail turned into a CliFailure that names the next step.
 * No GraphQL library: the CLI must start fast, and the documents are fixed strings.
 */

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:4000/graphql';

/** One entry of a GraphQL response's `errors` (the GraphQL over HTTP spec). */
export interface GraphQLErrorEntry {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions?: { readonly code?: string; readonly [key: string]: unknown };
}

/** An error the server answered: `code` is `extensions.code` as docs/api.md lists it. */
export class ApiError extends CliFailure {
  constructor(
    readonly serverCode: string,
    message: string,
    hint: string | undefined,
    /** With BAD_USER_INPUT: the argument at fault (`extensions.argument`), e.g. `name`. */
    readonly argument?: string,
  ) {
    super(message, { code: serverCode, exit: EXIT.FAILED, ...(hint ? { hint } : {}) });
  }
}

/** The error of one aliased field of a request. */
export interface FieldError {
  readonly alias: string;
  readonly error: ApiError;
}

export interface ClientOptions {
  readonly url: string;
  readonly token: string;
  /** Give up on an answer after this long. */
  readonly timeoutMs?: number;
}

/**
 * Accept the endpoint as given, or a server's base URL (`http://host:4000`), to which `/graphql`
 * is added. Anything that is not an http(s) URL is wrong usage.
 */
export function normalizeServerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw usageError(`--server ${JSON.stringify(raw)} is not a URL`, 'pass e.g. --server http://127.0.0.1:4000/graphql');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`--server must be an http:// or https:// URL, not ${url.protocol}`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
  return url.toString();
}

export class GraphQLClient {
  readonly url: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions) {
    this.url = options.url;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** Run one operation and return its `data`, or throw the CliFailure that explains why not. */
  async request<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
    const { data, errors, status } = await this.post<T>(query, variables, signal);
    if (errors[0]) throw apiError(errors[0], status, variables);
    return data!;
  }

  /**
   * Run an operation of several aliased fields and return what came back: `data` (null when a
   * non-null field failed) and each field's errors, which carry its alias in `path`. An error of
   * the whole request (no path: the token, a refused document) is thrown as request() does.
   */
  async requestFields<T>(query: string, variables: Record<string, unknown>): Promise<{ data: T | null; errors: FieldError[] }> {
    const { data, errors, status } = await this.post<T>(query, variables);
    const whole = errors.find((e) => typeof e.path?.[0] !== 'string');
    if (whole) throw apiError(whole, status, variables);
    return { data, errors: errors.map((e) => ({ alias: e.path![0] as string, error: apiError(e, status, variables) })) };
  }

  private async post<T>(
    query: string,
    variables: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ data: T | null; errors: GraphQLErrorEntry[]; status: number }> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${this.token}`,
        },
        body: JSON.stringify({ query, variables }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw this.unreachable(error);
    }
    const text = await response.text().catch(() => '');
    let body: { data?: unknown; errors?: GraphQLErrorEntry[] } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    const errors = Array.isArray(body?.errors) ? body.errors : [];
    if (errors.length > 0) return { data: (body?.data ?? null) as T | null, errors, status: response.status };
    if (response.status === 401) throw apiError({ message: 'no valid API token', extensions: { code: 'UNAUTHENTICATED' } }, 401, variables);
    if (!response.ok || body === undefined || body.data === undefined || body.data === null) {
      throw new CliFailure(
        `the server at ${this.url} did not answer like the TOTP GraphQL API (HTTP ${response.status}${
          response.headers.get('content-type') ? `, ${response.headers.get('content-type')}` : ''
        })`,
        { code: 'BAD_RESPONSE', hint: 'check --server (or TOTP_SERVER_URL): it must be the /graphql endpoint' },
      );
    }
    return { data: body.data as T, errors: [], status: response.status };
  }

  private unreachable(error: unknown): CliFailure {
    const err = error as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
      return new CliFailure(`the server at ${this.url} did not answer within ${Math.round(this.timeoutMs / 1000)} s`, {
        code: 'SERVER_TIMEOUT',
        hint: 'check that it is healthy (GET /readyz) and retry',
      });
    }
    const reason = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? 'unknown error';
    return new CliFailure(`cannot reach the server at ${this.url} (${reason})`, {
      code: 'SERVER_UNREACHABLE',
      hint: 'start it, or point --server (or TOTP_SERVER_URL) at it',
    });
  }
}

// A command that makes an admin key as written; its entry goes into the servers' TOTP_API_KEYS.
const KEYGEN = '`totp-admin keygen --name ops --role admin` makes one to add to TOTP_API_KEYS';

/**
 * What to do next for each public error code (docs/api.md "Error codes"). A command in a hint runs as
 * written: the user id of the request, quoted for the shell, rather than a placeholder.
 */
const HINTS: Readonly<Record<string, (userId: string | undefined) => string>> = {
  UNAUTHENTICATED: () =>
    `pass a valid API token with --token or the TOTP_TOKEN environment variable (the server prints an admin token at start-up when TOTP_API_KEYS is unset; ${KEYGEN})`,
  FORBIDDEN: () => `pass an admin key instead (${KEYGEN})`,
  BAD_USER_INPUT: () => 'correct that value and retry',
  ALREADY_ENROLLED: () => 'pass --replace to enroll a new secret (the current one keeps working until the new one is confirmed)',
  NOT_ENROLLED: (userId) =>
    userId === undefined ? 'enroll the user first (totp-admin enroll, with their id)' : `enroll the user first with \`totp-admin enroll ${shellArg(userId)}\``,
  TOO_MANY_DEVICES: (userId) =>
    userId === undefined
      ? 'totp-admin devices, with their id, lists their devices with the ids that revoke --device takes'
      : `\`totp-admin devices ${shellArg(userId)}\` lists their devices with the ids that revoke --device takes`,
  SERVICE_UNAVAILABLE: () => "the server cannot reach its store: check Redis and the server's GET /readyz, then retry",
  INTERNAL_SERVER_ERROR: () => "see the server's log, then retry",
  EXPORT_DISABLED: () =>
    "export is off on this server: set its TOTP_EXPORT_RECIPIENTS to your age recipient (`age-keygen -o key.txt` makes an identity, `age-keygen -y key.txt` prints its recipient) and restart it",
  GRAPHQL_VALIDATION_FAILED: () => 'this server does not offer that operation: upgrade it to a version that implements the full API',
};

/** The user a request was about: `userId`, or `input.userId` (enroll, import). */
function requestUser(variables: Record<string, unknown>): string | undefined {
  const input = variables.input as { userId?: unknown } | undefined;
  const userId = variables.userId ?? input?.userId;
  return typeof userId === 'string' ? userId : undefined;
}

function apiError(entry: GraphQLErrorEntry, status: number, variables: Record<string, unknown>): ApiError {
  const code = typeof entry.extensions?.code === 'string' ? entry.extensions.code : `HTTP_${status}`;
  const message = `${code}: ${entry.message || 'the server refused the request'}`;
  const argument = typeof entry.extensions?.argument === 'string' ? entry.extensions.argument : undefined;
  return new ApiError(code, message, HINTS[code]?.(requestUser(variables)), argument);
}
