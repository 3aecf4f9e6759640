/**
 * Reading a V8 CPU profile (node --cpu-prof) of the server: self time by function and by package,
 * counting only the samples taken inside given time windows (the verify runs). Profile times and
 * process.hrtime are the same monotonic clock, in µs, so the benchmark's own timestamps select
 * the samples.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface Window {
  /** µs, process.hrtime clock. */
  readonly from: number;
  readonly to: number;
}

export interface ProfileEntry {
  readonly name: string;
  readonly where: string;
  /** Share of the busy (non-idle) samples, %. */
  readonly selfPercent: number;
  readonly selfMs: number;
}

export interface ProfileSummary {
  /** Busy time in the windows, ms (idle excluded). */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly functions: readonly ProfileEntry[];
  readonly packages: readonly { readonly name: string; readonly selfPercent: number }[];
}

/** Where a frame's code lives: a package, the service's own code, Node itself, or V8. */
function packageOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const own = /packages\/(\w+)\/dist\//.exec(url);
  if (own) return `@totp-service/${own[1]}`;
  if (url.startsWith('node:')) return 'node (core modules)';
  return url;
}

function shortWhere(url: string, line: number): string {
  if (url === '') return '';
  const m = /node_modules\/(.*)$/.exec(url) ?? /packages\/(.*)$/.exec(url);
  return `${m ? m[1] : url}:${line + 1}`;
}

export function summarise(file: string, windows: readonly Window[], top = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const inside = (t: number) => windows.some((w) => t >= w.from && t <= w.to);
  const self = new Map<string, { name: string; where: string; us: number }>();
  const pkgs = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // a sample stands for the time until the next one
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (!inside(t)) continue;
    const node = byId.get(p.samples[i]!)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += dt;
      continue;
    }
    busy += dt;
    const key = `${name}\0${url}\0${lineNumber}`;
    const e = self.get(key) ?? { name, where: shortWhere(url, lineNumber), us: 0 };
    e.us += dt;
    self.set(key, e);
    const pkg = packageOf(url, name);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + dt);
  }
  const pct = (us: number) => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  return {
    busyMs: Math.round(busy / 1000),
    idleMs: Math.round(idle / 1000),
    functions: [...self.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfPercent: pct(e.us), selfMs: Math.round(e.us / 1000) })),
    packages: [...pkgs]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, us]) => ({ name, selfPercent: pct(us) })),
  };
}
