import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyRing, Policy } from '@totp-service/core';
import { buildApollo } from './apollo.js';
import { directVerify } from './direct-verify.js';
import type { ApiKey } from './config.js';
import { graphqlHandler } from './graphql-http.js';
import { HttpError, sendError } from './http.js';
import { DEFAULT_BODY_LIMIT, graphqlLimits } from './limits.js';
import { requestIdFrom, requestScope, type Logger, type RequestScope } from './logger.js';
import { Metrics, instrumentStore, timeVerifies } from './metrics.js';
import { createQrPool } from './qr-pool.js';
import { createRouter } from './router.js';
import { buildTotpSchema } from './schema.js';
import { buildServices } from './services.js';
import { WebhookDispatcher, type DispatcherOptions, type WebhookSettings } from './webhooks/dispatcher.js';
import type { Store } from './store/store.js';
import type { TotpService } from './totp/totp.service.js';
import type { Tracing } from './tracing.js';

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
  /** TOTP_WEBHOOK_*: where security events go; none, no webhooks. */
  readonly webhooks?: WebhookSettings | null;
  /** Webhook delivery timing (tests shorten the poll). */
  readonly webhookOptions?: DispatcherOptions;
  /** TOTP_EXPORT_RECIPIENTS: age recipients of export pages (none: exportTotp answers EXPORT_DISABLED). */
  readonly exportRecipients?: readonly string[];
  /** Users whose secrets are held open between verifies (default DEFAULT_SECRET_CACHE). */
  readonly secretCache?: { readonly size: number; readonly seconds: number };
  /** How long stop() lets requests in flight finish before closing their connections (ms). */
  readonly shutdownGraceMs?: number;
  /** Spans of GraphQL requests and their store calls (startTracing); absent: no tracing, at no cost. */
  readonly tracing?: Tracing;
  /** false: Apollo answers every verify too (direct-verify.ts; tests compare the two). Default true. */
  readonly directVerify?: boolean;
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

const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;

/** Node's HTTP server with the request limits: a client that trickles its request (slowloris) is cut off. */
function httpServerWithLimits(requestTimeoutMs: number): Server {
  const server = createHttpServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(requestTimeoutMs, HEADERS_TIMEOUT_MS),
    connectionsCheckingInterval: Math.min(1000, requestTimeoutMs),
  });
  // malformed HTTP is answered with a bare status line, before any handler runs
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
      : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  });
  return server;
}

/**
 * Build the whole service from its dependencies, with no environment and no globals: the services
 * (services.ts), Apollo (apollo.ts), the GraphQL endpoint (graphql-http.ts) and the router
 * (router.ts) on one HTTP server, which this module listens with, drains and stops.
 */
export async function createServer(deps: ServerDeps): Promise<TotpServer> {
  const metrics = new Metrics();
  metrics.watchClock(() => deps.store.clockSkew?.() ?? 0);
  const qr = createQrPool(deps.qrThreads);
  const services = timeVerifies(buildServices({
    store: instrumentStore(deps.store, metrics, deps.tracing !== undefined),
    keyRing: deps.keyRing,
    policy: deps.policy,
    issuer: deps.issuer,
    clock: deps.clock ?? (() => deps.store.now()),
    metrics,
    renderQr: qr.render,
    exportRecipients: deps.exportRecipients ?? [],
    ...(deps.secretCache ? { secretCache: deps.secretCache } : {}),
  }), metrics);
  const httpServer = httpServerWithLimits(deps.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
  const schema = await buildTotpSchema();
  const limits = graphqlLimits();
  const apollo = await buildApollo({
    schema,
    limits,
    httpServer,
    logger: deps.logger,
    production: deps.production ?? false,
    shutdownGraceMs: deps.shutdownGraceMs ?? 10_000,
  });
  const graphql = graphqlHandler(apollo, {
    apiKeys: deps.apiKeys,
    services,
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    ...(deps.directVerify === false ? {} : { direct: directVerify({ schema, limits, apiKeys: deps.apiKeys, services }) }),
  });
  const route = createRouter({ graphql, metrics, store: deps.store, logger: deps.logger, tracing: deps.tracing });
  const webhooks = deps.webhooks ? new WebhookDispatcher(deps.store.outbox, deps.webhooks, metrics, deps.logger, deps.webhookOptions) : null;
  await webhooks?.start();

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

  return {
    httpServer,
    metrics,
    totp: services.totp,
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
      await webhooks?.stop();
      await qr.close();
    },
  };
}
