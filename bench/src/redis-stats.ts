/**
 * What Redis says about the work and the memory: INFO sections (commandstats, stats, memory),
 * MEMORY USAGE of every key by kind, and a MONITOR sample that tells the commands a client sent
 * from the ones Lua scripts ran.
 */
import type { Redis } from 'ioredis';

export type Info = Record<string, string>;

export async function info(admin: Redis, section: string): Promise<Info> {
  const out: Info = {};
  for (const line of (await admin.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export interface Snapshot {
  readonly commands: Map<string, { calls: number; usec: number }>;
  readonly stats: Info;
  readonly cpu: number;
}

/** Commands the benchmark itself sends on its admin connection: not the service's. */
const OWN = new Set(['info', 'memory', 'scan', 'monitor', 'ping', 'client', 'config', 'select', 'dbsize']);

export async function snapshot(admin: Redis): Promise<Snapshot> {
  const [cs, stats, cpu] = await Promise.all([info(admin, 'commandstats'), info(admin, 'stats'), info(admin, 'cpu')]);
  const commands = new Map<string, { calls: number; usec: number }>();
  for (const [k, v] of Object.entries(cs)) {
    const name = k.replace(/^cmdstat_/, '');
    if (OWN.has(name)) continue;
    const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
    const usec = Number(/usec=(\d+)/.exec(v)?.[1] ?? 0);
    commands.set(name, { calls, usec });
  }
  return { commands, stats, cpu: Number(cpu.used_cpu_user ?? 0) + Number(cpu.used_cpu_sys ?? 0) };
}

export interface CommandCost {
  /** Every command Redis ran (sent by clients or run inside scripts), per verify. */
  readonly totalPerVerify: number;
  /** Script calls (EVALSHA, EVAL) per verify: what the service sends on the verify path. */
  readonly scriptsPerVerify: number;
  /** Per verify, by command name. */
  readonly byCommand: Record<string, number>;
  /** Redis time per verify by command name, µs (a script's figure includes the commands it ran, which have their own). */
  readonly usecByCommand: Record<string, number>;
  /** Redis time in the service's commands (EVALSHA's usec covers its script), µs per verify. */
  readonly redisMicrosPerVerify: number;
  /** Redis process CPU (user + sys), µs per verify. */
  readonly redisCpuMicrosPerVerify: number;
  /** Socket reads and reply writes Redis made, per verify (with many verifies in flight, one read carries several). */
  readonly readsPerVerify: number;
  readonly writesPerVerify: number;
}

const SCRIPT_CALLS = new Set(['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'fcall_ro']);

export function commandCost(before: Snapshot, after: Snapshot, verifies: number): CommandCost {
  let total = 0;
  let scripts = 0;
  let scriptUsec = 0;
  let allUsec = 0;
  const byCommand: Record<string, number> = {};
  const usecByCommand: Record<string, number> = {};
  for (const [name, a] of after.commands) {
    const b = before.commands.get(name) ?? { calls: 0, usec: 0 };
    const calls = a.calls - b.calls;
    if (calls === 0) continue;
    byCommand[name] = round(calls / verifies, 3);
    usecByCommand[name] = round((a.usec - b.usec) / verifies, 2);
    total += calls;
    allUsec += a.usec - b.usec;
    if (SCRIPT_CALLS.has(name)) {
      scripts += calls;
      scriptUsec += a.usec - b.usec;
    }
  }
  const delta = (k: string) => Number(after.stats[k] ?? 0) - Number(before.stats[k] ?? 0);
  return {
    totalPerVerify: round(total / verifies, 3),
    scriptsPerVerify: round(scripts / verifies, 3),
    byCommand,
    usecByCommand,
    redisMicrosPerVerify: round((scriptUsec || allUsec) / verifies, 2),
    redisCpuMicrosPerVerify: round(((after.cpu - before.cpu) * 1e6) / verifies, 2),
    // the INFO that took `before` was read before it and written after it: one each to take off
    readsPerVerify: round((delta('total_reads_processed') - 1) / verifies, 3),
    writesPerVerify: round((delta('total_writes_processed') - 1) / verifies, 3),
  };
}

export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function usedMemory(admin: Redis): Promise<number> {
  return Number((await info(admin, 'memory')).used_memory);
}

export interface KindUsage {
  readonly kind: string;
  readonly keys: number;
  readonly bytes: number;
}

/** The key kinds of packages/server/src/store/keys.ts, after the key prefix. */
const KINDS: readonly [string, RegExp][] = [
  ['user hash {bNN}:u:<id>', /^\{b\d\d\}:u:/],
  ['recovery codes {bNN}:r:<id>', /^\{b\d\d\}:r:/],
  ['user event ids {bNN}:ei:<id>', /^\{b\d\d\}:ei:/],
  ['bucket audit streams {bNN}:audit', /^\{b\d\d\}:audit$/],
  ['ACTIVE index {bNN}:ia (its chunks :ia:<bound> and their directory :iad)', /^\{b\d\d\}:ia(d|:.+)?$/],
  ['PENDING index {bNN}:ip', /^\{b\d\d\}:ip$/],
  ['pending expiry {bNN}:px', /^\{b\d\d\}:px$/],
  ['client counters {c:<ip>}', /^\{c:/],
];
export const AUDIT_KINDS = new Set(['user event ids {bNN}:ei:<id>', 'bucket audit streams {bNN}:audit']);
/** Kinds that are neither a user's state nor audit: per client address, gone after a minute. */
export const TRANSIENT_KINDS = new Set(['client counters {c:<ip>}']);

/** MEMORY USAGE (exact: SAMPLES 0) of every key under `prefix`, summed by kind. */
export async function memoryByKind(admin: Redis, prefix: string): Promise<KindUsage[]> {
  const totals = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    const pipe = admin.pipeline();
    for (const k of keys) pipe.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
    const sizes = (await pipe.exec()) ?? [];
    keys.forEach((k, i) => {
      const rest = k.slice(prefix.length);
      const kind = KINDS.find(([, re]) => re.test(rest))?.[0] ?? 'other';
      const t = totals.get(kind) ?? { keys: 0, bytes: 0 };
      t.keys += 1;
      t.bytes += Number(sizes[i]?.[1] ?? 0);
      totals.set(kind, t);
    });
  } while (cursor !== '0');
  return [...totals].map(([kind, t]) => ({ kind, ...t })).sort((a, b) => b.bytes - a.bytes);
}

export interface MonitorSample {
  /** Per verify: commands sent by clients, and run inside scripts, by name. */
  readonly sent: Record<string, number>;
  readonly inScripts: Record<string, number>;
}

/** Watch everything Redis runs while `work` makes `verifies` verifies. */
export async function monitorSample(admin: Redis, verifies: number, work: () => Promise<void>): Promise<MonitorSample> {
  const monitor = await admin.duplicate().monitor();
  const sent: Record<string, number> = {};
  const inScripts: Record<string, number> = {};
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = String(args[0]).toLowerCase();
    if (OWN.has(name)) return;
    const into = source === 'lua' ? inScripts : sent;
    into[name] = (into[name] ?? 0) + 1;
  });
  try {
    await work();
    // MONITOR output trails the commands a little
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    monitor.disconnect();
  }
  const per = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v / verifies, 3)]));
  return { sent: per(sent), inScripts: per(inScripts) };
}
