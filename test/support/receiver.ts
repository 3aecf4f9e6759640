/**
 * A webhook receiver on loopback for tests: records every request (headers, body, the time), and
 * answers as told (a status, or never). Signatures are checked here with node:crypto alone, as the
 * Standard Webhooks specification defines them, independently of the library the server signs with.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly at: number;
}

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** How to answer the next requests: a status, now or later, or 'hang' (never answer). Default 200. */
  answer: (r: Received) => number | Promise<number> | 'hang';
  close(): Promise<void>;
  /** Listen again on the same port (after close). */
  reopen(): Promise<void>;
}

/** Standard Webhooks: v1,base64(HMAC-SHA256(base64-decoded secret, `${id}.${timestamp}.${body}`)). */
export function verifySignature(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${r.id}.${r.timestamp}.${r.body}`).digest();
  return r.signature.split(' ').some((s) => {
    const [version, b64] = s.split(',');
    const got = Buffer.from(b64 ?? '', 'base64');
    return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
  });
}

export async function startReceiver(): Promise<Receiver> {
  let server: Server;
  const sockets = new Set<Socket>();
  const state: Receiver = {
    url: '',
    received: [],
    answer: () => 200,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    reopen: () => listen(Number(new URL(state.url).port)),
  };
  const listen = (port: number) =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const h = req.headers;
          const r: Received = { id: String(h['webhook-id']), timestamp: String(h['webhook-timestamp']), signature: String(h['webhook-signature']), headers: h, body, at: Date.now() };
          state.received.push(r);
          const a = state.answer(r);
          if (a === 'hang') return;
          if (typeof a === 'number') res.writeHead(a).end();
          else void a.then((status) => res.writeHead(status).end());
        });
      });
      server.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.listen(port, '127.0.0.1', () => {
        (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
        resolve();
      });
    });
  await listen(0);
  return state;
}
