import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { REDACT_PATHS, accessLogger, createLogger, requestIdFrom, requestScope } from '../src/logger.js';
import { logGraphQL } from '../src/observe.js';
import { assessSafety, type NodeSettings } from '../src/store/guards.js';

const KEY = `k1:${Buffer.alloc(32, 3).toString('base64')}`;

function capture(level = 'trace') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

describe('eviction and persistence judgement', () => {
  const node = (over: Partial<NodeSettings>): NodeSettings => ({ node: 'r:6379', maxmemoryPolicy: 'noeviction', appendonly: 'yes', save: '', ...over });

  it('accepts noeviction with an AOF or save points, silently', () => {
    expect(assessSafety([node({}), node({ appendonly: 'no', save: '3600 1' })], { allowEviction: false })).toEqual({ fatal: [], warnings: [] });
  });

  it.each(['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'])('stops on %s unless allowed', (policy) => {
    const stop = assessSafety([node({ maxmemoryPolicy: policy })], { allowEviction: false });
    expect(stop.fatal).toEqual([expect.stringContaining(`maxmemory-policy ${policy}`)]);
    expect(stop.fatal[0]).toContain('TOTP_ALLOW_EVICTION=true');
    const allowed = assessSafety([node({ maxmemoryPolicy: policy })], { allowEviction: true });
    expect(allowed.fatal).toEqual([]);
    expect(allowed.warnings).toEqual([expect.stringContaining('accepted by TOTP_ALLOW_EVICTION=true')]);
  });

  it('warns on no persistence and on a CONFIG it may not read, per node', () => {
    const r = assessSafety(
      [node({ node: 'a:1', appendonly: 'no', save: '' }), node({ node: 'b:2', maxmemoryPolicy: null, appendonly: null, save: null, configError: "ERR unknown command 'CONFIG'" })],
      { allowEviction: false },
    );
    expect(r.fatal).toEqual([]);
    expect(r.warnings).toEqual([expect.stringMatching(/^Redis a:1 persists nothing/), expect.stringMatching(/^Redis b:2 does not allow CONFIG GET/)]);
  });
});

describe('operations settings', () => {
  const base = { REDIS_URL: 'redis://r:6379', TOTP_ENCRYPTION_KEYS: KEY };

  it('reads TOTP_ALLOW_EVICTION and SHUTDOWN_GRACE_MS, with defaults', () => {
    expect(loadConfig(base)).toMatchObject({ store: { options: { allowEviction: false } }, shutdownGraceMs: 10_000 });
    expect(loadConfig({ ...base, TOTP_ALLOW_EVICTION: 'true', SHUTDOWN_GRACE_MS: '2500' })).toMatchObject({
      store: { options: { allowEviction: true } },
      shutdownGraceMs: 2500,
    });
    expect(() => loadConfig({ ...base, TOTP_ALLOW_EVICTION: 'sure' })).toThrow(/^TOTP_ALLOW_EVICTION: must be true or false/);
    expect(() => loadConfig({ ...base, SHUTDOWN_GRACE_MS: '-1' })).toThrow(ConfigError);
  });

  it('reads TOTP_DIRECT_VERIFY, on by default', () => {
    expect(loadConfig(base).directVerify).toBe(true);
    expect(loadConfig({ ...base, TOTP_DIRECT_VERIFY: '' }).directVerify).toBe(true);
    expect(loadConfig({ ...base, TOTP_DIRECT_VERIFY: 'false' }).directVerify).toBe(false);
    expect(loadConfig({ ...base, TOTP_DIRECT_VERIFY: 'TRUE' }).directVerify).toBe(true);
    expect(() => loadConfig({ ...base, TOTP_DIRECT_VERIFY: 'off' })).toThrow(/^TOTP_DIRECT_VERIFY: must be true or false/);
  });

  it('reads TOTP_SECRET_CACHE_SIZE and TOTP_SECRET_CACHE_SECONDS, with defaults', () => {
    expect(loadConfig(base).secretCache).toEqual({ size: 100_000, seconds: 300 });
    expect(loadConfig({ ...base, TOTP_SECRET_CACHE_SIZE: '0', TOTP_SECRET_CACHE_SECONDS: '30' }).secretCache).toEqual({ size: 0, seconds: 30 });
    expect(() => loadConfig({ ...base, TOTP_SECRET_CACHE_SIZE: '1e9' })).toThrow(/^TOTP_SECRET_CACHE_SIZE: must be a whole number from 0 to 1000000/);
    expect(() => loadConfig({ ...base, TOTP_SECRET_CACHE_SECONDS: '3601' })).toThrow(/^TOTP_SECRET_CACHE_SECONDS/);
  });

  it('reads Sentinels, their master name and a password, one kind of Redis at a time', () => {
    const c = loadConfig({ REDIS_SENTINELS: 's1:26379, [::1]:26380', REDIS_SENTINEL_MASTER: 'main', REDIS_PASSWORD: 'pw', TOTP_ENCRYPTION_KEYS: KEY });
    expect(c.store).toMatchObject({ kind: 'sentinel', sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }], master: 'main', password: 'pw' });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379', TOTP_ENCRYPTION_KEYS: KEY }).store).toMatchObject({ master: 'mymaster' });
    expect(() => loadConfig({ REDIS_SENTINELS: 's1:26379' })).toThrow(/^TOTP_ENCRYPTION_KEYS/);
    expect(() => loadConfig({ ...base, REDIS_SENTINELS: 's1:26379' })).toThrow(/^REDIS_SENTINELS: set only one/);
    expect(() => loadConfig({ REDIS_SENTINELS: 's1', TOTP_ENCRYPTION_KEYS: KEY })).toThrow(/^REDIS_SENTINELS: "s1" is not host:port/);
    expect(() => loadConfig({ ...base, REDIS_PASSWORD: 'pw' })).toThrow(/^REDIS_PASSWORD/);
  });
});

describe('logs', () => {
  it('redacts secrets, codes, tokens, variables and command arguments wherever a call site puts them', () => {
    const { logger, lines } = capture();
    const err = Object.assign(new Error('boom'), { command: { name: 'evalsha', args: ['sealed-secret-bytes'] } });
    logger.info({ token: 't0k3n', secret: 'JBSWY3DP', code: '123456', codes: ['1', '2'], variables: { code: '654321' }, query: 'mutation { verifyTotp(code: "111111") }' });
    logger.info({ headers: { authorization: 'Bearer abc' }, input: { secret: 'S3CR3T', code: '222222' } });
    logger.error({ err }, 'failed');
    const text = JSON.stringify(lines);
    for (const s of ['t0k3n', 'JBSWY3DP', '123456', '654321', '111111', 'Bearer abc', 'S3CR3T', '222222', 'sealed-secret-bytes']) expect(text).not.toContain(s);
    expect(lines[0]).toMatchObject({ token: '[redacted]', secret: '[redacted]', code: '[redacted]', variables: '[redacted]', query: '[redacted]' });
    expect(REDACT_PATHS).toContain('req.headers.authorization');
  });

  it("writes a request's closing line with the top-level paths alone, none of which it carries", async () => {
    const { logger, lines } = capture();
    await requestScope.run({ reqId: 'req-2', outcomes: [], errors: [] }, async () => {
      logGraphQL(logger, { reqId: 'req-2', operation: 'V', fields: ['verifyTotp'], operationType: 'mutation', outcomes: ['INVALID_CODE'], errors: [] }, 200, 1.5);
    });
    accessLogger(logger).info({ token: 't0k3n', code: '123456', variables: { code: '654321' } }, 'not a closing line');
    expect(lines[0]).toMatchObject({ reqId: 'req-2', route: 'graphql', status: 200, fields: ['verifyTotp'], outcome: 'INVALID_CODE', outcomes: ['INVALID_CODE'], msg: 'graphql request' });
    const names = new Set(REDACT_PATHS.flatMap((p) => p.split('.')));
    expect(Object.keys(lines[0]!).filter((k) => names.has(k))).toEqual([]);
    expect(lines[1]).toMatchObject({ token: '[redacted]', code: '[redacted]', variables: '[redacted]' });
    expect(accessLogger(logger)).toBe(accessLogger(logger));
  });

  it('puts the request id on every line logged while serving a request, from any logger', async () => {
    const { logger, lines } = capture();
    const child = logger.child({ module: 'x' });
    await requestScope.run({ reqId: 'req-1', outcomes: [], errors: [] }, async () => {
      logger.info('one');
      await new Promise((r) => setTimeout(r, 1));
      child.warn('two');
    });
    logger.info('outside');
    expect(lines.map((l) => [l.msg, l.reqId])).toEqual([['one', 'req-1'], ['two', 'req-1'], ['outside', undefined]]);
  });

  it('takes a sane x-request-id and replaces anything else', () => {
    const fresh = () => 'fresh';
    expect(requestIdFrom('abc-123.x:y_z', fresh)).toBe('abc-123.x:y_z');
    for (const bad of [undefined, '', 'has space', 'a'.repeat(65), '{"json":1}', 'line\nbreak']) expect(requestIdFrom(bad, fresh)).toBe('fresh');
    expect(requestIdFrom(['first', 'second'], fresh)).toBe('first');
  });
});
