/**
 * One run of the differential test (store-model.test.ts): every side (store) gets the same
 * command at the same test time, and each answer and the state it leaves are compared with the
 * embedded store's. The codes sent are each side's own (secrets are random per store), chosen by
 * the same intent; the answers must be the same.
 */
import type { Policy } from '@totp-service/core';
import type fc from 'fast-check';
import { expect } from 'vitest';
import type { TestClock } from '../contract/harness.js';
import { rawUser, type RedisTime, type Side } from './store-sides.js';

/** What one side answered: a value, or the error it threw (by what a caller can see of it). */
export type Answer<T> = { readonly ok: T } | { readonly error: { name: string; code?: string; argument?: string; message: string } };

/** Dates as ISO strings, undefined fields dropped: what GraphQL would show, and readable diffs. */
export function plain<T>(v: T): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

export class Lockstep {
  /** The commands run so far, for the report of a failure. */
  readonly log: string[] = [];
  /** Webhook outbox entries taken and not acknowledged yet, oldest first (event ids are the same on every side). */
  readonly outboxTaken: string[] = [];

  constructor(
    readonly sides: readonly Side[],
    readonly times: readonly (RedisTime | null)[],
    readonly clock: TestClock,
    public policy: Policy,
    readonly users: readonly string[],
    /** What the answers were, over all runs (a command's name and outcome, or error code): the coverage. */
    readonly tally: Map<string, number> = new Map(),
  ) {}

  /** Run `f` on every side at once; errors become answers. */
  each<T>(f: (s: Side, i: number) => Promise<T>): Promise<Answer<T>[]> {
    return Promise.all(
      this.sides.map(async (s, i): Promise<Answer<T>> => {
        try {
          return { ok: await f(s, i) };
        } catch (err) {
          if (!(err instanceof Error)) throw err;
          const e = err as Error & { code?: string; argument?: string };
          return { error: { name: e.name, ...(e.code ? { code: e.code } : {}), ...(e.argument ? { argument: e.argument } : {}), message: e.message } };
        }
      }),
    );
  }

  /** Every side's value equals the embedded store's. */
  same(what: string, values: readonly unknown[], count = true): void {
    if (count) this.count(what, values[0]);
    const [first, ...rest] = values.map(plain);
    rest.forEach((v, i) => expect(v, `${what}: ${this.sides[i + 1]!.name} vs ${this.sides[0]!.name}`).toEqual(first));
  }

  /** Count an answer by its kind (the coverage): `what` is the operation, numbered repeats folded. */
  count(what: string, answer: unknown): void {
    const name = what.replace(/ (page )?#?\d+$/, '');
    const a = answer as {
      ok?: boolean | null | { outcome?: string; activated?: boolean; rekeyed?: number; deviceId?: string | null };
      error?: { code?: string; name: string };
    };
    const ok = a.ok;
    const keys = a.error
      ? [`${name}: ${a.error.code ?? a.error.name}`]
      : typeof ok === 'boolean'
        ? [`${name}: ${ok}`]
        : ok?.outcome
          ? [`${name}: ${ok.outcome}`]
          : [`${name}: answered`];
    if (typeof ok === 'object' && ok !== null) {
      if (ok.activated) keys.push(`${name}: activated`);
      if (ok.rekeyed) keys.push(`${name}: rekeyed some`);
      if (ok.outcome === 'ACCEPTED' && ok.deviceId && ok.deviceId !== '0') keys.push(`${name}: ACCEPTED by a device other than the first`);
      if (ok.activated && ok.deviceId && ok.deviceId !== '0') keys.push(`${name}: activated a device other than the first`);
    }
    for (const k of keys) this.tally.set(k, (this.tally.get(k) ?? 0) + 1);
  }

  /** Add what a command resolved at run time (a device id, say) to its line of the report. */
  note(text: string): void {
    this.log[this.log.length - 1] += ` [${text}]`;
  }

  /**
   * One command: TTLs brought to test time, the action, then the state compared, with the TTLs
   * brought to test time again just before (a command can take more than a second of real time
   * on a busy machine, and Redis's TTLs run on that time).
   */
  async step(label: string, act: (p: Lockstep) => Promise<void>): Promise<void> {
    this.log.push(label);
    await this.refresh();
    await act(this);
    await this.refresh();
    await this.compareState(label);
  }

  private async refresh(): Promise<void> {
    await Promise.all(this.times.map((t) => t?.refresh() ?? Promise.resolve()));
  }

  async advance(ms: number): Promise<void> {
    if (ms <= 0) return;
    this.clock.advance(ms);
    await Promise.all(this.times.map((t) => t?.refresh(ms) ?? Promise.resolve()));
  }

  /** The stored records (read without side effects), each user's audit events, and what each key seals. */
  async compareState(after: string): Promise<void> {
    this.same(`key usage after ${after}`, await Promise.all(this.sides.map((s) => s.store.keyUsage())), false);
    for (const userId of this.users) {
      this.same(`record of ${userId} after ${after}`, await Promise.all(this.sides.map((s) => rawUser(s, userId))), false);
      const events = await this.each((s) => s.admin.auditEvents({ userId, first: 1000 }));
      this.same(`audit events of ${userId} after ${after}`, events, false);
    }
  }
}

/** One command of a sequence: its label (what a shrunk counterexample prints) and what it does on every side. */
export class Op implements fc.AsyncCommand<object, Lockstep> {
  constructor(
    readonly label: string,
    private readonly act: (p: Lockstep) => Promise<void>,
  ) {}
  check(): boolean {
    return true;
  }
  run(_m: object, p: Lockstep): Promise<void> {
    return p.step(this.label, this.act);
  }
  toString(): string {
    return this.label;
  }
}
