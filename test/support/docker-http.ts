/**
 * The compose test's client of a published server: GraphQL calls with the stack's tokens, and a
 * burst of verifies on fresh connections whose every result is classified (a whole answer, a
 * refusal before any byte of an answer, or an answer cut short, which must never happen).
 */
import { classifiedPost } from './classified-post.js';
import { ENROLL, STATUS, UNLOCK, VERIFY, waitFor, type VerifyResult } from './totp.js';

export interface Endpoint {
  readonly base: string;
  /** The app token the calls (and bursts) use. */
  readonly appToken: string;
  /** Wait until /readyz answers 200. */
  ready(timeoutMs: number): Promise<void>;
  enroll(userId: string): Promise<{ secret: string; issuer: string }>;
  verify(userId: string, code: string): Promise<VerifyResult>;
  status(userId: string): Promise<Record<string, unknown> | null>;
  unlock(userId: string): Promise<void>;
}

export function endpoint(port: number, adminToken: string, appToken: string): Endpoint {
  const base = `http://127.0.0.1:${port}`;
  const gql = async <T>(query: string, variables: Record<string, unknown>, token = appToken): Promise<T> => {
    const res = await fetch(`${base}/graphql`, {
      signal: AbortSignal.timeout(30_000),
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (!body.data || body.errors) throw new Error(`${query.slice(0, 40)}: HTTP ${res.status} ${JSON.stringify(body.errors)}`);
    return body.data;
  };
  return {
    base,
    appToken,
    async ready(timeoutMs) {
      // a connection to the published port can hang while the container starts: each try has 2 s
      await waitFor(() => fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200), timeoutMs, 250);
    },
    async enroll(userId) {
      const q = ENROLL.replace('secret }', 'secret issuer }');
      return (await gql<{ enrollTotp: { secret: string; issuer: string } }>(q, { input: { userId } })).enrollTotp;
    },
    async verify(userId, code) {
      return (await gql<{ verifyTotp: VerifyResult }>(VERIFY, { userId, code })).verifyTotp;
    },
    async status(userId) {
      return (await gql<{ totpStatus: Record<string, unknown> | null }>(STATUS.replace('{ status', '{ status userId'), { userId })).totpStatus;
    },
    async unlock(userId) {
      await gql(UNLOCK, { userId }, adminToken);
    },
  };
}

type VerifyBody = { data?: { verifyTotp?: { outcome?: string } } | null; errors?: { extensions?: { code?: string } }[] };

const OUTCOMES = new Set(['ACCEPTED', 'INVALID_CODE', 'REPLAYED', 'LOCKED', 'RATE_LIMITED', 'NOT_ENROLLED', 'MALFORMED']);

export interface BurstResults {
  readonly complete: number;
  readonly refused: number;
  readonly cut: string[];
  /** Whole answers that are neither a verify result nor SERVICE_UNAVAILABLE. */
  readonly wrongAnswers: string[];
}

/** `connections` loops of verifies until stop(); the ith request's variables come from `make`. */
export function burst(target: Endpoint, connections: number, make: (i: number) => Record<string, unknown>): { stop(): Promise<BurstResults> } {
  const results = { complete: 0, refused: 0, cut: [] as string[], wrongAnswers: [] as string[] };
  let stopping = false;
  let n = 0;
  const loop = async () => {
    while (!stopping) {
      // no answer in 30 s is no answer (the burst must end)
      const r = await classifiedPost<VerifyBody>(`${target.base}/graphql`, VERIFY, make(n++), { token: target.appToken, noAnswerMs: 30_000 });
      if (r.kind === 'cut') results.cut.push(r.error);
      else if (r.kind === 'refused') {
        results.refused++;
        await new Promise((res) => setTimeout(res, 20));
      } else {
        results.complete++;
        const outcome = r.body.data?.verifyTotp?.outcome;
        const unavailable = r.status === 503 && r.body.errors?.[0]?.extensions?.code === 'SERVICE_UNAVAILABLE';
        if (!(r.status === 200 && outcome && OUTCOMES.has(outcome)) && !unavailable) results.wrongAnswers.push(`${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      }
    }
  };
  const loops = Array.from({ length: connections }, loop);
  return {
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return results;
    },
  };
}
