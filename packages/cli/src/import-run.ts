/**
 * The engine of `import`: each row checked here (src/import-check.ts), then sent as importTotp
 * (or, with --dry-run, only checked against the user's devices on the server, which writes
 * nothing), a few at a time, with the results reported in the file's order. Rows of the same user
 * go one after the other, so that which of two rows wins never depends on timing. A failure that
 * no later row could escape (the token, the server's store) stops the import; the rows already
 * sent are reported.
 */
import type { GraphQLClient } from './client.js';
import { ApiError } from './client.js';
import { CliFailure } from './errors.js';
import { checkInput, SeenDevices, type SecretFunctions } from './import-check.js';
import type { ImportRow } from './import-rows.js';
import { importTotp, totpStatus, type TotpDevice, type TotpState } from './operations.js';

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
  /** With imported: the user's state after the import. */
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
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** The device name of rows that carry none (--device). */
  readonly deviceName?: string | undefined;
  readonly now: number;
  /** Called with each result, in the file's order. */
  readonly report: (result: RowResult) => void;
}

/** Server errors that say nothing about the row: going on would fail every later row too. */
const FATAL = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'SERVICE_UNAVAILABLE', 'GRAPHQL_VALIDATION_FAILED', 'EXPORT_DISABLED']);

type Pending = Promise<RowResult | { fatal: CliFailure; line: number }>;

/** A stop: a failure no later row could escape, and the row it happened on. */
export interface Stop {
  readonly line: number;
  readonly failure: CliFailure;
}

export class ImportRun {
  private readonly seen = new SeenDevices();
  private readonly lastOfUser = new Map<string, Pending>();
  private readonly devicesOf = new Map<string, Promise<TotpDevice[]>>();
  private readonly inFlight: Pending[] = [];
  stop: Stop | undefined;

  constructor(private readonly o: RunOptions) {}

  /** Run every row; resolves when all are reported (or after a stop, with `stop` set). */
  async run(rows: AsyncIterable<ImportRow>): Promise<void> {
    for await (const row of rows) {
      if (this.stop) break;
      this.inFlight.push(this.dispatch(row));
      while (this.inFlight.length >= this.o.concurrency && !this.stop) await this.settleHead();
    }
    while (this.inFlight.length > 0) await this.settleHead();
  }

  private async settleHead(): Promise<void> {
    const result = await this.inFlight.shift()!;
    if ('fatal' in result) this.stop ??= { line: result.line, failure: result.fatal };
    else this.o.report(result);
  }

  /** Check a row at once (in the file's order), then send it after the user's previous row. */
  private dispatch(row: ImportRow): Pending {
    const base = { line: row.line, ...(row.entry === undefined ? {} : { entry: row.entry }), userId: row.userId };
    if ('skip' in row) return Promise.resolve({ ...base, outcome: 'skipped', ok: true, reason: row.skip });
    if ('problem' in row) return Promise.resolve(failed(base, 'BAD_ROW', row.problem));
    const input = { ...row.input };
    if (input.deviceName === undefined && this.o.deviceName !== undefined) input.deviceName = this.o.deviceName;
    const withDevice = { ...base, userId: row.userId, deviceName: input.deviceName ?? 'default' };
    const problem = checkInput(input, this.o.now, this.o.secrets) ?? this.seen.check(row.userId, input.deviceName, row.line);
    if (problem) return Promise.resolve(failed(withDevice, 'BAD_ROW', problem));
    const params = { algorithm: input.algorithm ?? 'SHA1', digits: input.digits ?? 6, period: input.period ?? 30 };
    const previous = this.lastOfUser.get(row.userId);
    const send = async (): Promise<RowResult | { fatal: CliFailure; line: number }> => {
      await previous;
      if (this.stop) return { fatal: this.stop.failure, line: this.stop.line };
      try {
        if (this.o.dryRun) return await this.predict(withDevice, params);
        const state = await importTotp(this.o.client!, input);
        return { ...withDevice, outcome: 'imported', ok: true, state, params };
      } catch (error) {
        if (error instanceof ApiError && !FATAL.has(error.serverCode)) return failed(withDevice, error.serverCode, error.message);
        const failure = error instanceof CliFailure ? error : new CliFailure(String(error), { code: 'FAILED' });
        this.stop ??= { line: row.line, failure };
        return { fatal: failure, line: row.line };
      }
    };
    const pending = send();
    this.lastOfUser.set(row.userId, pending);
    return pending;
  }

  /** --dry-run: what the server would say, as far as reading the user's devices tells (nothing is written). */
  private async predict(row: Omit<RowResult, 'outcome' | 'ok'> & { userId: string; deviceName: string }, params: RowResult['params']): Promise<RowResult> {
    if (this.o.client) {
      let devices = this.devicesOf.get(row.userId);
      if (!devices) {
        devices = totpStatus(this.o.client, row.userId).then((s) => s?.devices ?? []);
        this.devicesOf.set(row.userId, devices);
      }
      if ((await devices).some((d) => d.name === row.deviceName && d.status === 'ACTIVE')) {
        return failed(row, 'ALREADY_ENROLLED', `${row.userId} already has an active device named "${row.deviceName}" on the server`);
      }
    }
    return { ...row, outcome: 'valid', ok: true, ...(params ? { params } : {}) };
  }
}

function failed(base: Omit<RowResult, 'outcome' | 'ok'>, code: string, message: string): RowResult {
  return { ...base, outcome: 'failed', ok: false, error: { code, message } };
}
