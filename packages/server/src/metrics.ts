import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { VerifyOutcome } from '@totp-service/core';
import { requestScope } from './logger.js';
import { StoreUnavailableError, type Store } from './store/store.js';

/**
 * Prometheus metrics. Labels are drawn from small fixed sets (outcomes, routes, store
 * operations): never a user id, a client address or anything a caller chooses.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly verify = new Counter({
    name: 'totp_verify_total',
    help: 'Verifies by outcome (recovery codes under kind="recovery").',
    labelNames: ['outcome', 'kind'] as const,
    registers: [this.registry],
  });
  readonly enroll = new Counter({ name: 'totp_enroll_total', help: 'Enrollments started.', registers: [this.registry] });
  readonly revoke = new Counter({
    name: 'totp_revoke_total',
    help: 'Revocations, by whether something was enrolled.',
    labelNames: ['revoked'] as const,
    registers: [this.registry],
  });
  readonly userDevices = new Histogram({
    name: 'totp_user_devices',
    help: 'Devices the user holds, observed at each enrollment (the devices per user, never a user id).',
    buckets: [1, 2, 3, 4, 5, 10],
    registers: [this.registry],
  });
  readonly lockouts = new Counter({ name: 'totp_lockouts_total', help: 'Lockouts started.', registers: [this.registry] });
  readonly requests = new Histogram({
    name: 'totp_http_request_duration_seconds',
    help: 'HTTP requests by route and status.',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: 'totp_store_duration_seconds',
    help: 'Store operations (one Redis round trip or script each).',
    labelNames: ['op'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'totp_store_errors_total',
    help: 'Store operations that failed, by operation.',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  onVerify = (outcome: VerifyOutcome, kind: 'totp' | 'recovery' = 'totp') => this.verify.inc({ outcome, kind });

  /** totp_clock_skew_seconds: this server's wall clock minus the store's, read at each scrape. */
  watchClock(skewMillis: () => number): void {
    new Gauge({
      name: 'totp_clock_skew_seconds',
      help: "This server's wall clock minus the store's (times follow the store's clock; alert when large).",
      registers: [this.registry],
      collect() {
        this.set(skewMillis() / 1000);
      },
    });
  }
}

/**
 * What is not timed as one operation: closing, reading the clock (synchronous), and the walk over
 * every user (an iterator that runs many store calls, not one call to time).
 */
const NOT_OPERATIONS = new Set(['close', 'now', 'clockSkew', 'userIds']);

/**
 * Wrap every store operation with a latency histogram and an error counter, and, when `traced`
 * (tracing is on), a child span of the request's span (a store call outside a request, or in a
 * request that is not sampled, makes none).
 */
export function instrumentStore(store: Store, metrics: Metrics, traced = false): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      if (NOT_OPERATIONS.has(prop)) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const end = metrics.storeLatency.startTimer({ op: prop });
        const endSpan = traced ? requestScope.getStore()?.trace?.storeCall(prop) : undefined;
        try {
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          endSpan?.();
          return result;
        } catch (err) {
          if (err instanceof StoreUnavailableError) metrics.storeErrors.inc({ op: prop });
          endSpan?.(err ?? new Error('rejected'));
          throw err;
        } finally {
          end();
        }
      };
    },
  });
}
