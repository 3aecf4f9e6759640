import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { ConfigError } from './config-error.js';

/**
 * Tracing, by OpenTelemetry's own environment variables. With no OTLP endpoint set, this module is
 * all there is: nothing of the OpenTelemetry SDK is imported or run, and the server holds no
 * Tracing at all (each use is one `undefined` check). With an endpoint, startTracing() imports the
 * SDK (tracing-otel.ts) at start-up and the server makes one span per GraphQL request, with one
 * child span per store operation.
 *
 * The OTEL_* variables belong to OpenTelemetry's specification, not to this service: they are read
 * here (what decides whether tracing is on, and what would start it half-configured) and by the
 * SDK's exporter (headers, timeout, compression, certificates, batching), not by config.ts.
 * https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
 */

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingSettings {
  /** Where spans are sent, for the start-up line: scheme, host and path (never credentials or a query). */
  readonly target: string;
  readonly protocol: OtlpProtocol;
}

/** What a request did, as its span records it (the request scope of logger.ts is one). */
export interface SpanSummary {
  /** The operation's root fields: names from the schema, recorded once validation passed. */
  readonly fields?: readonly string[] | undefined;
  readonly operationType?: string | undefined;
  /** Verify outcomes, and the error codes answered. */
  readonly outcomes: readonly string[];
  readonly errors: readonly string[];
}

/** What the server does with one GraphQL request's span. */
export interface RequestSpan {
  /** The W3C trace id (32 hex digits) and span id (16) of the request's span: its log lines carry them. */
  readonly traceId: string;
  readonly spanId: string;
  /**
   * Starts the child span of one store operation (`op`: a name from the Store port). Returns what
   * ends it (given the error when the operation failed), or null when the request is not sampled.
   */
  storeCall(op: string): ((error?: unknown) => void) | null;
  /** Names the span after the operation's root fields, records the outcome, and ends it. */
  end(status: number, summary: SpanSummary): void;
}

export interface Tracing {
  /** The span of one GraphQL request: a child of the caller's W3C `traceparent` when it sent one. */
  startRequest(req: IncomingMessage): RequestSpan;
  /** Export the spans still buffered, then stop (SIGTERM). */
  shutdown(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/** The first of `names` that is set (and not blank), with its name. */
function first(env: Env, ...names: string[]): [string, string] | null {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return [name, value];
  }
  return null;
}

function endpointUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be an http:// or https:// URL (e.g. http://127.0.0.1:4318)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(name, 'must be an http:// or https:// URL (e.g. http://127.0.0.1:4318)');
  return url;
}

function protocol(env: Env): OtlpProtocol {
  const [name, value] = first(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL') ?? ['', 'http/protobuf'];
  if (value === 'http/protobuf' || value === 'http/json') return value;
  if (value === 'grpc') throw new ConfigError(name, 'grpc is not supported: use http/protobuf (the default) or http/json, on the collector\'s OTLP/HTTP port (4318)');
  throw new ConfigError(name, 'must be http/protobuf or http/json');
}

/** OTEL_TRACES_SAMPLER(_ARG): the SDK would fall back to its default silently; a typo stops start-up instead. */
function checkSampler(env: Env): void {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim();
  if (sampler && !SAMPLERS.includes(sampler)) throw new ConfigError('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')}`);
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (arg && sampler?.endsWith('traceidratio') && !(/^(0(\.\d+)?|1(\.0+)?)$/.test(arg))) {
    throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', 'must be a ratio from 0 to 1 (e.g. 0.1)');
  }
}

/**
 * Whether to trace, from the environment: null (no tracing, nothing loaded) unless
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set, or when
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Throws ConfigError naming the variable
 * that would start tracing half-configured (a malformed URL, grpc, an unknown sampler).
 */
export function tracingSettings(env: Env): TracingSettings | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter === 'none') return null;
  const endpoint = first(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (!endpoint) return null;
  if (exporter && exporter !== 'otlp') throw new ConfigError('OTEL_TRACES_EXPORTER', 'must be otlp or none (spans go to an OTLP/HTTP endpoint)');
  const [name, raw] = endpoint;
  const url = endpointUrl(name, raw);
  // the SDK sends to a signal-specific endpoint as given, and to the general one plus v1/traces
  const path = name === 'OTEL_EXPORTER_OTLP_ENDPOINT' ? `${url.pathname.replace(/\/?$/, '/')}v1/traces` : url.pathname;
  checkSampler(env);
  return Object.freeze({ target: `${url.protocol}//${url.host}${path}`, protocol: protocol(env) });
}

/**
 * Start tracing: import the OpenTelemetry SDK (only now), make the exporter and the tracer.
 * `storeKind` is the store's kind ('redis', 'embedded', …), an attribute of the store spans.
 */
export async function startTracing(settings: TracingSettings, deps: { readonly logger: Logger; readonly storeKind: string }): Promise<Tracing> {
  const { createTracing } = await import('./tracing-otel.js');
  return createTracing(settings, deps);
}
