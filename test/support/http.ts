/**
 * HTTP as an attacker sends it: raw bytes over a socket (for what fetch refuses to send), and
 * timing of a run of requests, with the server process's CPU time read from /proc.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface RawReply {
  /** The status code, or 0 when the server closed without answering. */
  readonly status: number;
  readonly text: string;
}

/** Send `request` as is and read until the server closes (or `timeoutMs`). */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('end', done);
    socket.on('error', done);
    socket.write(request);
  });
}

/** CPU time (user + system) a process has used so far, ms; null where /proc is missing. */
export function cpuMillis(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

export interface Cost {
  readonly requests: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  /** Server CPU per request, ms (null without /proc). */
  readonly cpuMs: number | null;
}

/** Send `n` requests one after another; latency percentiles and the server's CPU per request. */
export async function measure(pid: number, n: number, send: () => Promise<unknown>): Promise<Cost> {
  const times: number[] = [];
  const cpu0 = cpuMillis(pid);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await send();
    times.push(performance.now() - t);
  }
  const cpu1 = cpuMillis(pid);
  times.sort((a, b) => a - b);
  return {
    requests: n,
    medianMs: round(times[Math.floor(n / 2)]!),
    p99Ms: round(times[Math.min(n - 1, Math.floor(n * 0.99))]!),
    cpuMs: cpu0 === null || cpu1 === null ? null : round((cpu1 - cpu0) / n),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;
