import { createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a Redis, for tests of what the client does when a connection breaks at
 * the worst moment: `loseNextReplyTo(marker)` lets the next request holding `marker` reach Redis
 * (which runs it), swallows Redis's reply, and cuts the connection. Every later connection passes
 * through untouched, so the client reconnects as it would after a real network fault.
 */
export interface Proxy {
  readonly port: number;
  loseNextReplyTo(marker: string): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(target: { host: string; port: number }): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let armed: { marker: string; done: () => void } | null = null;

  const server: Server = createServer((client) => {
    const upstream = new (client.constructor as typeof Socket)();
    upstream.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let swallow = false;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (armed && chunk.includes(armed.marker)) swallow = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (swallow && armed) {
        const { done } = armed;
        armed = null;
        cut();
        done();
        return;
      }
      client.write(chunk);
    });
    for (const s of [client, upstream]) {
      s.on('error', cut);
      s.on('close', () => {
        sockets.delete(s);
        cut();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    loseNextReplyTo: (marker) => new Promise<void>((resolve) => (armed = { marker, done: resolve })),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
