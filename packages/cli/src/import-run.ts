/**
 * The engine of `import`: each row checked here (src/import-check.ts) in the file's order, then
 * sent with others in one request of up to MAX_ALIASES importTotp mutations, which the server
 * runs one after the other in that order (so two rows of one user never race). With --dry-run the
 * users' devices are read instead, which writes nothing. One request is in flight while the next
 * is filled; results are reported in the file's order. A failure that no later row could escape
 * (the token, the server's store) stops the import; the rows it already sent are reported.
 */
import type { GraphQLClient } from './client.js';
import { CliFailure } from './errors.js';
import { checkInput, SeenDevices, type SecretFunctions } from './import-check.js';
import type { ImportRow } from './import-rows.js';
import { devicesBatch, importTotpBatch, MAX_ALIASES, type ImportTotpInput, type TotpDevice, type TotpState } from './operations.js';

export type RowOutcome = 'imported' | 'valid' | 'skipped' | 'failed';

export interface RowResult {
  line: number;
  /** The account within a Google Authenticator line (1-based). */
  entry?: number;
  userId: string | null;
  deviceName?: string;
  outcome: RowOutcome;
  /** false exactly when the row failed. */
  ok: boolean;
  /** With imported: the user's state after the import (when the server sent it back). */
  state?: TotpState;
  /** With imported and valid: the device's parameters. */
  params?: { algorithm: string; digits: number; period: number };
  /** With skipped: why. */
  reason?: string;
  error?: { code: string; message: string };
}

export interface RunOptions {
  readonly client: GraphQLClient | null;
  readonly dryRun: boolean;
  readonly secrets: SecretFunctions;
  /** The device name of rows that carry none (--device). */
  readonly deviceName?: string | undefined;
  readonly now: number;
  /** Rows per request (at most the server's MAX_ALIASES). */
  readonly batchSize?: number;
  /** Called with each result, in the file's order. */
  readonly report: (result: RowResult) => void;
}

/** Server errors that say nothing about the row: going on would fail every later row too. */
const FATAL = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'SERVICE_UNAVAILABLE', 'GRAPHQL_VALIDATION_FAILED', 'QUERY_TOO_COMPLEX', 'BAD_REQUEST']);

/** A stop: a failure no later row could escape, and the row it happened on. */
export interface Stop {
  readonly line: number;
  readonly failure: CliFailure;
}

/** A row in the file's order: its result once known; `input` while it waits to be sent. */
interface Job {
  result?: RowResult;
  readonly base: Omit<RowResult, 'outcome' | 'ok'> & { userId: string; deviceName: string };
  readonly input?: ImportTotpInput;
}

export class ImportRun {
  private readonly seen = new SeenDevices();
  private readonly devicesOf = new Map<string, TotpDevice[]>();
  private readonly queue: Job[] = [];
  private batch: Job[] = [];
  private inFlight: Promise<void> | null = null;
  private readonly batchSize: number;
  stop: Stop | undefined;

  constructor(private readonly o: RunOptions) {
    this.batchSize = Math.min(o.batchSize ?? MAX_ALIASES, MAX_ALIASES);
  }

  /** Run every row; resolves when all are reported (or after a stop, with `stop` set). */
  async run(rows: AsyncIterable<ImportRow>): Promise<void> {
    try {
      for await (const row of rows) {
        if (this.stop) break;
        const job = this.prepare(row);
        this.queue.push(job);
        if (!job.result) this.batch.push(job);
        if (this.batch.length >= this.batchSize) await this.sendNext();
        this.drain();
      }
    } finally {
      while (!this.stop && (this.batch.length > 0 || this.inFlight)) await this.sendNext();
      await this.inFlight;
      this.drain();
    }
    if (!this.stop && this.queue.length > 0) throw new Error(`${this.queue.length} rows were left without a result (from line ${this.queue[0]!.base.line})`);
  }

  /** Report the results at the head of the queue, in order, as far as they are known. */
  private drain(): void {
    while (this.queue[0]?.result) this.o.report(this.queue.shift()!.result!);
  }

  /** Wait for the request in flight, then send the next batch (rows it left unrun come first). */
  private async sendNext(): Promise<void> {
    await this.inFlight;
    this.inFlight = null;
    if (this.stop || this.batch.length === 0) return;
    const jobs = this.batch.splice(0, this.batchSize);
    this.inFlight = (this.o.dryRun ? this.predict(jobs) : this.send(jobs)).catch((error: unknown) => {
      this.stop ??= { line: jobs[0]!.base.line, failure: error instanceof CliFailure ? error : new CliFailure(String(error), { code: 'FAILED' }) };
    });
  }

  /** A row's result when it is known without the server (skipped, a problem), else the job to send. */
  private prepare(row: ImportRow): Job {
    const base = { line: row.line, ...(row.entry === undefined ? {} : { entry: row.entry }), userId: row.userId };
    if ('skip' in row) return { base: { ...base, userId: '', deviceName: '' }, result: { ...base, outcome: 'skipped', ok: true, reason: row.skip } };
    if ('problem' in row) return { base: { ...base, userId: '', deviceName: '' }, result: failed(base, 'BAD_ROW', row.problem) };
    const input = { ...row.input };
    if (input.deviceName === undefined && this.o.deviceName !== undefined) input.deviceName = this.o.deviceName;
    const withDevice = { ...base, userId: row.userId, deviceName: input.deviceName ?? 'default' };
    const problem = checkInput(input, this.o.now, this.o.secrets);
    if (problem) return { base: withDevice, result: failed(withDevice, 'BAD_ROW', problem) };
    const duplicate = this.seen.check(row.userId, input.deviceName, row.line);
    if (duplicate) return { base: withDevice, result: failed(withDevice, 'DUPLICATE_ROW', duplicate) };
    return { base: { ...withDevice, params: { algorithm: input.algorithm ?? 'SHA1', digits: input.digits ?? 6, period: input.period ?? 30 } }, input };
  }

  private async send(jobs: Job[]): Promise<void> {
    const results = await importTotpBatch(this.o.client!, jobs.map((j) => j.input!));
    for (const [i, r] of results.entries()) {
      const job = jobs[i]!;
      if (r.ok) job.result = { ...job.base, outcome: 'imported', ok: true, ...(r.value ? { state: r.value } : {}) };
      else if ('notRun' in r) {
        // The server stopped at the failed row: the rest go again, before any later row.
        this.batch.unshift(...jobs.slice(i));
        return;
      } else if (FATAL.has(r.error.serverCode)) {
        this.stop ??= { line: job.base.line, failure: r.error };
        return;
      } else job.result = failed(job.base, r.error.serverCode, r.error.message);
    }
  }

  /** --dry-run: what the server would say, as far as reading the users' devices tells. */
  private async predict(jobs: Job[]): Promise<void> {
    if (this.o.client) {
      const users = [...new Set(jobs.map((j) => j.base.userId))].filter((u) => !this.devicesOf.has(u));
      const found = users.length > 0 ? await devicesBatch(this.o.client, users) : [];
      for (const [i, r] of found.entries()) {
        if (!r.ok && 'error' in r && FATAL.has(r.error.serverCode)) throw r.error;
        this.devicesOf.set(users[i]!, r.ok ? r.value : []);
      }
    }
    for (const job of jobs) {
      const { userId, deviceName } = job.base;
      const taken = this.devicesOf.get(userId)?.some((d) => d.name === deviceName && d.status === 'ACTIVE');
      job.result = taken
        ? failed(job.base, 'ALREADY_ENROLLED', `${userId} already has an active device named "${deviceName}" on the server`)
        : { ...job.base, outcome: 'valid', ok: true };
    }
  }
}

function failed(base: Omit<RowResult, 'outcome' | 'ok' | 'params'>, code: string, message: string): RowResult {
  const { line, entry, userId, deviceName } = base;
  return { line, ...(entry === undefined ? {} : { entry }), userId, ...(deviceName ? { deviceName } : {}), outcome: 'failed', ok: false, error: { code, message } };
}

