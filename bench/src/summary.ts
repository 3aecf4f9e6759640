/**
 * From the raw figures of each store to the numbers that are compared with the targets: medians
 * over the runs, ratios to the ceiling, per-user memory by kind, Redis cost per verify.
 */
import type { AloneFigures } from './alone.js';
import { median } from './cli.js';
import type { OpenLoop } from './scenarios.js';
import type { ColdStart } from './cli.js';
import { AUDIT_KINDS, TRANSIENT_KINDS, round, type KindUsage } from './redis-stats.js';
import type { Figures, StoreFigures } from './scenarios.js';

export interface LoadSummary {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** Server CPU per request, µs. */
  readonly cpu: number;
}

export interface StoreSummary {
  readonly ceiling: LoadSummary;
  readonly malformed: LoadSummary;
  readonly valid: LoadSummary;
  readonly wrong: LoadSummary;
  /** Median over runs of (verifies/s ÷ ceiling/s) of the same run. */
  readonly validRatio: number;
  readonly wrongRatio: number;
  /** Server CPU per ceiling request ÷ per verify: the throughput ratio a server-bound run would show. */
  readonly validCpuRatio: number;
  readonly wrongCpuRatio: number;
  readonly enroll: LoadSummary;
  readonly activate: LoadSummary;
  readonly openLoop: OpenLoop | null;
}

export interface MemorySummary {
  readonly perPending: number;
  readonly perActive: number;
  /** Bytes per active user by key kind (MEMORY USAGE deltas), and what no key accounts for. */
  readonly perActiveByKind: Record<string, number>;
  readonly perPendingByKind: Record<string, number>;
  readonly perActiveState: number;
  readonly perActiveAudit: number;
  readonly perActiveOverhead: number;
  /**
   * What one more audit event costs a user who has events already (its stream entry and its place
   * in the user's list), by kind and in all: the first 3 events also pay for the list's key.
   */
  readonly perEvent?: number;
  readonly perEventByKind?: Record<string, number>;
  /** What a second device adds to a user (INFO used_memory delta, all of it; by kind; state alone). */
  readonly perSecondDevice?: number;
  readonly perSecondDeviceByKind?: Record<string, number>;
  readonly perSecondDeviceState?: number;
}

export interface CostSummary {
  /** The client's count: store operations (one round trip each) per verify. */
  readonly roundTrips: number;
  /** Commands clients sent, per verify (MONITOR: everything not run by a script). */
  readonly sent: number;
  /** Commands run inside the scripts, per verify (MONITOR). */
  readonly inScripts: number;
  /** Every command Redis ran, per verify (INFO commandstats): sent + in scripts, cross-checked. */
  readonly total: number;
  /** Latency with one verify at a time, ms. */
  readonly aloneP50: number;
  readonly aloneP99: number;
  readonly redisMicros: number;
  readonly redisCpuMicros: number;
  /** HDELs per verify under the loads: an accepted code clearing failure counters an earlier wrong one left. */
  readonly hdel: number;
  /** One verify at a time: Redis socket reads / reply writes per verify. */
  readonly probeReads: number;
  readonly probeWrites: number;
  readonly monitorSent: Record<string, number>;
  readonly monitorInScripts: Record<string, number>;
}

export const loadSummary = (fs: readonly Figures[]): LoadSummary => ({
  perSecond: Math.round(median(fs.map((f) => f.perSecond))),
  p50: round(median(fs.map((f) => f.p50)), 2),
  p99: round(median(fs.map((f) => f.p99)), 2),
  cpu: Math.round(median(fs.map((f) => f.serverCpuMicros))),
});

/**
 * The runs whose valid-code load sent something: one that found every user's step already used
 * (few users, short runs) sent nothing, and its 0 req/s and empty latencies are no measure.
 */
export const withValidCodes = <R extends { readonly valid: Figures }>(runs: readonly R[]): R[] => runs.filter((r) => r.valid.requests > 0);

export function summariseStore(s: StoreFigures): StoreSummary {
  const valid = withValidCodes(s.runs);
  return {
    openLoop: s.openLoop ?? null,
    ceiling: loadSummary(s.runs.map((r) => r.ceiling)),
    malformed: loadSummary(s.runs.map((r) => r.malformed)),
    valid: loadSummary(valid.map((r) => r.valid)),
    wrong: loadSummary(s.runs.map((r) => r.wrong)),
    validRatio: round(median(valid.map((r) => r.valid.perSecond / r.ceiling.perSecond)), 3),
    wrongRatio: round(median(s.runs.map((r) => r.wrong.perSecond / r.ceiling.perSecond)), 3),
    validCpuRatio: round(median(valid.map((r) => r.ceiling.serverCpuMicros / r.valid.serverCpuMicros)), 3),
    wrongCpuRatio: round(median(s.runs.map((r) => r.ceiling.serverCpuMicros / r.wrong.serverCpuMicros)), 3),
    enroll: loadSummary([s.enroll]),
    activate: loadSummary([s.activate]),
  };
}

/** The bytes of the audit kinds (audit true) or of the state kinds, summed (client counters are neither). */
const bytesOf = (kinds: Record<string, number>, audit: boolean): number =>
  Object.entries(kinds)
    .filter(([k]) => !TRANSIENT_KINDS.has(k) && AUDIT_KINDS.has(k) === audit)
    .reduce((n, [, b]) => n + b, 0);

/** The client counters' part of a by-kind delta (they expire on their own between two snapshots). */
const transientOf = (kinds: Record<string, number>): number =>
  Object.entries(kinds).filter(([k]) => TRANSIENT_KINDS.has(k)).reduce((n, [, b]) => n + b, 0);

function byKind(now: readonly KindUsage[], base: readonly KindUsage[], users: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of now) {
    const before = base.find((b) => b.kind === k.kind)?.bytes ?? 0;
    const per = round((k.bytes - before) / users, 1);
    if (per !== 0) out[k.kind] = per;
  }
  return out;
}

export function summariseMemory(s: StoreFigures, users: number): MemorySummary | null {
  const m = s.memory;
  if (!m) return null;
  const perActiveByKind = byKind(m.activeByKind, m.baselineByKind, users);
  const perPendingByKind = byKind(m.pendingByKind, m.baselineByKind, users);
  const perActive = round((m.afterActivate - m.baseline) / users, 1);
  const state = bytesOf(perActiveByKind, false);
  const audit = bytesOf(perActiveByKind, true);
  const more = m.moreEvents;
  const perEventByKind = more && more.events > 0 ? byKind(more.afterByKind, m.activeByKind, more.events) : null;
  const second = m.secondDevice;
  const secondByKind = second ? byKind(second.afterByKind, second.beforeByKind, second.users) : {};
  return {
    ...(second
      ? {
          perSecondDevice: round((second.after - second.before) / second.users - transientOf(secondByKind), 1),
          perSecondDeviceByKind: secondByKind,
          perSecondDeviceState: round(bytesOf(secondByKind, false), 1),
        }
      : {}),
    ...(perEventByKind
      ? {
          perEvent: round(bytesOf(perEventByKind, true), 1),
          perEventByKind,
        }
      : {}),
    perPending: round((m.afterEnroll - m.baseline) / users, 1),
    perActive,
    perActiveByKind,
    perPendingByKind,
    perActiveState: round(state, 1),
    perActiveAudit: round(audit, 1),
    perActiveOverhead: round(perActive - state - audit, 1),
  };
}

export function summariseCost(s: StoreFigures, kind: 'valid' | 'wrong'): CostSummary | null {
  const costs = s.runs.map((r) => (kind === 'valid' ? r.validCost : r.wrongCost)).filter((c) => c !== undefined);
  const probe = s.probes?.find((p) => p.kind === kind);
  if (costs.length === 0 || !probe) return null;
  const med = (f: (c: (typeof costs)[number]) => number) => round(median(costs.map(f)), 3);
  // one verify at a time, nothing in flight across the snapshots: exact counts
  const ops = probe.cost.storeOps;
  const sum = (o: Record<string, number>) => round(Object.values(o).reduce((a, b) => a + b, 0), 3);
  return {
    roundTrips: round((ops.reserve ?? 0) + (ops.settle ?? 0) + (ops.attempt ?? 0), 3),
    sent: sum(probe.monitor.sent),
    inScripts: sum(probe.monitor.inScripts),
    total: probe.cost.totalPerVerify,
    aloneP50: probe.p50,
    aloneP99: probe.p99,
    redisMicros: med((c) => c.redisMicrosPerVerify),
    redisCpuMicros: med((c) => c.redisCpuMicrosPerVerify),
    hdel: med((c) => c.byCommand.hdel ?? 0),
    probeReads: probe.cost.readsPerVerify,
    probeWrites: probe.cost.writesPerVerify,
    monitorSent: probe.monitor.sent,
    monitorInScripts: probe.monitor.inScripts,
  };
}

export interface TargetCheck {
  readonly name: string;
  readonly value: number;
  readonly target: string;
  readonly met: boolean;
}

/**
 * The Redis-time target measured where the clock is Redis's CPU (alone.ts): beside the loads'
 * figure, which on CPUs shared with the server and the generator is clock time.
 */
export function aloneTargets(alone: AloneFigures): TargetCheck[] {
  return [
    { name: 'Redis CPU per verify alone, µs (usual login)', value: alone.usualLogin, target: '≤ 50', met: alone.usualLogin <= 50 },
    { name: 'Redis CPU per verify alone, µs (wrong code)', value: alone.wrong, target: '≤ 50', met: alone.wrong <= 50 },
  ];
}

export function targets(
  redis: StoreSummary,
  valid: CostSummary | null,
  wrong: CostSummary | null,
  memory: MemorySummary | null,
  cli: readonly ColdStart[],
): TargetCheck[] {
  const t = (name: string, value: number, target: string, met: boolean): TargetCheck => ({ name, value, target, met });
  // the targets of the second performance round (issue 17), and the cold starts of the first
  const checks = [
    t('verify ÷ ceiling (valid codes)', redis.validRatio, '≥ 0.8', redis.validRatio >= 0.8),
    t('verify ÷ ceiling (wrong codes)', redis.wrongRatio, '≥ 0.8', redis.wrongRatio >= 0.8),
  ];
  if (redis.openLoop) checks.push(t(`p99 verify at ${redis.openLoop.rate}/s, open loop (ms)`, redis.openLoop.p99, '≤ 10', redis.openLoop.p99 <= 10));
  for (const [label, c] of [['valid', valid], ['wrong', wrong]] as const) {
    if (!c) continue;
    checks.push(t(`Redis round trips per verify (${label})`, c.roundTrips, '1', c.roundTrips <= 1));
    checks.push(t(`Redis CPU per verify, µs (${label}, commandstats)`, c.redisMicros, '≤ 50', c.redisMicros <= 50));
  }
  if (memory) {
    checks.push(t('Redis bytes of state per active user (audit apart)', memory.perActiveState, '≤ 300', memory.perActiveState <= 300));
    // one more event of a user who has some (the figure, 93 + 18 B then); the first three
    // with the list's own key are in the memory table
    const perEvent = memory.perEvent ?? Math.round((memory.perActiveAudit / 3) * 10) / 10;
    checks.push(t('Redis bytes per audit event (stream entry and place in the user list)', perEvent, '≤ 80', perEvent <= 80));
  }
  for (const c of cli) checks.push(t(`${c.command} cold start (s)`, c.median, '≤ 0.3', c.median <= 0.3));
  return checks;
}
