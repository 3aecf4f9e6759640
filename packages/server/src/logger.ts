import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';
import type { RequestSpan } from './tracing.js';

/**
 * Structured JSON logs. Anything that could carry a secret is redacted by path, whatever the
 * call site passes: tokens, codes, secrets, recovery codes, Authorization headers, GraphQL
 * variables, and the arguments ioredis attaches to a failed command (sealed secrets, hashes).
 * The service never logs a query's text or its variables in the first place (a code can be
 * written inline in a query); these paths are the second line of defence.
 */

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  'code',
  'codes',
  'query',
  'variables',
  'err.command.args',
  'err.cause.command.args',
  'err.args',
  '*.token',
  '*.secret',
  '*.code',
  '*.codes',
  '*.variables',
  '*.query',
];

/**
 * What the service knows about the request being served, kept in AsyncLocalStorage so that every
 * line logged while serving it (by any module) carries its request id, and the closing line can
 * say what the request did.
 */
export interface RequestScope {
  readonly reqId: string;
  /** The GraphQL operation's name, as the client gave it (shortened). */
  operation?: string;
  /** The root fields of the operation (names from the schema: a fixed set). */
  fields?: string[];
  /** query, mutation or subscription, once the operation is resolved. */
  operationType?: string;
  /** The request's span, when tracing is on (tracing.ts): its ids go on every line of the request. */
  trace?: RequestSpan;
  /** Verify outcomes, in order (several with aliases). */
  readonly outcomes: string[];
  /** extensions.code of every error answered. */
  readonly errors: string[];
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

/** A request id from the client's x-request-id when it is sane, else a fresh one. */
export function requestIdFrom(header: string | string[] | undefined, fresh: () => string): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && /^[\w.:-]{1,64}$/.test(given) ? given : fresh();
}

/**
 * A logger writing to `destination`, or asynchronously to stdout; `flushLogs()` writes out what
 * is buffered (call it before process.exit).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const stream = destination ?? pino.destination({ dest: 1, sync: false });
  const logger = pino(
    {
      level,
      base: { service: 'totp-service' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // trace_id and span_id as OpenTelemetry names them in logs, so a backend can join the two
      mixin: () => {
        const scope = requestScope.getStore();
        if (!scope) return {};
        return scope.trace ? { reqId: scope.reqId, trace_id: scope.trace.traceId, span_id: scope.trace.spanId } : { reqId: scope.reqId };
      },
    },
    stream as pino.DestinationStream,
  );
  return logger;
}

const accessLoggers = new WeakMap<Logger, Logger>();

/**
 * The logger for a request's closing line (observe.ts logGraphQL): the service builds that line
 * itself from a fixed set of keys (route, status, ms, operation, fields, outcome(s), errors), none
 * of them a redacted name, so it keeps the top-level paths only. The paths with a wildcard cost
 * about 11 µs a line (measured: 16.5 against 5.7 µs), since pino runs them over every object
 * value of the line, and its arrays (fields, outcomes) are such values; every request pays it.
 */
export function accessLogger(logger: Logger): Logger {
  let access = accessLoggers.get(logger);
  if (!access) {
    access = logger.child({}, { redact: { paths: REDACT_PATHS.filter((p) => !p.includes('*')), censor: '[redacted]' } });
    accessLoggers.set(logger, access);
  }
  return access;
}

/** Write out buffered log lines synchronously (before exiting). */
export function flushLogs(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void } | undefined;
  try {
    stream?.flushSync?.();
  } catch {
    /* nothing buffered, or the stream is gone */
  }
}

export type { Logger };
