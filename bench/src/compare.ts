/**
 * --compare-events: what pushing security events out costs a verify. The Redis verify workload
 * ({ __typename } as the ceiling, valid codes, wrong codes) with events off, with webhooks on
 * (every event type, VERIFY included, to a loopback receiver) and with tracing on (to a loopback
 * OTLP sink), in alternating runs on one Redis and one population of users.
 *
 * Each run of each mode gets a server started afresh with that mode's environment (webhooks and
 * tracing are start-up settings), warmed up, then loaded. The order of the modes rotates from run
 * to run: on a shared machine the load drifts over minutes, and rotating spreads the drift over
 * the three modes instead of handing it to one. The comparison that holds up best under noise is
 * paired: each mode against events off in the same run.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { median } from './cli.js';
import { describeEvents, EventSinks, type EventFigures, type EventsOn } from './events-out.js';
import type { Options } from './options.js';
import { startRedis, startServer, type RedisProcess, type ServerProcess } from './processes.js';
import { machineLine, table } from './report.js';
import { resolveRuntimes } from './runtimes.js';
import { check, loader, progress, type Figures } from './scenarios.js';
import { loadSummary, withValidCodes, type LoadSummary } from './summary.js';
import { Population, Tally } from './users.js';

const MODES = {
  off: { webhooks: false, tracing: false },
  webhooks: { webhooks: true, tracing: false },
  tracing: { webhooks: false, tracing: true },
} as const satisfies Record<string, EventsOn>;
type Mode = keyof typeof MODES;
const ORDER: readonly Mode[] = ['off', 'webhooks', 'tracing'];
const LABEL: Record<Mode, string> = { off: 'events off', webhooks: 'webhooks on', tracing: 'tracing on' };

/** One mode's loads in one run, on a server of its own. */
export interface ModeRun {
  readonly mode: Mode;
  /** 1-based run, and the mode's place in that run's order. */
  readonly run: number;
  readonly position: number;
  readonly ceiling: Figures;
  readonly valid: Figures;
  readonly wrong: Figures;
  /** What went out over the three loads. */
  readonly events: EventFigures;
}

export interface ModeSummary {
  readonly mode: Mode;
  readonly ceiling: LoadSummary;
  readonly valid: LoadSummary;
  readonly wrong: LoadSummary;
  /** Median over runs of verifies/s ÷ ceiling/s of the same server. */
  readonly validRatio: number;
  readonly wrongRatio: number;
  /** Median over runs of this mode ÷ events off in the same run: verifies/s and server CPU per verify. */
  readonly vsOff: { readonly valid: number; readonly wrong: number; readonly validCpu: number; readonly wrongCpu: number };
  readonly deliveriesPerSecond: number;
  /** Verifies (audit events) per second over the same loads, to set the deliveries against. */
  readonly eventsPerSecond: number;
  /** totp_webhook_backlog at the end of each run's loads. */
  readonly backlog: readonly number[];
  readonly traceExportsPerSecond: number;
}

interface Context {
  readonly opts: Options;
  /** The server's environment, REDIS_URL included, before the mode's. */
  readonly env: Record<string, string>;
  readonly token: string;
  readonly workPath: string;
  readonly node: string;
  readonly sinks: EventSinks;
  readonly pop: Population;
  readonly problems: string[];
  /** The server running now, for a signal to stop. */
  readonly live: { server?: ServerProcess };
}

async function start(ctx: Context, mode: Mode): Promise<ServerProcess> {
  const server = await startServer(ctx.workPath, { env: { ...ctx.env, ...ctx.sinks.env(MODES[mode]) }, node: ctx.node, nodeFlags: ctx.opts.nodeFlags });
  ctx.live.server = server;
  return server;
}

async function stop(ctx: Context, server: ServerProcess, label: string): Promise<void> {
  ctx.live.server = undefined;
  if (!server.alive()) ctx.problems.push(`${label}: the server process died during the run:\n${server.stderr().slice(-2000)}`);
  const code = await server.stop();
  if (code !== 0) ctx.problems.push(`${label}: the server exited with ${code} on SIGTERM:\n${server.stderr().slice(-2000)}`);
}

/** Enroll and activate the users once, with events off (every mode then verifies the same users). */
async function populate(ctx: Context): Promise<{ enroll: Figures; activate: Figures }> {
  const { opts, pop, problems } = ctx;
  const server = await start(ctx, 'off');
  const load = loader(opts, server, ctx.token);
  progress(`enrolling ${opts.users} users`);
  let tally = new Tally();
  const enroll = check('enrollTotp', await load(pop.enrollSupply(tally), { amount: opts.users }), tally, 'ENROLLED', problems);
  progress('activating them');
  tally = new Tally();
  const activate = check('activation', await load(pop.validSupply(tally, false), { amount: opts.users }), tally, 'ACCEPTED', problems);
  await stop(ctx, server, 'enrolment');
  return { enroll, activate };
}

/** One mode's turn in a run: a fresh server, warmed up, then the ceiling, valid and wrong verifies. */
async function measureMode(ctx: Context, mode: Mode, run: number, position: number): Promise<ModeRun> {
  const { opts, pop, problems, sinks } = ctx;
  const label = `run ${run}, ${LABEL[mode]}`;
  progress(label);
  const server = await start(ctx, mode);
  const load = loader(opts, server, ctx.token);
  // JIT, the scripts in Redis, and (with tracing) the exporter's first batches, before anything counts
  await load(pop.ceilingSupply(new Tally()), { seconds: opts.warmup });
  await load(pop.wrongSupply(new Tally()), { seconds: opts.warmup });
  const mark = await sinks.mark(server.base);
  let tally = new Tally();
  const ceiling = check(`${label} ceiling`, await load(pop.ceilingSupply(tally), { seconds: opts.seconds }), tally, 'OK', problems);
  tally = new Tally();
  const validRes = await load(pop.validSupply(tally, true), { seconds: opts.seconds, filler: pop.wrongSupply(new Tally()) });
  pop.settle();
  const valid = check(`${label} valid verifies`, validRes, tally, 'ACCEPTED', problems, true);
  tally = new Tally();
  const wrong = check(`${label} wrong verifies`, await load(pop.wrongSupply(tally), { seconds: opts.seconds }), tally, 'INVALID_CODE', problems);
  const events = await sinks.since(mark, server.base, label, MODES[mode]);
  await stop(ctx, server, label);
  return { mode, run, position, ceiling, valid, wrong, events };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function summariseModes(runs: readonly ModeRun[]): ModeSummary[] {
  const offIn = (run: number) => runs.find((r) => r.mode === 'off' && r.run === run);
  return ORDER.map((mode) => {
    const mine = runs.filter((r) => r.mode === mode);
    // paired with events off of the same run: the machine's drift cancels out
    const paired = (f: (r: ModeRun) => number, of: readonly ModeRun[] = mine) =>
      r3(median(of.flatMap((r) => (offIn(r.run) ? [f(r) / f(offIn(r.run)!)] : []))));
    // a valid-code load that sent nothing (no fresh step left) pairs with nothing
    const valid = withValidCodes(mine);
    const validPairs = valid.filter((r) => (offIn(r.run)?.valid.requests ?? 0) > 0);
    return {
      mode,
      ceiling: loadSummary(mine.map((r) => r.ceiling)),
      valid: loadSummary(valid.map((r) => r.valid)),
      wrong: loadSummary(mine.map((r) => r.wrong)),
      validRatio: r3(median(valid.map((r) => r.valid.perSecond / r.ceiling.perSecond))),
      wrongRatio: r3(median(mine.map((r) => r.wrong.perSecond / r.ceiling.perSecond))),
      vsOff: {
        valid: paired((r) => r.valid.perSecond, validPairs),
        wrong: paired((r) => r.wrong.perSecond),
        validCpu: paired((r) => r.valid.serverCpuMicros, validPairs),
        wrongCpu: paired((r) => r.wrong.serverCpuMicros),
      },
      deliveriesPerSecond: median(mine.map((r) => r.events.deliveriesPerSecond)),
      eventsPerSecond: Math.round(median(mine.map((r) => r.events.verifies / r.events.seconds))),
      backlog: mine.map((r) => r.events.server?.backlog ?? 0),
      traceExportsPerSecond: median(mine.map((r) => r.events.traceExportsPerSecond)),
    };
  });
}

/** A run that answered nothing has no latency: a dash, not NaN. */
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');

const pct = (ratio: number) => (Number.isFinite(ratio) ? `${ratio >= 1 ? '+' : '−'}${Math.abs(Math.round((ratio - 1) * 1000) / 10)} %` : '');

function out(s: ModeSummary): string {
  if (s.mode === 'webhooks') return `${s.deliveriesPerSecond} deliveries/s of ${s.eventsPerSecond} events/s`;
  if (s.mode === 'tracing') return `${s.traceExportsPerSecond} exports/s`;
  return '';
}

export function renderComparison(title: string, machine: string, modes: readonly ModeSummary[], runs: readonly ModeRun[]): string {
  const summary = table(
    ['events out (median of runs)', 'ceiling req/s', 'valid verifies/s', 'wrong verifies/s', 'p99 ms valid / wrong', 'CPU µs/verify valid / wrong', 'verify ÷ ceiling', 'sent'],
    modes.map((s) => [
      LABEL[s.mode],
      String(s.ceiling.perSecond),
      String(s.valid.perSecond),
      String(s.wrong.perSecond),
      `${ms(s.valid.p99)} / ${ms(s.wrong.p99)}`,
      `${s.valid.cpu} / ${s.wrong.cpu}`,
      `${s.validRatio} / ${s.wrongRatio}`,
      out(s),
    ]),
  );
  const vsOff = table(
    ['against events off in the same run (median)', 'valid verifies/s', 'wrong verifies/s', 'CPU/verify valid', 'CPU/verify wrong'],
    modes.filter((s) => s.mode !== 'off').map((s) => [LABEL[s.mode], pct(s.vsOff.valid), pct(s.vsOff.wrong), pct(s.vsOff.validCpu), pct(s.vsOff.wrongCpu)]),
  );
  const each = table(
    ['each run', 'ceiling/s', 'valid/s', 'wrong/s', 'CPU µs valid / wrong', 'p99 ms valid / wrong'],
    runs.map((r) => [`${r.run}.${r.position} ${LABEL[r.mode]}`, String(r.ceiling.perSecond), String(r.valid.perSecond), String(r.wrong.perSecond), `${r.valid.serverCpuMicros} / ${r.wrong.serverCpuMicros}`, `${ms(r.valid.p99)} / ${ms(r.wrong.p99)}`]),
  );
  const sent = runs.filter((r) => r.mode !== 'off').map((r) => `  ${describeEvents(r.events)}`);
  return [title, machine, '', summary, 'CPU µs/verify: CPU time of the server process (all its threads, the dispatcher and the exporter included) per verify.', '', vsOff, '', each, '', 'Sent during the three loads of each run:', ...sent].join('\n');
}

/** Every mode in each run, in an order that rotates by one each run. */
async function alternate(ctx: Context): Promise<ModeRun[]> {
  const runs: ModeRun[] = [];
  for (let run = 1; run <= ctx.opts.runs; run++) {
    const order = ORDER.map((_, i) => ORDER[(i + run - 1) % ORDER.length]!);
    for (const [i, mode] of order.entries()) runs.push(await measureMode(ctx, mode, run, i + 1));
  }
  return runs;
}

/** The whole --compare-events run: its own Redis, sinks and servers; prints the table, writes the JSON. */
export async function compareMain(opts: Options, base: { env: Record<string, string>; token: string; work: { path: string; remove(): void } }): Promise<number> {
  const problems: string[] = [];
  const loadBefore = loadavg();
  const [runtime, ...others] = resolveRuntimes(opts.nodes);
  const sinks = await EventSinks.start({ webhooks: true, tracing: true });
  const live: Context['live'] = {};
  let redis: RedisProcess | undefined;
  const cleanUp = async () => {
    await live.server?.stop();
    await redis?.stop();
    await sinks.close();
    base.work.remove();
  };
  const onSignal = () => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let runs: ModeRun[] = [];
  let populated: Awaited<ReturnType<typeof populate>> | undefined;
  try {
    redis = await startRedis(base.work.path);
    const env = { ...base.env, REDIS_URL: redis.url };
    const ctx: Context = { opts, env, token: base.token, workPath: base.work.path, node: runtime!.path, sinks, pop: new Population(opts.users), problems, live };
    populated = await populate(ctx);
    runs = await alternate(ctx);
  } catch (err) {
    problems.push(`the benchmark failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await cleanUp();
  }
  const notes = others.length ? [`--compare-events runs on the first runtime only (${runtime!.label}); ignored: ${others.map((r) => r.label).join(', ')}`] : [];
  const exhausted = runs.filter((r) => r.valid.exhausted).map((r) => `${r.run}.${r.position} ${LABEL[r.mode]} (${r.valid.seconds} s)`);
  if (exhausted.length) notes.push(`valid-code runs that ran out of users with a fresh step (ended early): ${exhausted.join(', ')}; enroll more users (--users)`);
  const title =
    `TOTP service benchmark, events out compared: ${opts.users} users on Redis, ${opts.connections} connections, ${opts.runs} run(s) of ${opts.seconds} s per load and mode, ` +
    `modes alternating (a fresh server for each); webhooks: every event type, VERIFY included, to a loopback receiver answering 204; tracing: OTLP/HTTP to a loopback sink`;
  const machine = machineLine([runtime!.label], redis?.version ?? '?', loadBefore, loadavg());
  const modes = summariseModes(runs);
  console.log(renderComparison(title, machine, modes, runs));
  for (const n of notes) console.log(`note: ${n}`);
  for (const p of problems) console.log(`PROBLEM: ${p}`);
  const json = { when: new Date().toISOString(), options: opts, title, machine, modes: MODES, summary: modes, runs, ...populated, notes, problems };
  writeFileSync(opts.out, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nwritten: ${opts.out}`);
  return problems.length || runs.length === 0 ? 1 : 0;
}
