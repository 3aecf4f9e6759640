/**
 * The benchmark's closed-loop load (bench/src/load.ts) against a real HTTP server of its own: a
 * run whose supply runs out is timed to its last answer of its own, so that its rate is its
 * requests over the time they took, not over autocannon's next whole second (the fillers sent
 * meanwhile are counted apart and left out of the figures).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../bench/src/load.js';

describe('the benchmark load generator', () => {
  let server: Server;
  let url: string;
  const bodies: string[] = [];
  beforeAll(async () => {
    // answers every POST after 2 ms, as a busy service would, keeping the body it was sent
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        setTimeout(() => res.end('{"data":{}}'), 2);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('times a run whose supply ran out to its own last answer, fillers apart', async () => {
    let left = 300;
    let answered = 0;
    const result = await runLoad({
      url,
      token: 't',
      connections: 8,
      seconds: 10,
      next: () => (left-- > 0 ? { body: '{"real":true}', done: () => void (answered += 1) } : null),
      filler: () => ({ body: '{"filler":true}' }),
    });
    expect(result.exhausted).toBe(true);
    expect(answered).toBe(300);
    expect(result.requests).toBe(300);
    expect(result.fillers).toBeGreaterThan(0);
    expect(bodies.filter((b) => b === '{"filler":true}').length).toBeGreaterThanOrEqual(result.fillers);
    // 300 answers of 2 ms over 8 connections take about 0.1 s; autocannon itself stops only on
    // its next whole second, which the rate used to count
    expect(result.seconds).toBeLessThan(0.8);
    expect(result.perSecond).toBeCloseTo(300 / result.seconds, 6);
    expect(result.non2xx + result.errors + result.timeouts).toBe(0);
  });

  it('gives a rate of 0 to a run whose supply was empty from the start', async () => {
    const result = await runLoad({ url, token: 't', connections: 2, seconds: 5, next: () => null, filler: () => ({ body: '{}' }) });
    expect(result.exhausted).toBe(true);
    expect(result.requests).toBe(0);
    expect(result.seconds).toBeGreaterThan(0);
    expect(result.perSecond).toBe(0);
  });

  it('times a run that did not run out over its whole duration', async () => {
    const result = await runLoad({ url, token: 't', connections: 4, seconds: 1, next: () => ({ body: '{}' }) });
    expect(result.exhausted).toBe(false);
    expect(result.fillers).toBe(0);
    expect(result.seconds).toBeGreaterThanOrEqual(0.95);
    expect(result.requests).toBeGreaterThan(100);
  });
});
