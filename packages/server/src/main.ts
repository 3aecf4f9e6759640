#!/usr/bin/env node
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, flushLogs, type Logger } from './logger.js';
import { createServer, type TotpServer } from './server.js';
import { connectStore } from './store/connect.js';
import type { Store } from './store/store.js';
import { keyReport, missingKeys } from './totp/keys.js';
import { startTracing, tracingSettings, type Tracing, type TracingSettings } from './tracing.js';

/** Environment → server → listen; drain on SIGTERM. Everything else lives in createServer. */

/** Beyond the grace period, what closing Apollo and Redis may take before the process gives up. */
const SHUTDOWN_SLACK_MS = 5000;
/** A wall clock this far from the store's is worth a warning (the server follows the store's anyway). */
const SKEW_WARN_MS = 2000;

/**
 * A server whose clock is off still serves correctly (codes, lockouts and audit times follow the
 * store's clock), but its own logs and whatever else on the machine reads the time are off: say so
 * at start-up, and again at most every ten minutes while it lasts.
 */
function reportClockSkew(store: Store, logger: Logger): void {
  let warned = -Infinity;
  const check = () => {
    const skew = store.clockSkew?.() ?? 0;
    if (Math.abs(skew) < SKEW_WARN_MS || performance.now() - warned < 600_000) return;
    warned = performance.now();
    const side = skew > 0 ? 'ahead of' : 'behind';
    logger.warn(
      { skewMs: skew },
      `this server's clock is ${(Math.abs(skew) / 1000).toFixed(1)} s ${side} the store's: codes, lockouts and audit times follow the store's clock; set this machine's time right (NTP)`,
    );
  };
  check();
  setInterval(check, 60_000).unref();
}

/** The configuration (the service's own, and OpenTelemetry's), or exit 2 with the one line that names the variable. */
function readConfig(): [Config, TracingSettings | null] {
  try {
    return [loadConfig(), tracingSettings(process.env)];
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`totp-service: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** The store, reached and judged safe; otherwise exit 1 with one line saying why. */
async function openStore(config: Config, logger: Logger): Promise<Store> {
  let store: Store;
  try {
    store = await connectStore(config.store);
  } catch (err) {
    process.stderr.write(`totp-service: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const report = await store.safety?.().catch((err: Error) => ({ fatal: [`cannot read the Redis settings: ${err.message}`], warnings: [] }));
  for (const warning of report?.warnings ?? []) logger.warn(warning);
  if (report && report.fatal.length > 0) {
    process.stderr.write(`totp-service: refusing to start: ${report.fatal.join('; ')}\n`);
    flushLogs(logger);
    await store.close();
    process.exit(1);
  }
  reportClockSkew(store, logger);
  await checkKeys(store, config, logger);
  if (store.kind === 'embedded') {
    logger.warn('embedded store: data lives in this process\'s memory and ends with it; for one process only (set REDIS_URL for production)');
  }
  if (config.ephemeralKey) {
    logger.warn('TOTP_ENCRYPTION_KEYS is unset: secrets are sealed with a random key made at start-up and lost with the process');
  }
  return store;
}

/**
 * Refuse to start (exit 2) when the store holds values sealed with a key that is not configured:
 * one line per key, with its count. A store written before the counts existed is counted first.
 */
async function checkKeys(store: Store, config: Config, logger: Logger): Promise<void> {
  let usage = await store.keyUsage();
  if (!usage.counted) {
    const started = Date.now();
    await store.recountKeys();
    usage = await store.keyUsage();
    logger.info({ ms: Date.now() - started }, 'counted what each encryption key seals (a store written before version 2)');
  }
  const missing = missingKeys(keyReport(config.keyRing, usage));
  if (missing.length === 0) return;
  if (config.allowMissingKeys) {
    for (const line of missing) logger.warn(`${line}: those values cannot be opened (TOTP_ALLOW_MISSING_KEYS=true); revoke what it sealed`);
    return;
  }
  for (const line of missing) process.stderr.write(`totp-service: ${line}\n`);
  process.stderr.write('totp-service: refusing to start: add the missing key(s) to TOTP_ENCRYPTION_KEYS (after the active one); if a key is truly lost, TOTP_ALLOW_MISSING_KEYS=true starts anyway\n');
  flushLogs(logger);
  await store.close();
  process.exit(2);
}

/**
 * Export the spans still buffered (those of the requests just drained among them), within
 * `budgetMs`: a collector that does not answer never holds the exit past the grace period.
 */
async function flushTraces(tracing: Tracing | undefined, budgetMs: number, logger: Logger): Promise<void> {
  if (!tracing) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.max(0, budgetMs))));
  const result = await Promise.race([tracing.shutdown().then(() => 'flushed' as const), late]).catch(() => 'failed' as const);
  clearTimeout(timer);
  if (result !== 'flushed') logger.warn({ budgetMs }, `tracing: spans not all exported before exit (${result === 'late' ? 'the collector took too long' : 'export failed'})`);
}

/** SIGTERM or SIGINT: finish requests in flight (up to the grace period), close the store, flush the spans, exit 0. */
function stopOnSignals(server: TotpServer, store: Store, tracing: Tracing | undefined, config: Config, logger: Logger): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: finishing requests in flight');
    const exit = (code: number) => {
      flushLogs(logger);
      process.exit(code);
    };
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      exit(1);
    }, config.shutdownGraceMs + SHUTDOWN_SLACK_MS).unref();
    // the spans get what is left of the grace period (at least a second, within the slack)
    const left = (ms: number) => ms - (Date.now() - started);
    const flushBudget = () => Math.min(Math.max(1000, left(config.shutdownGraceMs)), left(config.shutdownGraceMs + SHUTDOWN_SLACK_MS) - 500);
    server
      .stop()
      .then(() => Promise.all([store.close(), flushTraces(tracing, flushBudget(), logger)]))
      .then(() => {
        logger.info({ ms: Date.now() - started }, 'stopped');
        exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** What a person who just ran `npm start` needs: where it is, and (when made up) the admin token. */
function banner(url: string, store: Store, config: Config): string {
  const lines = [``, `TOTP service ready at ${url}  (store: ${store.kind})`];
  if (config.generatedAdminToken) {
    lines.push(
      `Admin token (made at start-up, shown once; set TOTP_API_KEYS to choose your own):`,
      ``,
      `  ${config.generatedAdminToken}`,
      ``,
      `Try it:`,
      `  curl -sS ${url} -H 'content-type: application/json' \\`,
      `    -H 'authorization: Bearer ${config.generatedAdminToken}' \\`,
      `    -d '{"query":"mutation { enrollTotp(input: {userId: \\"alice\\"}) { secret otpauthUri } }"}'`,
    );
  }
  return `${lines.join('\n')}\n\n`;
}

async function main(): Promise<void> {
  // `--env-file FILE` (npm start passes .env): read when it exists; the environment wins over it
  const envFile = process.argv.indexOf('--env-file');
  const file = envFile > 0 ? process.argv[envFile + 1] : undefined;
  if (file && existsSync(file)) process.loadEnvFile(file);
  const [config, traceSettings] = readConfig();
  const logger = createLogger(config.logLevel);
  const store = await openStore(config, logger);
  // without an OTLP endpoint nothing of OpenTelemetry is imported: tracing stays undefined
  const tracing = traceSettings ? await startTracing(traceSettings, { logger, storeKind: store.kind }) : undefined;
  const server = await createServer({
    store,
    keyRing: config.keyRing,
    apiKeys: config.apiKeys,
    policy: config.policy,
    issuer: config.issuer,
    logger,
    production: config.production,
    bodyLimit: config.maxBodyBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    exportRecipients: config.exportRecipients,
    secretCache: config.secretCache,
    directVerify: config.directVerify,
    webhooks: config.webhooks,
    ...(tracing ? { tracing } : {}),
  });
  // signals are handled before the banner is printed: whoever waits for it may send one at once
  stopOnSignals(server, store, tracing, config, logger);
  const url = await server.listen(config.port, config.host).catch((err: Error) => {
    process.stderr.write(`totp-service: cannot listen on ${config.host}:${config.port}: ${err.message}\n`);
    process.exit(1);
  });
  logger.info({ url, store: store.kind, keyId: config.keyRing.activeKeyId }, 'listening');
  // the start-up warnings before the banner, not after it: the log is written asynchronously
  flushLogs(logger);
  process.stdout.write(banner(url, store, config));
}

main().catch((err: unknown) => {
  process.stderr.write(`totp-service: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
