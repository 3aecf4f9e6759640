/**
 * Tracing, end to end: the built server as a process, exporting to a real OTLP/HTTP receiver on
 * loopback (test/support/otlp.ts). A verify is one server span named `verifyTotp`, a child of the
 * caller's W3C traceparent, with its outcome as an attribute and one client span per store call
 * (reserve, settle) under it; every log line of the request carries the trace id; an unsampled
 * caller's trace is logged but not exported; a failing store marks the spans as errors; SIGTERM
 * exports what is buffered; http/json works as well as the default http/protobuf. Without an
 * endpoint nothing of the OpenTelemetry SDK is loaded at all, which a module watcher (loaded into
 * the server with --import) shows, with an endpoint as its control.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp.js';
import { freePort, startRedis, type RedisProcess } from './support/redis.js';
import { APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { ENROLL, VERIFY, codeAt, wrong } from './support/totp.js';

const redisUrl = inject('redisUrl');
const WATCH = fileURLToPath(new URL('./support/module-watch.mjs', import.meta.url));

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const ERROR = 2;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A POST to /graphql with extra headers (a traceparent, a request id). */
async function post(server: ServerProcess, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}, token: string | null = APP_TOKEN) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Record<string, Record<string, unknown>>; errors?: { extensions?: { code?: string } }[] };
}

interface LogLine {
  msg: string;
  level?: number;
  component?: string;
  reqId?: string;
  trace_id?: string;
  span_id?: string;
}
const logLines = (server: ServerProcess) =>
  server.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

/** The closing line of a request (the log is asynchronous: it may still be on its way). */
async function closingLine(server: ServerProcess, reqId: string): Promise<LogLine> {
  for (let waited = 0; waited < 5000; waited += 50) {
    const line = logLines(server).find((l) => l.reqId === reqId && l.msg.startsWith('graphql request'));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no closing log line for ${reqId}`);
}

describe.skipIf(!redisUrl)('tracing to an OTLP receiver', () => {
  let redis: RedisProcess;
  let receiver: OtlpReceiver;
  let server: ServerProcess;
  const collectorKey = hex(12);
  const children = (parent: ReceivedSpan) => receiver.spans.filter((s) => s.parentSpanId === parent.spanId);

  beforeAll(async () => {
    // a Redis of its own: the last test stops it
    [redis, receiver] = await Promise.all([startRedis(), startOtlpReceiver()]);
    server = await startServer({
      env: {
        REDIS_URL: redis.url,
        TOTP_ENCRYPTION_KEYS: encryptionKey(),
        LOG_LEVEL: 'debug',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_HEADERS: `x-collector-key=${collectorKey}`,
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
    });
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
    await receiver?.close();
    await redis?.stop(true);
    redis?.cleanup();
  });

  it('makes a verify one server span named verifyTotp, a child of the caller\'s traceparent, with its store calls as children', async () => {
    const secret = (await post(server, ENROLL, { input: { userId: 'trace-alice' } })).data!.enrollTotp!.secret as string;
    const traceId = hex(16);
    const parentId = hex(8);
    const r = await post(server, VERIFY, { userId: 'trace-alice', code: codeAt(secret) }, { traceparent: `00-${traceId}-${parentId}-01`, 'x-request-id': 'trace-req-1' });
    expect(r.data!.verifyTotp!.outcome).toBe('ACCEPTED');

    const verify = await receiver.waitFor((s) => s.traceId === traceId && s.name === 'verifyTotp');
    expect(verify).toMatchObject({ parentSpanId: parentId, kind: SERVER, status: 0, scope: 'totp-service' });
    expect(verify.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/graphql',
      'url.path': '/graphql',
      'http.response.status_code': 200,
      'graphql.operation.type': 'mutation',
      'totp.graphql.fields': ['verifyTotp'],
      'totp.verify.outcomes': ['ACCEPTED'],
      'totp.outcome': 'ACCEPTED',
    });
    expect(verify.resource['service.name']).toBe('totp-service');

    // the store calls, each its own client span under the request's, in the same trace
    await receiver.waitFor((s) => s.parentSpanId === verify.spanId && s.name === 'settle');
    const calls = children(verify);
    expect(calls.map((s) => s.name)).toEqual(expect.arrayContaining(['reserve', 'settle']));
    for (const s of calls) {
      expect(s).toMatchObject({ traceId, kind: CLIENT, status: 0 });
      expect(s.attributes).toMatchObject({ 'db.system.name': 'redis', 'db.operation.name': s.name, 'totp.store.kind': 'redis' });
    }
    // the enrollment was a trace of its own, named after its root field, with its store call
    const enroll = receiver.spans.find((s) => s.name === 'enrollTotp')!;
    expect(enroll.parentSpanId).toBe('');
    expect(children(enroll).map((s) => s.name)).toContain('enroll');

    // sent as protobuf (the default), with the headers OTEL_EXPORTER_OTLP_HEADERS asked for
    expect(receiver.requests[0]!.contentType).toBe('application/x-protobuf');
    expect(receiver.requests.every((q) => q.headers['x-collector-key'] === collectorKey)).toBe(true);
  });

  it('puts the trace id and the span id on every log line of the request', async () => {
    const verify = receiver.spans.find((s) => s.name === 'verifyTotp' && s.attributes['totp.outcome'] === 'ACCEPTED')!;
    await closingLine(server, 'trace-req-1');
    const lines = logLines(server).filter((l) => l.reqId === 'trace-req-1');
    for (const l of lines) expect(l).toMatchObject({ trace_id: verify.traceId, span_id: verify.spanId });
    // lines outside a request carry none
    expect(logLines(server).find((l) => l.msg === 'listening')?.trace_id).toBeUndefined();
  });

  it('starts a trace of its own without traceparent, and records refusals and errors by their codes', async () => {
    const bad = await post(server, VERIFY, { userId: 'trace-alice', code: wrong('123456') }, { 'x-request-id': 'trace-req-2' });
    expect(bad.data!.verifyTotp!.outcome).toBe('INVALID_CODE');
    const line = await closingLine(server, 'trace-req-2');
    const span = await receiver.waitFor((s) => s.traceId === line.trace_id && s.name === 'verifyTotp');
    expect(span).toMatchObject({ parentSpanId: '', spanId: line.span_id, status: 0 });
    expect(span.attributes['totp.outcome']).toBe('INVALID_CODE');

    // no token: the operation never resolves, the span keeps its HTTP name and says why
    const anonymous = await post(server, VERIFY, { userId: 'trace-alice', code: '123456' }, { 'x-request-id': 'trace-req-3' }, null);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const refused = await receiver.waitFor((s) => s.attributes['totp.outcome'] === 'UNAUTHENTICATED');
    expect(refused).toMatchObject({ name: 'POST /graphql', status: 0 });
    expect(refused.attributes['totp.error.codes']).toEqual(['UNAUTHENTICATED']);
    expect(children(refused)).toEqual([]);
  });

  it('logs but does not export the trace of a caller that did not sample it', async () => {
    const traceId = hex(16);
    await post(server, VERIFY, { userId: 'trace-alice', code: '000000' }, { traceparent: `00-${traceId}-${hex(8)}-00`, 'x-request-id': 'trace-req-4' });
    // a sampled request after it: once its span is in, the unsampled one would have been too
    const after = hex(16);
    await post(server, VERIFY, { userId: 'trace-alice', code: '000000' }, { traceparent: `00-${after}-${hex(8)}-01` });
    await receiver.waitFor((s) => s.traceId === after && s.name === 'verifyTotp');
    expect(receiver.spans.filter((s) => s.traceId === traceId)).toEqual([]);
    expect((await closingLine(server, 'trace-req-4')).trace_id).toBe(traceId);
  });

  it('marks the request and the store call as failed when the store is down, by error class only', async () => {
    await redis.stop(true);
    const r = await post(server, VERIFY, { userId: 'trace-alice', code: '123456' });
    expect(r.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    const failed = await receiver.waitFor((s) => s.name === 'verifyTotp' && s.attributes['totp.outcome'] === 'SERVICE_UNAVAILABLE');
    expect(failed.status).toBe(ERROR);
    expect(failed.attributes['error.type']).toBe('SERVICE_UNAVAILABLE');
    const call = await receiver.waitFor((s) => s.parentSpanId === failed.spanId);
    // trace-alice was verified before on this server: her secret is held open, so one round trip
    expect(call).toMatchObject({ name: 'attempt', status: ERROR });
    expect(call.attributes['error.type']).toBe('StoreUnavailableError');
  });
});

describe('tracing over http/json, flushed at SIGTERM, and a collector that is down', () => {
  it('exports to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT in JSON under OTEL_SERVICE_NAME, and sends what is buffered on SIGTERM', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const server = await startServer({
        env: {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces`,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_SERVICE_NAME: 'totp-eu',
          // nothing is sent on a timer: only the flush at shutdown can deliver
          OTEL_BSP_SCHEDULE_DELAY: '600000',
        },
      });
      const e = await post(server, ENROLL, { input: { userId: 'json-bob' } });
      await post(server, VERIFY, { userId: 'json-bob', code: codeAt(e.data!.enrollTotp!.secret as string) });
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.spans).toEqual([]);
      expect(await server.stop()).toBe(0);

      const verify = receiver.spans.find((s) => s.name === 'verifyTotp')!;
      expect(verify.resource['service.name']).toBe('totp-eu');
      expect(verify.attributes['totp.outcome']).toBe('ACCEPTED');
      // the embedded store: in-process calls, so internal spans with no database system
      const calls = receiver.spans.filter((s) => s.parentSpanId === verify.spanId);
      expect(calls.map((s) => s.name)).toEqual(expect.arrayContaining(['reserve', 'settle']));
      for (const s of calls) expect(s).toMatchObject({ kind: INTERNAL, attributes: { 'totp.store.kind': 'embedded' } });
      expect(calls[0]!.attributes['db.system.name']).toBeUndefined();
      expect(receiver.requests.map((q) => q.contentType)).toEqual(receiver.requests.map(() => 'application/json'));
    } finally {
      await receiver.close();
    }
  });

  it('answers every request while the collector is unreachable, with a warn line outside any request', async () => {
    const server = await startServer({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, OTEL_BSP_SCHEDULE_DELAY: '100' } });
    for (let i = 0; i < 3; i++) expect((await post(server, '{ __typename }', {})).data).toEqual({ __typename: 'Query' });
    let warning: LogLine | undefined;
    for (let waited = 0; !warning && waited < 15_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      warning = logLines(server).find((l) => l.msg.startsWith('tracing: connect ECONNREFUSED'));
    }
    expect(warning).toMatchObject({ level: 40, component: 'tracing' });
    expect(warning!.reqId).toBeUndefined();
    expect(warning!.trace_id).toBeUndefined();
    expect(await server.stop()).toBe(0);
  });

  it('refuses to start half-configured, naming the variable', async () => {
    for (const [env, line] of [
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported/],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:\/\/ or https:\/\/ URL/],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_SAMPLER: 'sometimes' }, /OTEL_TRACES_SAMPLER: must be one of/],
    ] as const) {
      const err = await startServer({ env }).then(
        (s) => s.stop().then(() => new Error('started')),
        (e: Error) => e,
      );
      expect(err.message).toMatch(/exited with 2/);
      expect(err.message).toMatch(line);
    }
  });
});

describe('no endpoint, no tracing', () => {
  /** The @opentelemetry packages a server loaded, from its start to its exit, with a verify between. */
  async function packagesLoaded(env: Record<string, string>): Promise<string[]> {
    const file = join(mkdtempSync(join(tmpdir(), 'modules-')), 'loaded.txt');
    const server = await startServer({ env: { ...env, MODULE_WATCH_FILE: file, NODE_OPTIONS: `--import=${WATCH}` }, timeoutMs: 30_000 });
    const e = await post(server, ENROLL, { input: { userId: 'quiet-carol' } });
    expect((await post(server, VERIFY, { userId: 'quiet-carol', code: codeAt(e.data!.enrollTotp!.secret as string) })).data!.verifyTotp!.outcome).toBe('ACCEPTED');
    expect(await server.stop()).toBe(0);
    const loaded = readFileSync(file, 'utf8');
    // the watcher saw the server's own modules, whichever way they were loaded
    expect(loaded).toMatch(/^load file:.*\/packages\/server\/dist\/main\.js$/m);
    expect(loaded).toMatch(/^cjs .*\/node_modules\/ioredis\//m);
    return [...new Set([...loaded.matchAll(/node_modules\/(@opentelemetry\/[\w.-]+)\//g)].map((m) => m[1]!))].sort();
  }

  it('loads none of the OpenTelemetry SDK without an endpoint, and the SDK and one exporter with one', async () => {
    const off = await packagesLoaded({});
    // the API alone, and not for tracing: prom-client requires it (for exemplars), traced or not
    expect(off).toEqual(['@opentelemetry/api']);
    const receiver = await startOtlpReceiver();
    try {
      const on = await packagesLoaded({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
      expect(on).toEqual(expect.arrayContaining(['@opentelemetry/api', '@opentelemetry/sdk-trace-node', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/core']));
      expect(on).not.toContain('@opentelemetry/exporter-trace-otlp-http');
      expect(receiver.spans.map((s) => s.name)).toContain('verifyTotp');
    } finally {
      await receiver.close();
    }
  });
});
