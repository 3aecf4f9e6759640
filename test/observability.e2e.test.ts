/**
 * What operators see: /metrics after a session (every outcome counted, no user id or other
 * caller-chosen string as a label value), and the JSON logs of a full session at LOG_LEVEL=trace
 * (a request id on every line of a request, one closing line per GraphQL request, and no secret,
 * code or token anywhere, in any encoding).
 */
import { randomBytes } from 'node:crypto';
import { parseBase32Secret } from '@totp-service/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.js';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { ENROLL, REVOKE, STATUS, UNLOCK, VERIFY, codeAt, stepOf, wrong } from './support/totp.js';

const redisUrl = inject('redisUrl');

/** Strings a caller chose: none may become a label value. */
const USER = 'metrics-user-7f3a@example.com';
const BRACES = '{tag}:x';
const CLIENT_IP = '203.0.113.99';
const OPERATION = 'MyVeryOwnOperationName';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  route?: string;
  status?: number;
  operation?: string | null;
  fields?: string[];
  outcome?: string;
  ms?: number;
}

describe.skipIf(!redisUrl)('metrics and logs of a session', () => {
  let redis: RedisProcess;
  let server: ServerProcess;
  let other: ServerProcess;
  const sent: string[] = []; // every code sent
  const secrets: string[] = [];
  const keyA = encryptionKey('ka');
  const keyB = encryptionKey('kb');
  const requestIds: string[] = [];
  let requests = 0; // GraphQL requests sent to `server`

  const gql = async (query: string, variables: Record<string, unknown>, token: string | null = APP_TOKEN, target = () => server) => {
    if (typeof variables.code === 'string') sent.push(variables.code);
    if (target() === server) requests += 1;
    return target().gql<Record<string, Record<string, unknown>>>(query, variables, token);
  };

  beforeAll(async () => {
    redis = await startRedis({ aof: true });
    const env = { REDIS_URL: redis.url, LOG_LEVEL: 'trace', TOTP_CLIENT_LIMIT: '12', TOTP_KEY_PREFIX: `o${randomBytes(3).toString('hex')}:` };
    server = await startServer({ env: { ...env, TOTP_ENCRYPTION_KEYS: keyA } });
    // a second server that lacks the first one's key: its verifies fail inside, and log an error
    other = await startServer({ env: { ...env, TOTP_ENCRYPTION_KEYS: keyB } });

    for (const userId of [USER, BRACES]) {
      const e = await gql(ENROLL, { input: { userId } });
      const secret = e.data!.enrollTotp!.secret as string;
      secrets.push(secret);
      expect((await gql(VERIFY, { userId, code: codeAt(secret), clientIp: CLIENT_IP })).data!.verifyTotp!.outcome).toBe('ACCEPTED');
      expect((await gql(VERIFY, { userId, code: codeAt(secret), clientIp: CLIENT_IP })).data!.verifyTotp!.outcome).toBe('REPLAYED');
    }
    for (let i = 0; i < 4; i++) await gql(VERIFY, { userId: USER, code: wrong(codeAt(secrets[0]!, stepOf() + (i % 2))) });
    expect((await gql(VERIFY, { userId: USER, code: codeAt(secrets[0]!, stepOf() + 1) })).data!.verifyTotp!.outcome).toBe('LOCKED');
    expect((await gql(VERIFY, { userId: USER, code: '12a456' })).data!.verifyTotp!.outcome).toBe('MALFORMED');
    expect((await gql(VERIFY, { userId: 'nobody-here', code: '123456' })).data!.verifyTotp!.outcome).toBe('NOT_ENROLLED');
    // the client address spent 4 of its 12 attempts above
    for (let i = 0; i < 8; i++) await gql(VERIFY, { userId: 'nobody-here', code: '000000', clientIp: CLIENT_IP });
    expect((await gql(VERIFY, { userId: 'nobody-here', code: '000000', clientIp: CLIENT_IP })).data!.verifyTotp!.outcome).toBe('RATE_LIMITED');
    await gql(UNLOCK, { userId: USER }, ADMIN_TOKEN);
    expect((await gql(UNLOCK, { userId: USER }, APP_TOKEN)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gql(STATUS, { userId: USER }, null)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gql(STATUS, { userId: USER }, 'not-a-token-at-all-xx')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // a named operation, and a request id chosen by the caller
    const named = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}`, 'x-request-id': 'trace-abc-123' },
      body: JSON.stringify({ query: `query ${OPERATION}($u: ID!) { totpStatus(userId: $u) { status } }`, operationName: OPERATION, variables: { u: USER } }),
    });
    expect(named.headers.get('x-request-id')).toBe('trace-abc-123');
    const insane = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}`, 'x-request-id': 'no spaces {allowed} here' },
      body: JSON.stringify({ query: `{ totpStatus(userId: "x") { status } }` }),
    });
    requestIds.push(insane.headers.get('x-request-id')!);
    requests += 2;
    // a secret that cannot be opened: INTERNAL_SERVER_ERROR, and an error in the second server's log
    const fault = await gql(VERIFY, { userId: USER, code: codeAt(secrets[0]!, stepOf() + 1) }, APP_TOKEN, () => other);
    expect(fault.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect((await gql(REVOKE, { userId: BRACES })).data!.revokeTotp!.revoked).toBe(true);
    // a store error: Redis goes away for one request
    await redis.stop(true);
    expect((await gql(VERIFY, { userId: USER, code: '123456' })).errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
  });

  afterAll(async () => {
    try {
      expect(await Promise.all([server.stop(), other.stop()])).toEqual([0, 0]);
    } finally {
      await redis.stop(true); // already stopped by the session, unless it failed before that
      redis.cleanup();
    }
  });

  it('counts every outcome, enrollments, revocations, lockouts, latencies and store errors', async () => {
    const text = await (await fetch(`${server.base}/metrics`)).text();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('totp_verify_total{outcome="ACCEPTED",kind="totp"}')).toBe(2);
    expect(value('totp_verify_total{outcome="REPLAYED",kind="totp"}')).toBe(2);
    expect(value('totp_verify_total{outcome="INVALID_CODE",kind="totp"}')).toBe(4);
    expect(value('totp_verify_total{outcome="LOCKED",kind="totp"}')).toBe(1);
    expect(value('totp_verify_total{outcome="MALFORMED",kind="totp"}')).toBe(1);
    expect(value('totp_verify_total{outcome="NOT_ENROLLED",kind="totp"}')).toBe(9);
    expect(value('totp_verify_total{outcome="RATE_LIMITED",kind="totp"}')).toBe(1);
    expect(value('totp_enroll_total')).toBe(2);
    expect(value('totp_revoke_total{revoked="true"}')).toBe(1);
    expect(value('totp_lockouts_total')).toBe(1);
    // the verify that met the stopped Redis was of a user this server had verified: one round trip
    expect(value('totp_store_errors_total{op="attempt"}')).toBe(1);
    expect(value('totp_secret_cache_total{result="hit"}')).toBeGreaterThan(0);
    expect(value('totp_store_duration_seconds_count{op="reserve"}') + value('totp_store_duration_seconds_count{op="attempt"}')).toBeGreaterThan(15);
    expect(value('totp_http_request_duration_seconds_count{route="graphql",status="200"}')).toBeGreaterThan(20);
    expect(text).toMatch(/^process_cpu_seconds_total \S+$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \S+$/m);

    // no caller-chosen string anywhere, and every label value from a small fixed set
    for (const s of [USER, BRACES, CLIENT_IP, OPERATION, 'nobody-here', 'metrics-user', '203.0.113']) expect(text).not.toContain(s);
    const labelValues = new Set([...text.matchAll(/(\w+)="([^"]*)"/g)].map((m) => `${m[1]}=${m[2]}`));
    const allowed = /^(outcome=[A-Z_]+|kind=(totp|recovery|[a-z]+)|route=(graphql|healthz|readyz|metrics|other)|status=\d{3}|op=[a-zA-Z]+|revoked=(true|false)|result=(hit|miss|stale)|le=[\d.e+-]+|\+Inf|le=\+Inf|quantile=[\d.]+|type=\w+|space=\w+|version=v[\d.]+|major=\d+|minor=\d+|patch=\d+)$/;
    expect([...labelValues].filter((l) => !allowed.test(l))).toEqual([]);
  });

  it('logs JSON lines with a request id on every line of a request and one closing line per request', async () => {
    const read = () => server.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
    const isClosing = (l: LogLine) => l.msg === 'graphql request' || l.msg === 'graphql request failed';
    // the closing line is written after the answer, and the log is asynchronous: on a busy
    // machine the last one can still be on its way
    for (let waited = 0; read().filter(isClosing).length < requests && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    const lines = read();
    const closing = lines.filter(isClosing);
    expect(closing.length).toBe(requests);
    for (const l of closing) {
      expect(l.reqId).toMatch(/^[\w.:-]{1,64}$/);
      expect(typeof l.ms).toBe('number');
      expect(typeof l.outcome).toBe('string');
    }
    expect(new Set(closing.map((l) => l.reqId)).size).toBe(closing.length);
    const outcomes = closing.map((l) => l.outcome);
    for (const o of ['ACCEPTED', 'REPLAYED', 'INVALID_CODE', 'LOCKED', 'MALFORMED', 'NOT_ENROLLED', 'RATE_LIMITED', 'FORBIDDEN', 'UNAUTHENTICATED', 'SERVICE_UNAVAILABLE', 'ok']) {
      expect(outcomes).toContain(o);
    }
    const named = closing.find((l) => l.reqId === 'trace-abc-123')!;
    expect(named).toMatchObject({ operation: OPERATION, fields: ['totpStatus'], outcome: 'ok', status: 200, level: 30 });
    expect(closing.find((l) => l.fields?.[0] === 'verifyTotp' && l.outcome === 'ACCEPTED')).toMatchObject({ operation: 'Verify' });
    // an unusable x-request-id is replaced by a fresh one
    expect(requestIds[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(closing.find((l) => l.outcome === 'SERVICE_UNAVAILABLE')!.level).toBe(40);
    // the other server's error line belongs to its request
    const others = other.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
    const error = others.find((l) => l.level === 50)!;
    expect(error.reqId).toBeDefined();
    expect(others.find((l) => l.msg.startsWith('graphql request') && l.reqId === error.reqId)?.outcome).toBe('INTERNAL_SERVER_ERROR');
  });

  it('never logs a secret, a code or a token, in any encoding, even at trace level', () => {
    const logs = [server.stdout(), server.stderr(), other.stdout(), other.stderr()].join('\n');
    const forbidden = [ADMIN_TOKEN, APP_TOKEN, keyA.split(':')[1]!, keyB.split(':')[1]!];
    for (const b32 of secrets) {
      const bytes = Buffer.from(parseBase32Secret(b32));
      forbidden.push(b32, b32.toLowerCase(), bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url'));
    }
    for (const code of new Set(sent)) forbidden.push(`"${code}"`, `:${code}`, ` ${code}`);
    expect(sent.length).toBeGreaterThan(15);
    expect(forbidden.filter((s) => logs.includes(s))).toEqual([]);
    expect(logs).not.toMatch(/authorization/i);
    expect(logs).not.toMatch(/bearer/i);
  });
});
