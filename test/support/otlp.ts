/**
 * An OTLP/HTTP trace receiver on loopback, as a collector would be: it accepts POST /v1/traces in
 * either encoding an exporter may use (http/protobuf, decoded with protobufjs over the OTLP trace
 * messages; http/json, OTLP's JSON mapping with hex ids) and keeps every span it got, flattened,
 * with the raw bodies and headers of the requests (for the leak test to search).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

/**
 * The messages of opentelemetry/proto/{common,resource,trace}/v1 and the collector's
 * ExportTraceServiceRequest that a trace export uses, with the field numbers of the OTLP wire
 * format (https://github.com/open-telemetry/opentelemetry-proto).
 */
const OTLP_TRACE_MESSAGES = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
                ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  repeated Event events = 11; uint32 dropped_events_count = 12; repeated Link links = 13; uint32 dropped_links_count = 14;
  Status status = 15;
  message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
  message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
}
message Status { string message = 2; int32 code = 3; }
`;

const ExportRequest = protobuf.parse(OTLP_TRACE_MESSAGES, { keepCase: false }).root.lookupType('otlp.ExportTraceServiceRequest');

/** OTLP's JSON mapping of a request (what both decoders produce): ids in hex, enums as numbers. */
interface OtlpJson {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: OtlpSpan[] }[];
  }[];
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: KeyValue[];
  events?: { name: string; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
}

export interface ReceivedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  /** 1 internal, 2 server, 3 client. */
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  /** 0 unset, 1 ok, 2 error. */
  readonly status: number;
  readonly resource: Record<string, unknown>;
  readonly scope: string;
}

export interface ExportRequestSeen {
  readonly path: string;
  readonly contentType: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as sent (protobuf bytes or JSON text). */
  readonly body: Buffer;
  /** The body decoded, as OTLP JSON text. */
  readonly decoded: string;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:<port> (OTEL_EXPORTER_OTLP_ENDPOINT: the exporter adds /v1/traces). */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly requests: ExportRequestSeen[];
  /** Resolves once a span matching `test` has arrived (rejects after `timeoutMs`). */
  waitFor(test: (s: ReceivedSpan) => boolean, timeoutMs?: number): Promise<ReceivedSpan>;
  close(): Promise<void>;
}

function value(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.boolValue ?? v.doubleValue;
}

function attributes(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

function decode(contentType: string, body: Buffer): OtlpJson {
  if (contentType.startsWith('application/json')) return JSON.parse(body.toString('utf8')) as OtlpJson;
  if (!contentType.startsWith('application/x-protobuf')) throw new Error(`unexpected content-type ${contentType}`);
  const message = ExportRequest.decode(body);
  const json = ExportRequest.toObject(message, { bytes: String, longs: String, defaults: false }) as OtlpJson;
  // protobufjs gives bytes in base64; OTLP/JSON writes trace and span ids in hex
  const hex = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('hex');
  for (const rs of json.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) Object.assign(s, { traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId) });
    }
  }
  return json;
}

function flatten(json: OtlpJson): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of json.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          name: s.name,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          kind: s.kind ?? 0,
          attributes: attributes(s.attributes),
          status: s.status?.code ?? 0,
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: ExportRequestSeen[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? '';
      try {
        if (req.method !== 'POST' || req.url !== '/v1/traces') throw new Error(`unexpected ${req.method} ${req.url}`);
        const json = decode(contentType, body);
        requests.push({ path: req.url, contentType, headers: req.headers, body, decoded: JSON.stringify(json) });
        spans.push(...flatten(json));
        for (const wake of waiters) wake();
        // an empty ExportTraceServiceResponse: full success, in the encoding asked
        if (contentType.startsWith('application/json')) {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } else {
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        }
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end((err as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    requests,
    waitFor(test, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          let found: ReceivedSpan | undefined;
          try {
            found = spans.find(test);
          } catch (err) {
            found = undefined;
            waiters.delete(check);
            clearTimeout(timer);
            reject(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such span within ${timeoutMs} ms; got ${spans.map((s) => s.name).join(', ') || 'none'}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
