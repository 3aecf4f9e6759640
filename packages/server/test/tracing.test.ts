/**
 * Tracing without OpenTelemetry: which variables turn it on (tracingSettings), and how the server
 * uses a Tracing (one request span per GraphQL request and none for the probes, one store call per
 * store operation under it, the ids on the request's log lines), shown with a recording fake. The
 * OpenTelemetry side, with a real OTLP receiver, is test/tracing.e2e.test.ts.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { tracingSettings, type RequestSpan, type SpanSummary, type Tracing } from '../src/tracing.js';
import { ADMIN_TOKEN, startInProcess, type InProcessServer } from './support/in-process.js';

describe('tracingSettings', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

  it('is off (null) unless an OTLP endpoint is set, or when the SDK or the exporter is turned off', () => {
    expect(tracingSettings({})).toBeNull();
    expect(tracingSettings({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeNull();
    expect(tracingSettings({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' })).toBeNull();
    expect(tracingSettings({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
  });

  it('sends to the general endpoint plus v1/traces, or to the traces endpoint as given, never showing credentials', () => {
    expect(tracingSettings(endpoint)).toEqual({ target: 'http://collector:4318/v1/traces', protocol: 'http/protobuf' });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://u:pw@otel.example/base/?k=1' })!.target).toBe('https://otel.example/base/v1/traces');
    expect(tracingSettings({ ...endpoint, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:9999/custom' })!.target).toBe('http://other:9999/custom');
    expect(tracingSettings({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })!.protocol).toBe('http/json');
    expect(tracingSettings({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })!.protocol).toBe('http/protobuf');
    expect(tracingSettings({ ...endpoint, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })).not.toBeNull();
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /^OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported/],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'thrift' }, /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: must be http\/protobuf or http\/json/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http/],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, /^OTEL_TRACES_SAMPLER: must be one of always_on/],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, /^OTEL_TRACES_SAMPLER_ARG: must be a ratio/],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /^OTEL_TRACES_EXPORTER: must be otlp or none/],
  ])('refuses %o with one line naming the variable', (env, message) => {
    const read = () => tracingSettings({ ...endpoint, ...env });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(message);
  });
});

interface Recorded {
  readonly calls: string[];
  readonly failed: string[];
  ended?: { status: number; fields?: string[]; outcomes: string[]; errors: string[]; operationType?: string };
}

/** A Tracing that records what the server asks of it. */
function recordingTracing() {
  const requests: Recorded[] = [];
  let n = 0;
  const tracing: Tracing = {
    startRequest(): RequestSpan {
      const rec: Recorded = { calls: [], failed: [] };
      requests.push(rec);
      n += 1;
      return {
        traceId: n.toString(16).padStart(32, '0'),
        spanId: n.toString(16).padStart(16, '0'),
        storeCall(op) {
          rec.calls.push(op);
          return (error) => {
            if (error !== undefined) rec.failed.push(op);
          };
        },
        end(status: number, scope: SpanSummary) {
          rec.ended = { status, outcomes: [...scope.outcomes], errors: [...scope.errors], ...(scope.fields ? { fields: [...scope.fields] } : {}), ...(scope.operationType ? { operationType: scope.operationType } : {}) };
        },
      };
    },
    shutdown: async () => {},
  };
  return { tracing, requests };
}

describe('a server with a Tracing', () => {
  let s: InProcessServer;
  const rec = recordingTracing();
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    s = await startInProcess({ tracing: rec.tracing, logger: createLogger('info', sink) });
  });
  afterAll(() => s.close());

  it('starts one span per GraphQL request, with its store calls under it, and none for the probes', async () => {
    const e = await s.gql('mutation { enrollTotp(input: {userId: "t1"}) { secret } }');
    expect(e.status).toBe(200);
    const v = await s.gql('mutation { verifyTotp(userId: "t1", code: "000000") { outcome } }');
    expect((v.json!.data!.verifyTotp as { outcome: string }).outcome).toBe('INVALID_CODE');
    await fetch(`${s.base}/healthz`);
    await fetch(`${s.base}/metrics`);
    const q = await s.gql('{ a: totpStatus(userId: "t1") { status } b: totpStatus(userId: "t2") { status } }', {}, ADMIN_TOKEN);
    expect(q.status).toBe(200);

    expect(rec.requests).toHaveLength(3);
    const [enroll, verify, status] = rec.requests;
    expect(enroll!.calls).toContain('enroll');
    expect(enroll!.ended).toMatchObject({ status: 200, fields: ['enrollTotp'], operationType: 'mutation', errors: [] });
    expect(verify!.calls).toEqual(expect.arrayContaining(['reserve', 'settle']));
    expect(verify!.ended).toMatchObject({ status: 200, fields: ['verifyTotp'], outcomes: ['INVALID_CODE'] });
    expect(status!.ended).toMatchObject({ fields: ['totpStatus', 'totpStatus'], operationType: 'query' });
    expect(rec.requests.flatMap((r) => r.failed)).toEqual([]);
  });

  it('puts the span\'s ids on the request\'s log lines', async () => {
    for (let waited = 0; lines.filter((l) => l.msg === 'graphql request').length < 3 && waited < 2000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    const closing = lines.filter((l) => l.msg === 'graphql request');
    expect(closing.map((l) => l.trace_id)).toEqual([1, 2, 3].map((n) => n.toString(16).padStart(32, '0')));
    expect(closing.map((l) => l.span_id)).toEqual([1, 2, 3].map((n) => n.toString(16).padStart(16, '0')));
  });
});
