import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { TotpError, type KeyRing, type Policy } from '@totp-service/core';
import { authenticate } from './auth.js';
import type { ApiKey } from './config.js';
import type { Context } from './context.js';
import { makeFormatError, toGraphQLError } from './errors.js';
import { HttpError, sendError, sendJson, toGraphQLRequest } from './http.js';
import { DEFAULT_BODY_LIMIT, graphqlLimits } from './limits.js';
import { requestIdFrom, requestScope, type Logger, type RequestScope } from './logger.js';
import { Metrics, instrumentStore } from './metrics.js';
import { createQrPool } from './qr-pool.js';
import { logGraphQL, operationPlugin, recordError, recordOutcome } from './observe.js';
import { buildTotpSchema } from './schema.js';
import type { Store } from './store/store.js';
import { AdminService } from './totp/admin.service.js';
import { RecoveryService } from './totp/recovery.service.js';
import { TotpService } from './totp/totp.service.js';

export interface ServerDeps {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly apiKeys: readonly ApiKey[];
  readonly policy: Policy;
  readonly issuer: string;
  readonly logger: Logger;
  readonly production?: boolean;
  /** Epoch ms; the store's clock (see Store.now) unless a test says otherwise. */
  readonly clock?: () => number;
  /** Largest request body, bytes (TOTP_MAX_BODY_BYTES). */
  readonly bodyLimit?: number;
  /** Longest a request may take to arrive, headers and body, ms. */
  readonly requestTimeoutMs?: number;
  /** Worker threads rendering QR codes; 0 renders on the main thread. Default: cores - 1, at least 1. */
  readonly qrThreads?: number;
  /** How long stop() lets requests in flight finish before closing their connections (ms). */
  readonly shutdownGraceMs?: number;
}

export interface TotpServer {
  readonly httpServer: Server;
  readonly metrics: Metrics;
  readonly totp: TotpService;
  /** Listen; resolves with the GraphQL URL. */
  listen(port: number, host: string): Promise<string>;
  /** Stop accepting, finish requests in flight, stop Apollo. The store is the caller's to close. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;

/** Build the whole service from its dependencies: no environment, no globals. */
export async function createServer(deps: ServerDeps): Promise<TotpServer> {
  const { logger } = deps;
  const metrics = new Metrics();
  const store = instrumentStore(deps.store, metrics);
  metrics.watchClock(() => deps.store.clockSkew?.() ?? 0);
  const qr = createQrPool(deps.qrThreads);
  const clock = deps.clock ?? (() => deps.store.now());
  const totp = new TotpService({
    store,
    keyRing: deps.keyRing,
    policy: deps.policy,
    issuer: deps.issuer,
    clock,
    onVerify: (outcome, kind) => {
      metrics.onVerify(outcome, kind);
      recordOutcome(outcome);
    },
    onLockout: () => metrics.lockouts.inc(),
    onEnroll: () => metrics.enroll.inc(),
    onRevoke: (revoked) => metrics.revoke.inc({ revoked: String(revoked) }),
    renderQr: qr.render,
  });
  const recovery = new RecoveryService({
    store,
    keyRing: deps.keyRing,
    clock,
    limits: totp.limits,
    onVerify: (outcome, kind) => {
      metrics.onVerify(outcome, kind);
      recordOutcome(outcome);
    },
    onLockout: () => metrics.lockouts.inc(),
  });
  const admin = new AdminService({ store, keyRing: deps.keyRing, issuer: deps.issuer, clock });
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const production = deps.production ?? false;
  const formatError = makeFormatError({
    exposeInternals: !production,
    onInternalError: (err) => logger.error({ err }, 'unexpected error'),
  });

  // a client that trickles its request (slowloris) is cut off; Node checks at this interval
  const requestTimeout = deps.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const httpServer = createHttpServer({
    requestTimeout,
    headersTimeout: Math.min(requestTimeout, HEADERS_TIMEOUT_MS),
    connectionsCheckingInterval: Math.min(1000, requestTimeout),
  });
  const limits = graphqlLimits();
  const apollo = new ApolloServer<Context>({
    schema: await buildTotpSchema(),
    introspection: !production,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: true,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // no client of this API uses automatic persisted queries: one cache less to fill
    persistedQueries: false,
    parseOptions: limits.parseOptions,
    validationRules: limits.validationRules,
    validationOptions: limits.validationOptions,
    // main.ts owns the signals: it drains, closes the store, then exits
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => {
      const out = formatError(formatted, error);
      recordError(out.extensions?.code);
      return out;
    },
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: deps.shutdownGraceMs ?? 10_000 }),
      // every response is no-store; without this plugin Apollo wraps each field's resolver to
      // gather cache hints that nothing reads (a cost on every field of every request)
      ApolloServerPluginCacheControlDisabled(),
      operationPlugin,
      ...limits.plugins,
    ],
  });
  await apollo.start();

  async function graphql(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string): Promise<number> {
    const httpGraphQLRequest = await toGraphQLRequest(req, url, bodyLimit);
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest,
      context: async () => {
        try {
          return { principal: authenticate(req.headers.authorization, deps.apiKeys), totp, recovery, admin };
        } catch (err) {
          throw err instanceof TotpError ? toGraphQLError(err) : err;
        }
      },
    });
    const status = response.status ?? 200;
    const headers: Record<string, string> = { 'x-request-id': requestId, 'cache-control': 'no-store' };
    for (const [k, v] of response.headers) headers[k] = v;
    if (response.body.kind === 'complete') {
      headers['content-length'] = String(Buffer.byteLength(response.body.string));
      res.writeHead(status, headers);
      res.end(response.body.string);
    } else {
      res.writeHead(status, headers);
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
    return status;
  }

  /** Ready when the store answers and its settings are safe (no evicting maxmemory-policy). */
  async function ready(res: ServerResponse): Promise<number> {
    const { store } = deps;
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

  async function route(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = scope.reqId;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      url = new URL('http://localhost/');
    }
    const path = url.pathname;
    let name = 'other';
    let status = 500;
    try {
      if (path === '/graphql') {
        name = 'graphql';
        if (req.method !== 'POST' && req.method !== 'GET') {
          throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use POST (or GET for queries) on /graphql');
        }
        status = await graphql(req, res, url, requestId);
      } else if (req.method === 'GET' && path === '/healthz') {
        name = 'healthz';
        sendJson(res, (status = 200), { status: 'ok' });
      } else if (req.method === 'GET' && path === '/readyz') {
        name = 'readyz';
        status = await ready(res);
      } else if (req.method === 'GET' && path === '/metrics') {
        name = 'metrics';
        const text = await metrics.registry.metrics();
        res.writeHead((status = 200), { 'content-type': metrics.registry.contentType });
        res.end(text);
      } else {
        throw new HttpError(404, 'NOT_FOUND', 'not found: the API is at /graphql');
      }
    } catch (err) {
      if (err instanceof HttpError) {
        status = err.status;
        recordError(err.code);
        if (!res.headersSent) sendError(res, err);
      } else {
        status = 500;
        logger.error({ err }, 'request failed');
        if (!res.headersSent) sendError(res, new HttpError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'));
        else res.destroy();
      }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requests.observe({ route: name, status: String(status) }, seconds);
      const ms = Math.round(seconds * 1e4) / 10;
      if (name === 'graphql') logGraphQL(logger, scope, status, ms);
      else logger.debug({ route: name, status, ms }, 'request');
    }
  }

  // Once stop() has begun, a request that reaches the handler arrived on a connection the drain
  // already closed (or is about to): it is refused before it touches the store, so the client
  // either gets this whole answer or nothing, and never a half-done operation.
  let draining = false;
  httpServer.on('request', (req, res) => {
    if (draining) {
      res.shouldKeepAlive = false;
      if (res.writable) sendError(res, new HttpError(503, 'SERVICE_UNAVAILABLE', 'the server is shutting down; retry on another instance'));
      else req.socket.destroy();
      return;
    }
    const scope: RequestScope = { reqId: requestIdFrom(req.headers['x-request-id'], randomUUID), outcomes: [], errors: [] };
    requestScope.run(scope, () => void route(req, res, scope));
  });
  httpServer.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
      : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  });

  return {
    httpServer,
    metrics,
    totp,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const { port: bound } = httpServer.address() as AddressInfo;
          resolve(`http://${host.includes(':') ? `[${host}]` : host}:${bound}/graphql`);
        });
      }),
    stop: async () => {
      draining = true;
      await apollo.stop();
      await qr.close();
    },
  };
}
