/**
 * One GraphQL POST on a connection of its own, its result classified the way the shutdown tests
 * judge a server that stops under load: a whole answer, a refusal before any byte of an answer
 * (the connection refused or closed before the server read the request), or an answer cut short,
 * which must never happen.
 */
import { request } from 'node:http';

export type Classified<Body> =
  | { kind: 'complete'; status: number; body: Body }
  | { kind: 'refused'; error: string }
  | { kind: 'cut'; error: string };

export interface PostOptions {
  readonly token: string;
  /** Give up on a request that got no answer at all in this time (an answer that began is never cut here). */
  readonly noAnswerMs?: number;
}

export function classifiedPost<Body>(url: string, query: string, variables: Record<string, unknown>, options: PostOptions): Promise<Classified<Body>> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ query, variables });
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}`, connection: 'close', 'content-length': Buffer.byteLength(body) },
    });
    let began = false;
    if (options.noAnswerMs !== undefined) {
      req.setTimeout(options.noAnswerMs, () => {
        if (!began) req.destroy(new Error(`no answer in ${options.noAnswerMs} ms`));
      });
    }
    req.on('response', (res) => {
      began = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const declared = Number(res.headers['content-length']);
        if (!res.complete || (Number.isFinite(declared) && declared !== Buffer.byteLength(text))) return resolve({ kind: 'cut', error: 'short body' });
        try {
          resolve({ kind: 'complete', status: res.statusCode!, body: JSON.parse(text) as Body });
        } catch {
          resolve({ kind: 'cut', error: `unparsable body: ${text.slice(0, 80)}` });
        }
      });
      res.on('error', (err) => resolve({ kind: 'cut', error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(began ? { kind: 'cut', error: err.message } : { kind: 'refused', error: err.code ?? err.message }));
    req.end(body);
  });
}
