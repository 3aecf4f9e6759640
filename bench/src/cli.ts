/**
 * Cold start of the admin CLI: a new `node packages/cli/bin/run.js …` process each time, timed
 * from spawn to exit (one untimed run first, so every timed run finds the files in the page
 * cache, as a second invocation on an operator's machine does).
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { CLI_BIN } from './processes.js';

export interface ColdStart {
  readonly command: string;
  /** Wall-clock seconds of each timed run. */
  readonly runs: readonly number[];
  readonly median: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function once(node: string, args: readonly string[], check: (stdout: string) => boolean): number {
  const started = performance.now();
  const r = spawnSync(node, [CLI_BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0 || !check(r.stdout)) {
    throw new Error(`totp-admin ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim().slice(0, 300)}`);
  }
  return seconds;
}

export function coldStart(args: readonly string[], runs: number, check: (stdout: string) => boolean, node = process.execPath): ColdStart {
  once(node, args, check);
  const times = Array.from({ length: runs }, () => once(node, args, check));
  return { command: `totp-admin ${args.join(' ')}`, runs: times.map((t) => Math.round(t * 1000) / 1000), median: Math.round(median(times) * 1000) / 1000 };
}

/** Cold starts of the CLI on the node binary `node` (default: this process's). */
export function cliColdStarts(runs: number, node = process.execPath): ColdStart[] {
  return [
    coldStart(['--help'], runs, (out) => out.includes('USAGE') || out.includes('totp-admin'), node),
    coldStart(['code', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'], runs, (out) => /\b\d{6}\b/.test(out), node),
  ];
}

export { median };
