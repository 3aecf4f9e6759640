/**
 * One store's share of the benchmark, the same workload on Redis and on the embedded store:
 * enroll and activate the users, then interleaved runs of the ceiling ({ __typename }), valid
 * verifies and wrong verifies; on Redis also the memory, the command counts and the probes.
 */
import { runLoad, type LoadResult, type Shot } from './load.js';
import { runOpenLoop } from './open-loop.js';
import { gcBetween, quiesce, scrape, serverCount, type GcFigures, type ServerCount } from './metrics.js';
import type { Options } from './options.js';
import { cpuSeconds, type RedisProcess, type ServerProcess } from './processes.js';
import { commandCost, memoryByKind, monitorSample, snapshot, usedMemory, type CommandCost, type KindUsage, type MonitorSample } from './redis-stats.js';
import type { Redis } from 'ioredis';
import { Population, Tally } from './users.js';
import type { Window } from './profile.js';

export interface Figures {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly exhausted: boolean;
  readonly outcomes: Record<string, number>;
  /** CPU time of the server process (all threads) per answered request, µs. */
  readonly serverCpuMicros: number;
}

/** Redis's work per verify (redis-stats.ts) and the server's count of verifies and store calls (metrics.ts). */
export type VerifyCost = CommandCost & ServerCount;

export interface RunFigures {
  readonly ceiling: Figures;
  /** verifyTotp with a MALFORMED code: GraphQL and the service without the store (a diagnostic). */
  readonly malformed: Figures;
  readonly valid: Figures;
  readonly wrong: Figures;
  /** Redis only: per verify, over this run's valid and wrong loads. */
  readonly validCost?: VerifyCost;
  readonly wrongCost?: VerifyCost;
}

/** Wrong verifies offered at a fixed rate (half the measured maximum): the latency a login feels at that load. */
export interface OpenLoop {
  readonly rate: number;
  readonly achieved: number;
  readonly p50: number;
  readonly p99: number;
  /** `{ __typename }` offered at the same rate: what the machine, the framework and the load generator cost a request's latency. */
  readonly ceiling?: { readonly p50: number; readonly p99: number };
  /**
   * Redis only: its time in commands and its process CPU per verify at this rate, beside the
   * saturated loads' (`INFO commandstats` times a command by the clock, so under saturation it
   * includes time Redis waited for a CPU it shares with the server and the generator).
   */
  readonly cost?: { readonly redisMicros: number; readonly redisCpuMicros: number };
  /** The server's garbage collections during the wrong verifies' run and the ceiling's. */
  readonly gc?: { readonly verify: GcFigures; readonly ceiling: GcFigures };
}

export interface MemoryFigures {
  readonly baseline: number;
  readonly baselineByKind: readonly KindUsage[];
  readonly afterEnroll: number;
  readonly afterActivate: number;
  readonly pendingByKind: readonly KindUsage[];
  readonly activeByKind: readonly KindUsage[];
  /** One more audit event (a wrong code) for every user: how many, and the keys after. */
  readonly moreEvents?: { readonly events: number; readonly afterByKind: readonly KindUsage[] };
  /** A second device ("backup", enrolled and confirmed) for `users` of them: before and after. */
  readonly secondDevice?: { readonly users: number; readonly before: number; readonly after: number; readonly beforeByKind: readonly KindUsage[]; readonly afterByKind: readonly KindUsage[] };
}

export interface Probe {
  readonly kind: 'valid' | 'wrong';
  /** Latency one verify at a time (no queueing), ms. */
  readonly p50: number;
  readonly p99: number;
  readonly cost: VerifyCost;
  readonly monitor: MonitorSample;
}

export interface StoreFigures {
  readonly enroll: Figures;
  readonly activate: Figures;
  readonly runs: readonly RunFigures[];
  readonly memory?: MemoryFigures;
  readonly probes?: readonly Probe[];
  /** hrtime µs windows of each load kind, for the profile. */
  readonly windows: Record<'ceiling' | 'malformed' | 'valid' | 'wrong', Window[]>;
  /** Wrong verifies at half the maximum rate, open loop. */
  readonly openLoop?: OpenLoop;
}

export interface Target {
  readonly server: ServerProcess;
  readonly token: string;
  readonly redis?: RedisProcess;
  readonly keyPrefix: string;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** Outcome counts → problems (anything other than `expected`, any HTTP error). */
export function check(name: string, res: LoadResult & { cpu: number }, tally: Tally, expected: string, problems: string[], allowExhausted = false): Figures {
  const bad = tally.unexpected(expected);
  if (bad.length) problems.push(`${name}: expected only ${expected}, got ${bad.join(', ')}${tally.surprises.map((l) => `\n    ${l}`).join('')}`);
  if (res.non2xx || res.errors || res.timeouts) problems.push(`${name}: ${res.non2xx} non-2xx, ${res.errors} errors, ${res.timeouts} timeouts`);
  // a valid-code run may find no user with a fresh step at all: the supply, not the service
  if (res.requests === 0 && !(allowExhausted && res.exhausted)) problems.push(`${name}: no request was answered`);
  if (res.exhausted && !allowExhausted) problems.push(`${name}: ran out of users to send`);
  return {
    requests: res.requests,
    seconds: r2(res.seconds),
    perSecond: Math.round(res.perSecond),
    p50: r2(res.p50),
    p90: r2(res.p90),
    p99: r2(res.p99),
    max: r2(res.max),
    exhausted: res.exhausted,
    outcomes: Object.fromEntries(tally.counts),
    serverCpuMicros: Math.round((res.cpu * 1e6) / Math.max(1, res.requests + res.fillers)),
  };
}

const nowMicros = () => Number(process.hrtime.bigint() / 1000n);

export interface LoadExtra {
  readonly seconds?: number;
  readonly amount?: number;
  readonly connections?: number;
  readonly filler?: () => Shot;
  readonly rate?: number;
}
export type Load = (next: () => Shot | null, extra: LoadExtra) => Promise<LoadResult & { cpu: number }>;

/** A load run against `server`, with the CPU time the server spent on it. */
export function loader(opts: Options, server: ServerProcess, token: string): Load {
  return async (next, extra) => {
    const cpu = cpuSeconds(server.pid);
    const connections = extra.connections ?? opts.connections;
    const res =
      extra.rate !== undefined
        ? await runOpenLoop({ url: server.url, token, connections, next, rate: extra.rate, seconds: extra.seconds ?? opts.seconds })
        : await runLoad({ url: server.url, token, connections, next, ...extra });
    const spent = cpuSeconds(server.pid) - cpu;
    // what was still in flight when the run ended is answered before anything else is counted
    await quiesce(server.base);
    return { ...res, cpu: spent };
  };
}

export async function runStore(opts: Options, t: Target, problems: string[], label: string): Promise<StoreFigures> {
  const { server, token, redis } = t;
  const load = loader(opts, server, token);
  const windows: StoreFigures['windows'] = { ceiling: [], malformed: [], valid: [], wrong: [] };

  // warm the process (JIT, scripts loaded into Redis) with users of their own, before any baseline
  // (they are also the users of the probes: each has two fresh steps left by then)
  const warm = new Population(Math.max(opts.connections, opts.probe));
  await load(warm.enrollSupply(new Tally()), { amount: warm.users.length });
  await load(warm.validSupply(new Tally(), false), { amount: warm.users.length });
  await load(warm.ceilingSupply(new Tally()), { seconds: opts.warmup });

  const pop = new Population(opts.users);
  const baseline = redis ? await usedMemory(redis.admin) : 0;
  const baselineByKind = redis ? await memoryByKind(redis.admin, t.keyPrefix) : [];
  progress(`${label}: enrolling ${opts.users} users`);
  let tally = new Tally();
  const enroll = check(`${label} enrollTotp`, await load(pop.enrollSupply(tally), { amount: opts.users }), tally, 'ENROLLED', problems);
  const afterEnroll = redis ? await usedMemory(redis.admin) : 0;
  const pendingByKind = redis ? await memoryByKind(redis.admin, t.keyPrefix) : [];

  progress(`${label}: activating them`);
  tally = new Tally();
  const activated = await load(pop.validSupply(tally, false), { amount: opts.users });
  const activate = check(`${label} activation`, activated, tally, 'ACCEPTED', problems);
  if (tally.activated !== opts.users) problems.push(`${label} activation: ${tally.activated} of ${opts.users} answered activated: true`);
  const afterActivate = redis ? await usedMemory(redis.admin) : 0;
  const activeByKind = redis ? await memoryByKind(redis.admin, t.keyPrefix) : [];
  // one more event for each user (a wrong code): what an event costs once a user has a list
  const moreEvents = redis ? await measureMoreEvents(pop, load, redis.admin, t.keyPrefix, opts.users) : undefined;

  await load(pop.wrongSupply(new Tally()), { seconds: opts.warmup });

  const runs: RunFigures[] = [];
  for (let i = 0; i < opts.runs; i++) {
    progress(`${label}: run ${i + 1} of ${opts.runs}`);
    let from = nowMicros();
    tally = new Tally();
    const ceiling = check(`${label} ceiling`, await load(pop.ceilingSupply(tally), { seconds: opts.seconds }), tally, 'OK', problems);
    windows.ceiling.push({ from, to: nowMicros() });
    from = nowMicros();
    tally = new Tally();
    const malformed = check(`${label} malformed verifies`, await load(pop.malformedSupply(tally), { seconds: opts.seconds }), tally, 'MALFORMED', problems);
    windows.malformed.push({ from, to: nowMicros() });

    const measured = async (kind: 'valid' | 'wrong') => {
      const tl = new Tally();
      const { value: res, cost } = await costAround(redis, server.base, async () => {
        from = nowMicros();
        const r =
          kind === 'valid'
            ? await load(pop.validSupply(tl, true), { seconds: opts.seconds, filler: pop.wrongSupply(new Tally()) })
            : await load(pop.wrongSupply(tl), { seconds: opts.seconds });
        windows[kind].push({ from, to: nowMicros() });
        return r;
      });
      pop.settle();
      const expected = kind === 'valid' ? 'ACCEPTED' : 'INVALID_CODE';
      const figures = check(`${label} ${kind} verifies`, res, tl, expected, problems, kind === 'valid');
      return cost ? { figures, cost } : { figures };
    };
    const valid = await measured('valid');
    const wrong = await measured('wrong');
    runs.push({
      ceiling,
      malformed,
      valid: valid.figures,
      wrong: wrong.figures,
      ...(valid.cost ? { validCost: valid.cost } : {}),
      ...(wrong.cost ? { wrongCost: wrong.cost } : {}),
    });
  }

  // half the measured maximum, offered at a fixed rate: what a login feels at a comfortable load
  const max = runs.map((r) => r.wrong.perSecond).sort((a, b) => a - b)[Math.floor(runs.length / 2)] ?? 0;
  let openLoop: OpenLoop | undefined;
  if (max > 0) {
    progress(`${label}: open loop at ${Math.round(max / 2)} wrong verifies/s`);
    const rate = Math.max(1, Math.round(max / 2));
    const { value: [r, verifyGc], cost } = await costAround(redis, server.base, () => gcAround(server.base, () => load(pop.wrongSupply(new Tally()), { seconds: opts.seconds, rate })));
    const [c, ceilingGc] = await gcAround(server.base, () => load(warm.ceilingSupply(new Tally()), { seconds: opts.seconds, rate }));
    openLoop = {
      rate: Math.round(max / 2),
      achieved: r2(r.perSecond),
      p50: r2(r.p50),
      p99: r2(r.p99),
      ceiling: { p50: r2(c.p50), p99: r2(c.p99) },
      ...(cost ? { cost: { redisMicros: cost.redisMicrosPerVerify, redisCpuMicros: cost.redisCpuMicrosPerVerify } } : {}),
      gc: { verify: verifyGc, ceiling: ceilingGc },
    };
  }

  const probes: Probe[] = [];
  if (redis) {
    progress(`${label}: probing round trips and commands (one verify at a time)`);
    for (const kind of ['valid', 'wrong'] as const) {
      const probeTally = new Tally();
      const supply = () => (kind === 'valid' ? warm.validSupply(probeTally, true) : pop.wrongSupply(probeTally));
      const filler = pop.wrongSupply(new Tally());
      // users verified moments before, as the loads' users are: the warm population was last
      // verified minutes ago (its secrets no longer held open), so one wrong code each first
      if (kind === 'valid') await load(warm.wrongSupply(new Tally()), { amount: warm.users.length, connections: 1 });
      const { value: alone, cost } = await costAround(redis, server.base, () => load(supply(), { amount: opts.probe, connections: 1, filler }));
      const monitor = await monitorSample(redis.admin, opts.probe, async () => {
        await load(supply(), { amount: opts.probe, connections: 1, filler });
      });
      warm.settle();
      const bad = probeTally.unexpected(kind === 'valid' ? 'ACCEPTED' : 'INVALID_CODE');
      if (bad.length || probeTally.total() !== 2 * opts.probe) {
        problems.push(
          `${label} ${kind} probe: ${probeTally.total()} of ${2 * opts.probe} answered as expected; also ${bad.join(', ') || 'nothing else'}` +
            probeTally.surprises.map((l) => `\n    ${l}`).join(''),
        );
      }
      probes.push({ kind, p50: r2(alone.p50), p99: r2(alone.p99), cost, monitor });
    }
  }
  // last, so that the runs above measured users with one device: a second one for some of them
  const secondDevice = redis ? await measureSecondDevice(pop, load, redis.admin, t.keyPrefix, Math.min(opts.users, 2000), label, problems) : undefined;
  return {
    enroll,
    activate,
    runs,
    ...(redis
      ? { memory: { baseline, baselineByKind, afterEnroll, afterActivate, pendingByKind, activeByKind, ...(moreEvents ? { moreEvents } : {}), ...(secondDevice ? { secondDevice } : {}) }, probes }
      : {}),
    windows,
    ...(openLoop ? { openLoop } : {}),
  };
}

/**
 * What Redis and the server did per verify over `work`: both read before and after it, with
 * nothing else sent meanwhile. Without Redis, `work` alone (no cost).
 */
async function costAround<T>(redis: RedisProcess, base: string, work: () => Promise<T>): Promise<{ value: T; cost: VerifyCost }>;
async function costAround<T>(redis: RedisProcess | undefined, base: string, work: () => Promise<T>): Promise<{ value: T; cost?: VerifyCost }>;
async function costAround<T>(redis: RedisProcess | undefined, base: string, work: () => Promise<T>): Promise<{ value: T; cost?: VerifyCost }> {
  if (!redis) return { value: await work() };
  const read = () => Promise.all([snapshot(redis.admin), scrape(base)] as const);
  const before = await read();
  const value = await work();
  const after = await read();
  const count = serverCount(before[1], after[1]);
  return { value, cost: { ...commandCost(before[0], after[0], count.verifies), ...count } };
}

/** A load and the server's garbage collections during it (its /metrics read before and after). */
async function gcAround<T extends { readonly seconds: number }>(base: string, work: () => Promise<T>): Promise<[T, GcFigures]> {
  const before = await scrape(base);
  const value = await work();
  return [value, gcBetween(before, await scrape(base), value.seconds)];
}

/** One more event for every user (a wrong code each): how many were recorded, and the keys after. */
async function measureMoreEvents(pop: Population, load: Load, admin: Redis, keyPrefix: string, users: number) {
  const tally = new Tally();
  await load(pop.wrongSupply(tally), { amount: users });
  // each INVALID_CODE recorded one VERIFY event; the audit keys' growth over them is one event's cost
  return { events: tally.get('INVALID_CODE'), afterByKind: await memoryByKind(admin, keyPrefix) };
}

/** What a second device costs: "backup" enrolled and confirmed for `users` users, memory before and after. */
async function measureSecondDevice(
  pop: Population,
  load: Load,
  admin: Redis,
  keyPrefix: string,
  users: number,
  label: string,
  problems: string[],
) {
  progress(`${label}: a second device for ${users} users`);
  const before = await usedMemory(admin);
  const beforeByKind = await memoryByKind(admin, keyPrefix);
  let tally = new Tally();
  check(`${label} second device enrolled`, await load(pop.backupEnrollSupply(tally, users), { amount: users }), tally, 'ENROLLED', problems);
  tally = new Tally();
  check(`${label} second device confirmed`, await load(pop.backupActivateSupply(tally), { amount: users }), tally, 'ACCEPTED', problems);
  return { users, before, after: await usedMemory(admin), beforeByKind, afterByKind: await memoryByKind(admin, keyPrefix) };
}

export function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}
