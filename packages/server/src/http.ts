import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type HTTPGraphQLRequest } from '@apollo/server';

/**
 * Small HTTP helpers between Node's http module and Apollo's transport-neutral request type.
 * Malformed HTTP (an oversized, unreadable or non-JSON body) is answered here with a 4xx and a
 * GraphQL-shaped error body, before GraphQL sees it.
 */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { errors: [{ message: err.message, extensions: { code: err.code } }] });
}

/** Read the whole body, refusing (413) past `limit` bytes without buffering the excess. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', (err) => reject(new HttpError(400, 'BAD_REQUEST', `could not read the request body: ${err.message}`)));
  });
}

/** Node's request → Apollo's HTTPGraphQLRequest (JSON bodies parsed here). */
export async function toGraphQLRequest(req: IncomingMessage, url: URL, bodyLimit: number): Promise<HTTPGraphQLRequest> {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  let body: unknown = undefined;
  if (req.method === 'POST') {
    const raw = await readBody(req, bodyLimit);
    const type = headers.get('content-type') ?? '';
    if (/^application\/(graphql-response\+)?json\b/i.test(type) || /^application\/json/i.test(type)) {
      if (raw.length === 0) throw new HttpError(400, 'BAD_REQUEST', 'request body is empty; send a JSON object with a "query"');
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, 'BAD_REQUEST', 'request body is not valid JSON');
      }
    } else {
      body = raw.toString('utf8');
    }
  }
  return { method: req.method ?? 'GET', headers, search: url.search, body };
}
