import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLHandler } from './graphql-http.js';
import { HttpError, sendError, sendJson } from './http.js';
import type { Logger, RequestScope } from './logger.js';
import type { Metrics } from './metrics.js';
import { logGraphQL, recordError } from './observe.js';
import type { Store } from './store/store.js';
import type { Tracing } from './tracing.js';

export interface RouterDeps {
  readonly graphql: GraphQLHandler;
  readonly metrics: Metrics;
  /** The store as given (not instrumented): readiness pings it directly. */
  readonly store: Store;
  readonly logger: Logger;
  /** Absent when tracing is off (no OTLP endpoint): then nothing here touches tracing. */
  readonly tracing?: Tracing | undefined;
}

/** Handles one request in its scope: routes it, times it, and writes its closing log line. */
export type Router = (req: IncomingMessage, res: ServerResponse, scope: RequestScope) => Promise<void>;

const READY_TIMEOUT_MS = 1000;

/** GET /readyz: ready when the store answers and its settings are safe (no evicting maxmemory-policy). */
async function ready(res: ServerResponse, { store, logger }: RouterDeps): Promise<number> {
  try {
    const report = await Promise.race([
      store.ping().then(() => store.safety?.()),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS).unref()),
    ]);
    if (report && report.fatal.length > 0) throw new Error(report.fatal.join('; '));
    sendJson(res, 200, { status: 'ready', store: store.kind });
    return 200;
  } catch (err) {
    const reason = (err as Error).message;
    logger.warn({ route: 'readyz', reason }, 'not ready');
    sendJson(res, 503, { status: 'unavailable', store: store.kind, reason });
    return 503;
  }
}

/** Dispatch by path and method; resolves with the route's name and the status sent. */
async function dispatch(req: IncomingMessage, res: ServerResponse, url: URL, scope: RequestScope, deps: RouterDeps): Promise<[string, number]> {
  const path = url.pathname;
  if (path === '/graphql') {
    if (req.method !== 'POST' && req.method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use POST (or GET for queries) on /graphql');
    return ['graphql', await deps.graphql(req, res, url, scope.reqId)];
  }
  if (req.method === 'GET' && path === '/healthz') {
    sendJson(res, 200, { status: 'ok' });
    return ['healthz', 200];
  }
  if (req.method === 'GET' && path === '/readyz') return ['readyz', await ready(res, deps)];
  if (req.method === 'GET' && path === '/metrics') {
    const text = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
    res.end(text);
    return ['metrics', 200];
  }
  throw new HttpError(404, 'NOT_FOUND', 'not found: the API is at /graphql');
}

/** A failure no route answered: a typed 4xx as sent, anything else a 500 with no details. */
function fail(err: unknown, res: ServerResponse, logger: Logger): number {
  if (err instanceof HttpError) {
    recordError(err.code);
    if (!res.headersSent) sendError(res, err);
    return err.status;
  }
  logger.error({ err }, 'request failed');
  if (!res.headersSent) sendError(res, new HttpError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'));
  else res.destroy();
  return 500;
}

export function createRouter(deps: RouterDeps): Router {
  const { logger, metrics, tracing } = deps;
  return async (req, res, scope) => {
    const started = process.hrtime.bigint();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      url = new URL('http://localhost/');
    }
    let name = url.pathname === '/graphql' ? 'graphql' : 'other';
    // one span per GraphQL request; probes and scrapes of the other routes are not traced
    if (tracing && name === 'graphql') scope.trace = tracing.startRequest(req);
    let status = 500;
    try {
      [name, status] = await dispatch(req, res, url, scope, deps);
    } catch (err) {
      status = fail(err, res, logger);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requests.observe({ route: name, status: String(status) }, seconds);
      const ms = Math.round(seconds * 1e4) / 10;
      if (name === 'graphql') logGraphQL(logger, scope, status, ms);
      else logger.debug({ route: name, status, ms }, 'request');
      scope.trace?.end(status, scope);
    }
  };
}
