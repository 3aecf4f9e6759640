#!/usr/bin/env node
/**
 * npm run bench: the TOTP service under load, on a real Redis and on the embedded store, with the
 * built server as a process, on one or more Node.js runtimes (the Redis workload and the CLI on
 * each; the embedded store, the profile and the targets on the first). Prints a table, writes the
 * same figures as JSON, and exits non-zero when something did not work (a valid code not
 * ACCEPTED, an HTTP error, a crashed process), never because of a figure: the targets are
 * reported, not enforced.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { buildKeyUri, encodeBase32, generateSecret, renderQr } from '@totp-service/core';
import { measureAlone, type AloneFigures } from './alone.js';
import { cliColdStarts, type ColdStart } from './cli.js';
import { compareMain } from './compare.js';
import { clearInheritedEventsEnv, EventSinks, eventsLabel, type EventFigures } from './events-out.js';
import { parseOptions } from './options.js';
import { ROOT, startRedis, startServer, workDirectory, type RedisProcess, type ServerProcess } from './processes.js';
import { summarise, type ProfileSummary } from './profile.js';
import { machineLine, render, type RuntimeSummary } from './report.js';
import { resolveRuntimes, type Runtime } from './runtimes.js';
import { progress, runStore, type StoreFigures } from './scenarios.js';
import { aloneTargets, summariseCost, summariseMemory, summariseStore, targets } from './summary.js';

async function qrMillis(count: number): Promise<number> {
  const uri = buildKeyUri({ secret: encodeBase32(generateSecret('SHA1')), issuer: 'TOTP Service', accountName: 'bench@example.com', algorithm: 'SHA1', digits: 6, period: 30 });
  await renderQr(uri);
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await renderQr(uri);
  return Math.round(Number(process.hrtime.bigint() - started) / 1e4 / count) / 100;
}

/** The CPU profile of a run, summarised by load, and kept beside the JSON. */
function keepProfile(profDir: string, figures: StoreFigures, out: string, problems: string[], notes: string[]): Record<string, ProfileSummary> | null {
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) {
    problems.push('no CPU profile was written');
    return null;
  }
  const profile = Object.fromEntries((['valid', 'wrong', 'malformed', 'ceiling'] as const).map((k) => [`${k} loads`, summarise(join(profDir, file), figures.windows[k])]));
  // kept beside the JSON, for Chrome DevTools or speedscope (with the windows to look at)
  const kept = join(dirname(out), 'server.cpuprofile');
  copyFileSync(join(profDir, file), kept);
  writeFileSync(`${kept}.windows.json`, `${JSON.stringify(figures.windows, null, 2)}\n`);
  notes.push(`the server's CPU profile is in ${kept} (load windows, in µs of its clock, in ${kept}.windows.json)`);
  return profile;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2), join(ROOT, 'bench/results/latest.json'));
  mkdirSync(dirname(opts.out), { recursive: true });
  clearInheritedEventsEnv();
  const work = workDirectory();
  const problems: string[] = [];
  const notes: string[] = [];
  const loadBefore = loadavg();
  const token = randomBytes(24).toString('hex');
  const env = {
    TOTP_API_KEYS: `bench:app:${token}`,
    TOTP_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    // wrong codes by the thousand, and many verifies per client address: raised for the run
    TOTP_MAX_FAILURES: '1000000',
    TOTP_CLIENT_LIMIT: '1000000000',
  };
  if (opts.compareEvents) return compareMain(opts, { env, token, work });
  let redis: RedisProcess | undefined;
  let server: ServerProcess | undefined;
  let sinks: EventSinks | undefined;
  /** What went out from each server started (with --webhooks or --tracing). */
  const events: EventFigures[] = [];
  /** `run` against a server, with what went out from it meanwhile. */
  const withEvents = async <T>(label: string, s: ServerProcess, run: () => Promise<T>): Promise<T> => {
    const mark = sinks ? await sinks.mark(s.base) : undefined;
    const out = await run();
    if (sinks && mark) events.push(await sinks.since(mark, s.base, label, opts));
    return out;
  };
  let runtimes: Runtime[] = [];
  /** The Redis workload's figures and the CLI's cold starts, by runtime (the primary first). */
  const byRuntime: { runtime: Runtime; figures: StoreFigures; cli: ColdStart[] }[] = [];
  let embeddedFigures: StoreFigures | undefined;
  let profile: Record<string, ProfileSummary> | null = null;
  let qr = NaN;
  let alone: AloneFigures | null = null;
  let redisVersion = '?';
  const stopServer = async (label: string) => {
    const s = server;
    server = undefined;
    if (!s) return;
    if (!s.alive()) problems.push(`${label}: the server process died during the run:\n${s.stderr().slice(-2000)}`);
    const code = await s.stop();
    if (code !== 0) problems.push(`${label}: the server exited with ${code} on SIGTERM:\n${s.stderr().slice(-2000)}`);
  };
  const onSignal = () => {
    void server?.stop();
    void redis?.stop();
    void sinks?.close();
    work.remove();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    runtimes = resolveRuntimes(opts.nodes);
    const primary = runtimes[0]!;
    if (opts.webhooks || opts.tracing) sinks = await EventSinks.start(opts);
    const serverEnv = { ...env, ...sinks?.env(opts) };
    const profDir = opts.profile ? join(work.path, 'profile') : undefined;
    for (const runtime of runtimes) {
      const label = runtimes.length > 1 ? `Redis, ${runtime.label}` : 'Redis';
      const profiled = runtime === primary ? profDir : undefined;
      redis = await startRedis(work.path);
      redisVersion = redis.version;
      server = await startServer(work.path, { env: { ...serverEnv, REDIS_URL: redis.url }, node: runtime.path, nodeFlags: opts.nodeFlags, ...(profiled ? { cpuProfDir: profiled } : {}) });
      const s = server;
      const figures = await withEvents(label, s, () => runStore(opts, { server: s, token, redis, keyPrefix: 'totp:' }, problems, label));
      byRuntime.push({ runtime, figures, cli: [] });
      await stopServer(label);
      if (profiled) profile = keepProfile(profiled, figures, opts.out, problems, notes);
      await redis.stop();
      redis = undefined;
    }

    if (opts.embedded) {
      server = await startServer(work.path, { env: serverEnv, node: primary.path, nodeFlags: opts.nodeFlags });
      const s = server;
      embeddedFigures = await withEvents('embedded', s, () => runStore(opts, { server: s, token, keyPrefix: '' }, problems, 'embedded'));
      await stopServer('embedded');
    }
    progress('timing QR rendering and the CLI');
    qr = await qrMillis(opts.quick ? 10 : 50);
    progress('timing Redis alone (the service in this process, one verify at a time)');
    alone = await measureAlone(work.path, opts.quick ? 100 : 1000, opts.quick ? 2 : 5);
    for (const r of byRuntime) r.cli = cliColdStarts(opts.cliRuns, r.runtime.path);
  } catch (err) {
    problems.push(`the benchmark failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await server?.stop();
    await redis?.stop();
    await sinks?.close();
    work.remove();
  }
  const redisFigures = byRuntime[0]?.figures;
  if (!redisFigures) {
    for (const p of problems) console.error(`PROBLEM: ${p}`);
    return 1;
  }
  const cli = byRuntime[0]!.cli;

  const redisSummary = summariseStore(redisFigures);
  const embedded = embeddedFigures ? summariseStore(embeddedFigures) : null;
  const memory = summariseMemory(redisFigures, opts.users);
  const validCost = summariseCost(redisFigures, 'valid');
  const wrongCost = summariseCost(redisFigures, 'wrong');
  // every target on every runtime (each ran the same workload on its own Redis)
  const checks = byRuntime.flatMap((r) => {
    const rows = targets(summariseStore(r.figures), summariseCost(r.figures, 'valid'), summariseCost(r.figures, 'wrong'), summariseMemory(r.figures, opts.users), r.cli);
    return byRuntime.length > 1 ? rows.map((c) => ({ ...c, name: `${r.runtime.label}: ${c.name}` })) : rows;
  });
  if (alone) checks.push(...aloneTargets(alone));
  const exhausted = redisFigures.runs.filter((r) => r.valid.exhausted).map((r) => `${r.valid.seconds} s`);
  if (exhausted.length) notes.push(`valid-code runs that ran out of users with a fresh step (ended early): ${exhausted.join(', ')}; enroll more users (--users) for longer runs`);
  const loadAfter = loadavg();
  const machine = machineLine(runtimes.map((r) => r.label), redisVersion, loadBefore, loadAfter);
  const title =
    `TOTP service benchmark${opts.quick ? ' (--quick: a smoke run, its numbers mean little)' : ''}: ${opts.users} users per store, ` +
    `${opts.connections} connections, ${opts.runs} run(s) of ${opts.seconds} s per load${opts.profile ? ', server under --cpu-prof (slower)' : ''}; ` +
    `events out: ${eventsLabel(opts)}${opts.nodeFlags.length ? `; server started with node ${opts.nodeFlags.join(' ')}` : ''}`;
  if (opts.webhooks) notes.push(`with --webhooks, Redis commands and CPU per verify include the webhook dispatcher's own (it reads the outbox beside the verifies)`);
  const perRuntime: RuntimeSummary[] = byRuntime.map((r) => ({ runtime: r.runtime.label, path: r.runtime.path, redis: summariseStore(r.figures), cli: r.cli }));
  const eventsOut = { webhooks: opts.webhooks, tracing: opts.tracing, figures: events };
  const report = { title, machine, redis: redisSummary, embedded, runtimes: perRuntime, qrMillis: qr, alone, validCost, wrongCost, memory, cli, targets: checks, profile, events: eventsOut, notes, problems };
  console.log(render(report));

  writeFileSync(
    opts.out,
    `${JSON.stringify({ when: new Date().toISOString(), options: opts, ...report, raw: { redis: redisFigures, redisByRuntime: byRuntime.map((r) => ({ runtime: r.runtime.label, figures: r.figures })), embedded: embeddedFigures ?? null } }, null, 2)}\n`,
  );
  console.log(`\nwritten: ${opts.out}`);
  return problems.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
