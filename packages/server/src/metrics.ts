import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TotpError, type VerifyOutcome } from '@totp-service/core';
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
  readonly webhookDeliveries = new Counter({
    name: 'totp_webhook_deliveries_total',
    help: 'Webhook deliveries by result: delivered, failed (retried later), dropped (older than the maximum age), lost (trimmed before delivery).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly webhookBacklog = new Gauge({
    name: 'totp_webhook_backlog',
    help: 'Events of the webhook outbox waiting for a first try or a retry, as last seen by this server.',
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
  /**
   * A verify's whole time in the server (shape check, both round trips, the comparison), by its
   * outcome, or by the error code of a verify that failed: what "verify p99" is computed from.
   */
  readonly verifyLatency = new Histogram({
    name: 'totp_verify_duration_seconds',
    help: 'verifyTotp and verifyRecoveryCode (kind="recovery") by outcome, or by error code when the verify failed.',
    labelNames: ['outcome', 'kind'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly secretCache = new Counter({
    name: 'totp_secret_cache_total',
    help: 'TOTP verifies by what they found in the secret cache: hit (one Redis round trip), miss, or stale (two).',
    labelNames: ['result'] as const,
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

type Verifier = { verify(...args: never[]): Promise<{ readonly outcome: VerifyOutcome }> };

/** The error code a failed verify is labelled with: from the API's fixed list, never a message. */
function errorLabel(err: unknown): string {
  if (err instanceof StoreUnavailableError) return 'SERVICE_UNAVAILABLE';
  if (err instanceof TotpError) return err.code;
  return 'INTERNAL_SERVER_ERROR';
}

/** Time every `verify` of a service into totp_verify_duration_seconds; the rest passes through. */
function instrumentVerify<S extends Verifier>(service: S, metrics: Metrics, kind: 'totp' | 'recovery'): S {
  return new Proxy(service, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'verify' || typeof value !== 'function') return value;
      return async (...args: never[]) => {
        const end = metrics.verifyLatency.startTimer({ kind });
        try {
          const result = await (value as S['verify']).apply(target, args);
          end({ outcome: result.outcome });
          return result;
        } catch (err) {
          end({ outcome: errorLabel(err) });
          throw err;
        }
      };
    },
  });
}

/** The services with verifyTotp's and verifyRecoveryCode's service calls timed (see verifyLatency). */
export function timeVerifies<S extends { readonly totp: Verifier; readonly recovery: Verifier }>(services: S, metrics: Metrics): S {
  return { ...services, totp: instrumentVerify(services.totp, metrics, 'totp'), recovery: instrumentVerify(services.recovery, metrics, 'recovery') };
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
