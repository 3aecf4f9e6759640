/**
 * Open-loop load: requests sent at evenly spaced times at a fixed rate, whatever the answers, each
 * latency measured from the time the request was due (so a request that waited for a free
 * connection, or behind a stall, counts its wait: no coordinated omission).
 *
 * Not autocannon's `overallRate`: that gives each connection a quota per second and lets it send
 * back to back until the quota is spent, then pause until the next second, so at half the maximum
 * rate the first half of every second is a saturated closed loop and its latencies are those of
 * saturation (measured here: p99 26-28 ms at half the maximum, against 29 ms saturated).
 */
import { Agent, request } from 'node:http';
import type { LoadResult, Shot } from './load.js';
import { percentile } from './load.js';

export interface OpenLoopSpec {
  readonly url: string;
  readonly token: string;
  /** Requests per second, over the whole run. */
  readonly rate: number;
  readonly seconds: number;
  /** Keep-alive connections at most (more requests due than connections free wait for one). */
  readonly connections: number;
  readonly next: () => Shot | null;
}

export async function runOpenLoop(spec: OpenLoopSpec): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
  const target = new URL(spec.url);
  const total = Math.max(1, Math.round(spec.rate * spec.seconds));
  const latencies = new Float64Array(total);
  let answered = 0;
  let non2xx = 0;
  let errors = 0;
  let exhausted = false;
  const start = performance.now();
  const interval = 1000 / spec.rate;

  const send = (due: number, shot: Shot) =>
    new Promise<void>((resolve) => {
      const req = request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.token}`, 'content-length': Buffer.byteLength(shot.body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies[answered++] = performance.now() - due;
            if ((res.statusCode ?? 0) >= 300) non2xx += 1;
            shot.done?.(res.statusCode ?? 0, Buffer.concat(chunks).toString());
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end(shot.body);
    });

  const inFlight: Promise<void>[] = [];
  let sent = 0;
  while (sent < total && !exhausted) {
    // every request due by now goes out now, each timed from when it was due
    const dueNow = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
    for (; sent < dueNow; sent++) {
      const shot = spec.next();
      if (shot === null) {
        exhausted = true;
        break;
      }
      inFlight.push(send(start + sent * interval, shot));
    }
    const wait = start + sent * interval - performance.now();
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(wait, 5))));
  }
  await Promise.all(inFlight);
  agent.destroy();
  const seconds = (performance.now() - start) / 1000;
  const kept = latencies.slice(0, answered).sort();
  return {
    requests: answered,
    seconds,
    perSecond: answered / seconds,
    p50: percentile(kept, 50),
    p90: percentile(kept, 90),
    p99: percentile(kept, 99),
    max: kept.length ? kept[kept.length - 1]! : NaN,
    non2xx,
    errors,
    timeouts: 0,
    fillers: 0,
    exhausted,
  };
}
