/**
 * The printed table. Every figure in it is also in the JSON (bench/results/latest.json).
 */
import { availableParallelism, cpus } from 'node:os';
import type { AloneFigures } from './alone.js';
import type { ColdStart } from './cli.js';
import { describeEvents, type EventFigures } from './events-out.js';
import type { ProfileSummary } from './profile.js';
import type { GcFigures } from './metrics.js';
import type { CostSummary, LoadSummary, MemorySummary, StoreSummary, TargetCheck } from './summary.js';

/** The Redis workload and the CLI on one runtime. */
export interface RuntimeSummary {
  readonly runtime: string;
  readonly path: string;
  readonly redis: StoreSummary;
  readonly cli: readonly ColdStart[];
}

export interface Report {
  readonly title: string;
  readonly machine: string;
  /** On the primary runtime (the first of `runtimes`). */
  readonly redis: StoreSummary;
  readonly embedded: StoreSummary | null;
  readonly runtimes: readonly RuntimeSummary[];
  readonly qrMillis: number;
  /** Redis's time per verify with nothing else on the CPUs (alone.ts). */
  readonly alone: AloneFigures | null;
  readonly validCost: CostSummary | null;
  readonly wrongCost: CostSummary | null;
  readonly memory: MemorySummary | null;
  readonly cli: readonly ColdStart[];
  readonly targets: readonly TargetCheck[];
  readonly profile: Record<string, ProfileSummary> | null;
  /** Which ways out were on (--webhooks, --tracing), and what went out from each server. */
  readonly events: { readonly webhooks: boolean; readonly tracing: boolean; readonly figures: readonly EventFigures[] };
  readonly notes: readonly string[];
  readonly problems: readonly string[];
}

/** The machine, the runtimes and Redis, and the load average before and after (a busy machine moves every figure). */
export function machineLine(runtimes: readonly string[], redisVersion: string, loadBefore: readonly number[], loadAfter: readonly number[]): string {
  const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' ');
  return (
    `machine: ${availableParallelism()} × ${cpus()[0]?.model ?? '?'}, server on ${runtimes.join(' and ')} ` +
    `(the benchmark on Node ${process.versions.node}), Redis ${redisVersion}; load average ${load(loadBefore)} before, ${load(loadAfter)} after`
  );
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? pad(c, widths[i]!) : lpad(c, widths[i]!))).join('   ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const loadCells = (l: LoadSummary | undefined): string[] => (l ? [String(l.perSecond), l.p50.toFixed(2), l.p99.toFixed(2), String(l.cpu)] : ['', '', '', '']);
const fmt = (o: Record<string, number>) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

const openLoopCells = (s: StoreSummary): string[] =>
  s.openLoop ? [`${s.openLoop.achieved} of ${s.openLoop.rate}`, s.openLoop.p50.toFixed(2), s.openLoop.p99.toFixed(2), ''] : ['', '', '', ''];
const gcCell = (g: GcFigures | undefined): string =>
  g ? `${g.minorPerSecond}/s of ${g.minorMeanMs} ms, full ${g.majorPerSecond}/s of ${g.majorMeanMs} ms, >10 ms ${g.over10ms}, ${g.percent} %` : '';
/** What the server's collector did in the open loops: where a p99 over 10 ms can come from. */
const gcLine = (label: string, s: StoreSummary | null | undefined): string[] =>
  s?.openLoop?.gc ? [`  ${label}: wrong verifies ${gcCell(s.openLoop.gc.verify)}; { __typename } ${gcCell(s.openLoop.gc.ceiling)}`] : [];
const GC_HEAD = "Server GC in the open loops (young collections a second and their mean pause, full ones, pauses over 10 ms, share of the run's time):";
const openCeilingCells = (s: StoreSummary): string[] =>
  s.openLoop?.ceiling ? [`${s.openLoop.rate}`, s.openLoop.ceiling.p50.toFixed(2), s.openLoop.ceiling.p99.toFixed(2), ''] : ['', '', '', ''];

/** The Redis workload side by side on each runtime (the same users, loads and Redis). */
function runtimesTable(rs: readonly RuntimeSummary[]): string[] {
  const head = ['Redis store, by runtime (median of runs)', ...rs.flatMap((r) => [`${r.runtime} req/s`, 'p50 ms', 'p99 ms', 'CPU µs'])];
  const row = (name: string, pick: (s: StoreSummary) => LoadSummary) => [name, ...rs.flatMap((r) => loadCells(pick(r.redis)))];
  const cli = (i: number) => [`${rs[0]!.cli[i]?.command ?? ''} cold start, s`, ...rs.flatMap((r) => [r.cli[i]?.median.toFixed(3) ?? '', '', '', ''])];
  return [
    table(head, [
      row('{ __typename } (the ceiling)', (s) => s.ceiling),
      row('verifyTotp, malformed code (no store)', (s) => s.malformed),
      row('verifyTotp, valid codes', (s) => s.valid),
      row('verifyTotp, wrong codes', (s) => s.wrong),
      ['verify ÷ ceiling, valid / wrong', ...rs.flatMap((r) => [`${r.redis.validRatio} / ${r.redis.wrongRatio}`, '', '', ''])],
      ['wrong verifies at half the maximum, open loop', ...rs.flatMap((r) => openLoopCells(r.redis))],
      ['  { __typename } at the same rate, open loop', ...rs.flatMap((r) => openCeilingCells(r.redis))],
      row('enrollTotp (renders a QR)', (s) => s.enroll),
      ...rs[0]!.cli.map((_, i) => cli(i)),
    ]),
    `Each runtime's runs on a Redis of its own, one after the other (the machine's load moves between them). Paths: ${rs.map((r) => `${r.runtime} ${r.path}`).join('; ')}`,
    GC_HEAD,
    ...rs.flatMap((r) => gcLine(r.runtime, r.redis)),
    '',
  ];
}

export function render(r: Report): string {
  const out: string[] = [r.title, r.machine, ''];
  const e = r.embedded;
  if (r.runtimes.length > 1) out.push(...runtimesTable(r.runtimes));
  out.push(
    table(
      [`load (median of runs)${r.runtimes.length > 1 ? `, ${r.runtimes[0]!.runtime}` : ''}`, 'Redis req/s', 'p50 ms', 'p99 ms', 'CPU µs', 'embedded req/s', 'p50 ms', 'p99 ms', 'CPU µs'],
      [
        ['{ __typename } (the ceiling)', ...loadCells(r.redis.ceiling), ...loadCells(e?.ceiling)],
        ['verifyTotp, malformed code (no store)', ...loadCells(r.redis.malformed), ...loadCells(e?.malformed)],
        ['verifyTotp, valid codes', ...loadCells(r.redis.valid), ...loadCells(e?.valid)],
        ['verifyTotp, wrong codes', ...loadCells(r.redis.wrong), ...loadCells(e?.wrong)],
        ['verify ÷ ceiling, valid / wrong', `${r.redis.validRatio} / ${r.redis.wrongRatio}`, '', '', '', e ? `${e.validRatio} / ${e.wrongRatio}` : '', '', '', ''],
        ['wrong verifies at half the maximum, open loop', ...openLoopCells(r.redis), ...(e ? openLoopCells(e) : ['', '', '', ''])],
        ['  { __typename } at the same rate, open loop', ...openCeilingCells(r.redis), ...(e ? openCeilingCells(e) : ['', '', '', ''])],
        ['  the same from server CPU per request', `${r.redis.validCpuRatio} / ${r.redis.wrongCpuRatio}`, '', '', '', e ? `${e.validCpuRatio} / ${e.wrongCpuRatio}` : '', '', '', ''],
        ['enrollTotp (renders a QR)', ...loadCells(r.redis.enroll), ...loadCells(e?.enroll)],
        ['first verify (activation)', ...loadCells(r.redis.activate), ...loadCells(e?.activate)],
      ],
    ),
    'CPU µs: CPU time of the server process (all its threads) per request.',
    // with several runtimes the Redis lines are under the runtimes' table
    ...(r.runtimes.length > 1 ? (e?.openLoop?.gc ? [GC_HEAD, ...gcLine('embedded', e)] : []) : [GC_HEAD, ...gcLine('Redis', r.redis), ...gcLine('embedded', e)]),
    `QR code render (PNG + SVG, one thread, in the benchmark process): ${r.qrMillis} ms`,
    '',
  );
  if (r.validCost && r.wrongCost) {
    const v = r.validCost;
    const w = r.wrongCost;
    out.push(
      table(
        ['Redis per verify', 'valid', 'wrong'],
        [
          ['round trips (store operations, the server\'s count)', String(v.roundTrips), String(w.roundTrips)],
          ['commands sent (MONITOR)', String(v.sent), String(w.sent)],
          ['commands run inside scripts (MONITOR)', String(v.inScripts), String(w.inScripts)],
          ['all commands (INFO commandstats)', String(v.total), String(w.total)],
          ['one at a time: latency p50 / p99, ms', `${v.aloneP50} / ${v.aloneP99}`, `${w.aloneP50} / ${w.aloneP99}`],
          ['Redis time in commands, µs', String(v.redisMicros), String(w.redisMicros)],
          ['Redis process CPU, µs', String(v.redisCpuMicros), String(w.redisCpuMicros)],
          ['failure counters cleared (HDEL) per verify', String(v.hdel), String(w.hdel)],
          ...(r.redis.openLoop?.cost
            ? [[`at ${r.redis.openLoop.rate}/s, open loop: Redis time in commands / process CPU, µs`, '', `${r.redis.openLoop.cost.redisMicros} / ${r.redis.openLoop.cost.redisCpuMicros}`]]
            : []),
          ['one at a time: socket reads / reply writes', `${v.probeReads} / ${v.probeWrites}`, `${w.probeReads} / ${w.probeWrites}`],
        ],
      ),
      'Counts from one verify at a time (no request in flight across the snapshots); µs and CPU from the 64-connection loads.',
      `MONITOR, valid verify: sent ${fmt(v.monitorSent)}; in scripts ${fmt(v.monitorInScripts)}`,
      `MONITOR, wrong verify: sent ${fmt(w.monitorSent)}; in scripts ${fmt(w.monitorInScripts)}`,
      ...(r.alone
        ? [
            `Redis alone (the service in the benchmark's process, one verify at a time, ${r.alone.users} users, median of ${r.alone.rounds} rounds), time in commands ` +
              `per verify: usual login ${r.alone.usualLogin} µs, valid code after a wrong one ${r.alone.afterFailure} µs, wrong code ${r.alone.wrong} µs`,
            `  of which the commands (the yardstick, bench/src/alone.ts: a usual login's commands without the scripts' logic) ${r.alone.yardstick} µs; ` +
              `the scripts' own work: usual login ${r.alone.logic.usualLogin} µs, after a wrong one ${r.alone.logic.afterFailure} µs, wrong code ${r.alone.logic.wrong} µs`,
          ]
        : []),
      '',
    );
  }
  if (r.memory) {
    const m = r.memory;
    const kinds = Object.entries(m.perActiveByKind).sort((a, b) => b[1] - a[1]);
    out.push(
      table(
        ['Redis memory (INFO used_memory delta)', 'bytes'],
        [
          ['per pending enrollment', String(m.perPending)],
          ['per active user', String(m.perActive)],
          ['  state (user hash, indexes)', String(m.perActiveState)],
          ['  audit trail (its first 3 events, with the key of the user list)', String(m.perActiveAudit)],
          ['  keyspace overhead (no key holds it)', String(m.perActiveOverhead)],
          ...kinds.map(([k, b]) => [`    ${k}`, String(b)]),
          ...(m.perEvent !== undefined
            ? [
                ['one more audit event of such a user', String(m.perEvent)],
                ...Object.entries(m.perEventByKind ?? {}).map(([k, b]) => [`    ${k}`, String(b)]),
              ]
            : []),
          ...(m.perSecondDevice !== undefined
            ? [
                ['a second device (enrolled and confirmed, client counters apart)', String(m.perSecondDevice)],
                ['  of which state (user hash)', String(m.perSecondDeviceState)],
                ...Object.entries(m.perSecondDeviceByKind ?? {}).map(([k, b]) => [`    ${k}`, String(b)]),
                ['per active user with two devices', String(Math.round((m.perActive + m.perSecondDevice) * 10) / 10)],
              ]
            : []),
        ],
      ),
      '',
    );
  }
  out.push(table(['admin CLI cold start', 'median s', 'runs'], r.cli.map((c) => [c.command, c.median.toFixed(3), c.runs.join(' ')])), '');
  if (r.profile) {
    for (const [name, p] of Object.entries(r.profile)) {
      out.push(
        `server CPU profile, ${name} (${p.busyMs} ms busy, ${p.idleMs} ms idle), self time:`,
        table(['function', 'where', 'self %'], p.functions.map((f) => [f.name, f.where, f.selfPercent.toFixed(1)])),
        `by package: ${p.packages.map((x) => `${x.name} ${x.selfPercent}%`).join(', ')}`,
        '',
      );
    }
  }
  out.push(table(['target', 'value', 'target', ''], r.targets.map((t) => [t.name, String(t.value), t.target, t.met ? 'met' : 'MISSED'])), '');
  if (r.events.figures.length) out.push('Events out, from start to stop of each server:', ...r.events.figures.map((f) => `  ${describeEvents(f)}`), '');
  for (const n of r.notes) out.push(`note: ${n}`);
  for (const p of r.problems) out.push(`PROBLEM: ${p}`);
  return out.join('\n');
}
