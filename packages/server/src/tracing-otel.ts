import type { IncomingMessage } from 'node:http';
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  diag,
  trace,
  type Attributes,
  type Context,
  type DiagLogFunction,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import {
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import { requestScope, type Logger } from './logger.js';
import type { RequestSpan, SpanSummary, Tracing, TracingSettings } from './tracing.js';

/**
 * The OpenTelemetry side of tracing.ts, imported only when an OTLP endpoint is set. Spans are made
 * explicitly (no auto-instrumentation: nothing patches http or ioredis), with their parents passed
 * by hand rather than through a global context manager: the request's span lives in the request's
 * scope (logger.ts), which the service already keeps in AsyncLocalStorage.
 *
 * What goes into a span is a closed list: the HTTP method (one of the standard ones), the route
 * (/graphql, never the query string: a GET carries the query and its variables there), the status,
 * the peer's address, the root field names of the operation (names from the schema, checked by
 * validation before they are recorded), the verify outcomes and the error codes. Never a variable,
 * the query text, the operation name (chosen by the caller), a header (but the W3C trace context
 * read to continue the caller's trace), or an error's message.
 */

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE']);
const SERVICE_ERRORS = new Set(['SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR']);
/** Root fields named in a span name; the full list is an attribute. */
const NAMED_FIELDS = 3;
const REDIS_KINDS = new Set(['redis', 'cluster', 'sentinel']);

/** A span's name from the operation's root fields: `verifyTotp`, `totpStatus,totpEnrollments`. */
function spanName(fields: readonly string[] | undefined): string | null {
  const names = [...new Set((fields ?? []).filter((f) => /^\w{1,64}$/.test(f)))];
  if (names.length === 0) return null;
  return names.length > NAMED_FIELDS ? `${names.slice(0, NAMED_FIELDS).join(',')},…` : names.join(',');
}

/** What a failure is, by its class only: a message can carry input (a Redis error quotes its command). */
function errorType(error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  return /^\w{1,64}$/.test(name) ? name : 'Error';
}

function endAttributes(status: number, scope: SpanSummary): Attributes {
  const attributes: Attributes = { [ATTR_HTTP_RESPONSE_STATUS_CODE]: status };
  if (scope.operationType) attributes['graphql.operation.type'] = scope.operationType;
  if (scope.fields?.length) attributes['totp.graphql.fields'] = [...scope.fields];
  if (scope.outcomes.length > 0) attributes['totp.verify.outcomes'] = [...scope.outcomes];
  if (scope.errors.length > 0) attributes['totp.error.codes'] = [...scope.errors];
  attributes['totp.outcome'] = scope.errors[0] ?? (scope.outcomes.length > 0 ? scope.outcomes.join(',') : 'ok');
  return attributes;
}

class OtelRequestSpan implements RequestSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly #context: Context;

  constructor(
    readonly span: Span,
    private readonly tracer: Tracer,
    private readonly storeAttributes: Attributes,
  ) {
    ({ traceId: this.traceId, spanId: this.spanId } = span.spanContext());
    this.#context = trace.setSpan(ROOT_CONTEXT, span);
  }

  storeCall(op: string): ((error?: unknown) => void) | null {
    if (!this.span.isRecording()) return null;
    const kind = this.storeAttributes[ATTR_DB_SYSTEM_NAME] ? SpanKind.CLIENT : SpanKind.INTERNAL;
    const child = this.tracer.startSpan(op, { kind, attributes: { ...this.storeAttributes, [ATTR_DB_OPERATION_NAME]: op } }, this.#context);
    return (error?: unknown) => {
      if (error !== undefined) {
        child.setAttribute(ATTR_ERROR_TYPE, errorType(error));
        child.setStatus({ code: SpanStatusCode.ERROR });
      }
      child.end();
    };
  }

  end(status: number, scope: SpanSummary): void {
    if (this.span.isRecording()) {
      const name = spanName(scope.fields);
      if (name) this.span.updateName(name);
      this.span.setAttributes(endAttributes(status, scope));
      // a server span fails when the server did (5xx or a store outage), not when the caller erred
      const failure = status >= 500 ? String(status) : scope.errors.find((e) => SERVICE_ERRORS.has(e));
      if (failure) {
        this.span.setAttribute(ATTR_ERROR_TYPE, failure);
        this.span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    this.span.end();
  }
}

/** The start attributes of a request's span, all from the connection and the request line. */
function requestAttributes(req: IncomingMessage, method: string): Attributes {
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_HTTP_ROUTE]: '/graphql',
    [ATTR_URL_PATH]: '/graphql',
    [ATTR_URL_SCHEME]: 'http',
    [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
  };
  if (req.socket.localPort !== undefined) attributes[ATTR_SERVER_PORT] = req.socket.localPort;
  if (req.socket.remoteAddress !== undefined) attributes[ATTR_NETWORK_PEER_ADDRESS] = req.socket.remoteAddress;
  return attributes;
}

/** The gist of a diagnostic: the SDK hands over errors as JSON with their stack. */
function gist(message: string): string {
  try {
    const err = JSON.parse(message) as { message?: unknown; code?: unknown };
    if (typeof err.message === 'string') return typeof err.code === 'string' ? `${err.message} (${err.code})` : err.message;
  } catch {
    /* plain text */
  }
  return message.split('\n')[0]!;
}

/**
 * OpenTelemetry's own complaints (an export that failed, spans dropped) as warn lines, at most one
 * every 10 s, outside any request's scope: the batch timer may have started inside one, and the
 * export is not that request's.
 */
function diagnostics(logger: Logger): void {
  let last = -Infinity;
  const warn: DiagLogFunction = (message) => {
    if (performance.now() - last < 10_000) return;
    last = performance.now();
    requestScope.exit(() => logger.warn({ component: 'tracing' }, `tracing: ${gist(message).slice(0, 300)}`));
  };
  const ignore: DiagLogFunction = () => {};
  diag.setLogger({ error: warn, warn, info: ignore, debug: ignore, verbose: ignore }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

async function exporter(settings: TracingSettings): Promise<SpanExporter> {
  // each reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION and the certificates itself
  if (settings.protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
}

export async function createTracing(settings: TracingSettings, deps: { readonly logger: Logger; readonly storeKind: string }): Promise<Tracing> {
  diagnostics(deps.logger);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over the default name
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'totp-service' }))
    .merge(detectResources({ detectors: [envDetector] }));
  // the sampler (OTEL_TRACES_SAMPLER), the limits and the batching (OTEL_BSP_*) come from the environment
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(await exporter(settings))] });
  const tracer = provider.getTracer('totp-service');
  const propagator = new W3CTraceContextPropagator();
  const storeAttributes: Attributes = { 'totp.store.kind': deps.storeKind };
  if (REDIS_KINDS.has(deps.storeKind)) storeAttributes[ATTR_DB_SYSTEM_NAME] = 'redis';
  deps.logger.info(
    { target: settings.target, protocol: settings.protocol, serviceName: resource.attributes[ATTR_SERVICE_NAME] },
    `tracing: spans go to ${settings.target} (${settings.protocol})`,
  );
  return {
    startRequest(req) {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
      const method = req.method !== undefined && METHODS.has(req.method) ? req.method : '_OTHER';
      const span = tracer.startSpan(`${method === '_OTHER' ? 'HTTP' : method} /graphql`, { kind: SpanKind.SERVER, attributes: requestAttributes(req, method) }, parent);
      return new OtelRequestSpan(span, tracer, storeAttributes);
    },
    shutdown: () => provider.shutdown(),
  };
}
