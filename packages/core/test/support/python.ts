import { spawnSync } from 'node:child_process';

/**
 * Run `script` with `python`, handing it `input` as JSON on stdin and reading JSON from stdout:
 * one interpreter for a whole batch of cases keeps the interop tests fast. TZ=UTC because
 * pyotp's `TOTP.at(int)` goes through local time (datetime.fromtimestamp, then time.mktime),
 * which is off by an hour around a DST change.
 */
export function runPython<T>(python: string, script: string, input: unknown): T {
  const run = spawnSync(python, ['-c', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
    timeout: 30_000,
  });
  if (run.status !== 0) {
    throw new Error(`${python} failed (${run.status ?? run.signal}): ${run.stderr || run.error?.message}`);
  }
  return JSON.parse(run.stdout) as T;
}
