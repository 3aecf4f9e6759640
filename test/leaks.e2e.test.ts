/**
 * Nothing leaks: a full session against the built server on Redis, at LOG_LEVEL=trace, with
 * known secrets (enrolled and imported), codes, recovery codes and tokens, also sent where they do
 * not belong (wrong types, unquoted, beside misspelt fields, as cursors, dates and addresses);
 * then every output channel (every response body but the one
 * enrollment answer that hands the secret out, stdout and stderr, /metrics, every span exported to
 * an OTLP receiver, as sent and decoded) and every Redis value under the test's prefix (strings,
 * hashes, zsets, streams: the audit trail included) is searched for each of them, as base32, hex,
 * base64 and base64url, and for the raw secret bytes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dumpRedis, oathCode, type RedisValue } from './support/inspect.js';
import { startReceiver, type Receiver } from './support/receiver.js';
import { waitFor } from './support/totp.js';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp.js';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { requireTool } from './support/tools.js';

const redisUrl = inject('redisUrl');
const oathtool = requireTool('oathtool');
const age = requireTool('age');
const ageKeygen = requireTool('age-keygen');

const ENROLL = `mutation($input: EnrollTotpInput!) { enrollTotp(input: $input) { secret otpauthUri qrCodeDataUrl qrCodeSvg } }`;
const VERIFY = 'mutation($u: ID!, $c: String!, $ip: String) { verifyTotp(userId: $u, code: $c, clientIp: $ip) { outcome } }';

/** Every form a value could leak in. */
function forms(bytes: Buffer, text?: string): string[] {
  const out = [bytes.toString('hex'), bytes.toString('hex').toUpperCase(), bytes.toString('base64'), bytes.toString('base64url')];
  if (text) out.push(text, text.toLowerCase());
  return out;
}

describe.skipIf(!redisUrl || !oathtool || !age || !ageKeygen)('nothing leaks', () => {
  const prefix = `lk${randomBytes(3).toString('hex')}:`;
  let server: ServerProcess;
  let receiver: OtlpReceiver;
  /** A credential of the collector's (OTEL_EXPORTER_OTLP_HEADERS): sent to it, written nowhere. */
  const collectorKey = `ck-${randomBytes(12).toString('hex')}`;
  /** Everything the server answered, but the enrollment answers that carry the secret by design. */
  const bodies: string[] = [];
  const secrets: { base32: string; bytes: Buffer }[] = [];
  const codes: string[] = [];
  const recovery: string[] = [];

  /** The age identity file the exports are encrypted to (the operator's). */
  let identityFile = '';
  /** Every audit event type goes out as a webhook (VERIFY too): their bodies and headers are searched. */
  let hooks: Receiver;
  beforeAll(async () => {
    hooks = await startReceiver();
    identityFile = join(mkdtempSync(join(tmpdir(), 'leaks-')), 'key.txt');
    execFileSync(ageKeygen!, ['-o', identityFile], { stdio: 'ignore' });
    const recipient = execFileSync(ageKeygen!, ['-y', identityFile], { encoding: 'utf8' }).trim();
    receiver = await startOtlpReceiver();
    server = await startServer({
      env: {
        REDIS_URL: redisUrl!,
        TOTP_ENCRYPTION_KEYS: encryptionKey(),
        TOTP_KEY_PREFIX: prefix,
        LOG_LEVEL: 'trace',
        TOTP_EXPORT_RECIPIENTS: recipient,
        TOTP_WEBHOOK_URL: hooks.url,
        TOTP_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
        TOTP_WEBHOOK_EVENTS: 'ENROLLED,ACTIVATED,VERIFY,REVOKED,LOCKED,UNLOCKED,RECOVERY_CODES_GENERATED,RECOVERY_CODE_USED,IMPORTED,REKEYED,EXPORTED,DEVICE_RENAMED',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_HEADERS: `x-collector-key=${collectorKey}`,
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
    });
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
    await receiver?.close();
    await hooks?.close();
  });

  async function call(query: string, variables: Record<string, unknown>, token = APP_TOKEN, keep = true) {
    const r = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await r.text();
    if (keep) bodies.push(text);
    return JSON.parse(text) as { data?: Record<string, Record<string, string>>; errors?: unknown[] };
  }
  async function enroll(userId: string, extra: Record<string, unknown> = {}) {
    const r = await call(ENROLL, { input: { userId, algorithm: 'SHA256', digits: 8, ...extra } }, APP_TOKEN, false);
    const base32 = r.data!.enrollTotp!.secret!;
    const hex = /Hex secret: ([0-9a-f]+)/.exec(execFileSync(oathtool!, ['-v', '--totp', '-b', base32], { encoding: 'utf8' }))![1]!;
    secrets.push({ base32, bytes: Buffer.from(hex, 'hex') });
    return base32;
  }
  const code = (secret: string, offset = 0) => {
    const c = oathCode(oathtool!, secret, offset, { algorithm: 'SHA256', digits: 8 });
    codes.push(c);
    return c;
  };
  const guess = () => {
    const c = String(10_000_000 + (randomBytes(4).readUInt32BE() % 89_999_999));
    codes.push(c);
    return c;
  };

  it('runs a full session', async () => {
    const s1 = await enroll('alice@example.com');
    for (let i = 0; i < 3; i++) await call(VERIFY, { u: 'alice@example.com', c: guess(), ip: '192.0.2.10' });
    const c1 = code(s1);
    expect((await call(VERIFY, { u: 'alice@example.com', c: c1, ip: '192.0.2.10' })).data!.verifyTotp!.outcome).toBe('ACCEPTED');
    expect((await call(VERIFY, { u: 'alice@example.com', c: c1 })).data!.verifyTotp!.outcome).toBe('REPLAYED');
    // the secret and the token sent where a code goes: MALFORMED, and not written anywhere
    await call(VERIFY, { u: 'alice@example.com', c: s1 });
    await call(VERIFY, { u: 'alice@example.com', c: ADMIN_TOKEN });
    await call(VERIFY, { u: 'alice@example.com', c: `${c1}0` });
    expect((await call(ENROLL, { input: { userId: 'alice@example.com' } })).errors).toHaveLength(1);

    // switching phones: a second secret, confirmed
    const s2 = await enroll('alice@example.com', { replace: true });
    expect((await call(VERIFY, { u: 'alice@example.com', c: code(s2, 1) })).data!.verifyTotp!.outcome).toBe('ACCEPTED');

    // a lockout, an unlock by an operator, a revoke with a reason
    await enroll('bob');
    for (let i = 0; i < 7; i++) await call(VERIFY, { u: 'bob', c: guess(), ip: '2001:db8::1' });
    await call('mutation { unlockTotp(userId: "bob") { status } }', {}, APP_TOKEN);
    await call('mutation { unlockTotp(userId: "bob") { status failedAttempts } }', {}, ADMIN_TOKEN);
    await call('mutation { revokeTotp(userId: "bob", reason: "lost phone") { revoked } }', {});

    // bad input of every kind, and tokens that are nearly right
    await call(VERIFY, { u: '', c: guess() });
    await call(VERIFY, { u: 'x', c: guess(), ip: 'not-an-ip' });
    await call(ENROLL, { input: { userId: 'carol', digits: 9 } });
    await call('{ totpStatus(userId: "alice@example.com") { status failedAttempts } }', {}, `${APP_TOKEN}x`);
    for (const authorization of [`Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN} extra`, ADMIN_TOKEN]) {
      const r = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify({ query: '{ __typename }' }) });
      bodies.push(await r.text());
    }
    const bad = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}` }, body: `{"query": "${s1}`});
    bodies.push(await bad.text());
    // recovery codes (their one answer is not searched: it hands them out), an import, a rekey
    const made = await call('mutation { generateRecoveryCodes(userId: "alice@example.com") { codes } }', {}, APP_TOKEN, false);
    recovery.push(...(made.data!.generateRecoveryCodes as unknown as { codes: string[] }).codes);
    const RECOVER = 'mutation($u: ID!, $c: String!) { verifyRecoveryCode(userId: $u, code: $c) { outcome } }';
    expect((await call(RECOVER, { u: 'alice@example.com', c: recovery[0] })).data!.verifyRecoveryCode!.outcome).toBe('ACCEPTED');
    expect((await call(RECOVER, { u: 'alice@example.com', c: recovery[0]!.toUpperCase() })).data!.verifyRecoveryCode!.outcome).toBe('INVALID_CODE');
    await call(RECOVER, { u: 'alice@example.com', c: recovery[1]!.replaceAll('-', '').slice(0, 11) });
    const imported = randomBytes(20);
    const importedBase32 = execFileSync(oathtool!, ['-v', '--totp', imported.toString('hex')], { encoding: 'utf8' }).match(/Base32 secret: ([A-Z2-7]+)/)![1]!;
    secrets.push({ base32: importedBase32, bytes: imported });
    await call('mutation($s: String!) { importTotp(input: {userId: "dave", secret: $s}) { status } }', { s: importedBase32.toLowerCase() }, ADMIN_TOKEN);
    await call('mutation($s: String!) { importTotp(input: {userId: "dave", secret: $s}) { status } }', { s: importedBase32 }, ADMIN_TOKEN);
    await call('mutation($s: String!) { importTotp(input: {userId: "erin", secret: $s}) { status } }', { s: importedBase32.slice(0, 20) }, ADMIN_TOKEN);
    // recovery codes written every other way: confusables, full width, as the wrong type, unquoted
    const spare = recovery[2]!;
    await call(RECOVER, { u: 'alice@example.com', c: spare.toUpperCase().replaceAll('0', 'O').replaceAll('1', 'L').replaceAll('-', ' ') });
    await call(RECOVER, { u: 'alice@example.com', c: [...recovery[3]!].map((x) => (x === '-' ? x : String.fromCodePoint(x.codePointAt(0)! + 0xfee0))).join('') });
    await call(RECOVER, { u: 'alice@example.com', c: [recovery[4]] });
    await call(`mutation { verifyRecoveryCode(userId: "alice@example.com", code: ${recovery[4]!.replaceAll('-', '_')}) { outcome } }`, {});
    await call(VERIFY, { u: 'alice@example.com', c: recovery[5] });
    // secrets and codes where they do not belong: wrong types, unquoted, misspelt fields, hostile forms
    const IMPORT = 'mutation($i: ImportTotpInput!) { importTotp(input: $i) { status } }';
    await call(IMPORT, { i: { userId: 'frank', secret: importedBase32, digit: 6 } }, ADMIN_TOKEN);
    await call(IMPORT, { i: { userId: 'frank', secret: [importedBase32] } }, ADMIN_TOKEN);
    await call(IMPORT, { i: { userId: 'frank', secret: importedBase32.replace('S', 'ſ') } }, ADMIN_TOKEN);
    await call(IMPORT, { i: { userId: 'frank', secret: `${importedBase32}!` } }, ADMIN_TOKEN);
    await call(IMPORT, { i: { userId: 'frank', secret: importedBase32, algorithm: importedBase32 } }, ADMIN_TOKEN);
    await call(`mutation { importTotp(input: { userId: "frank", secret: ${importedBase32} }) { status } }`, {}, ADMIN_TOKEN);
    await call(VERIFY, { u: 'alice@example.com', c: Number(guess()) });
    await call(`mutation { verifyTotp(userId: "alice@example.com", code: ${guess()}) { outcome } }`, {});
    await call(VERIFY, { u: 'alice@example.com', c: guess(), ip: importedBase32 });
    await call('query($a: String) { auditEvents(after: $a) { nodes { id } } }', { a: importedBase32 }, ADMIN_TOKEN);
    await call('query($s: DateTime) { auditEvents(since: $s) { nodes { id } } }', { s: s1 }, ADMIN_TOKEN);
    await call('query($a: String) { totpEnrollments(after: $a) { nodes { userId } } }', { a: Buffer.from(s1).toString('base64url') }, ADMIN_TOKEN);
    await call('mutation { rekeyTotp { rekeyed } }', {}, ADMIN_TOKEN);
    // a second device, renamed, and an export of everything, in pages (and a secret as its cursor)
    const s3 = await enroll('alice@example.com', { deviceName: 'backup' });
    expect((await call(VERIFY, { u: 'alice@example.com', c: code(s3, 1) })).data!.verifyTotp!.outcome).toBe('ACCEPTED');
    await call('mutation { renameTotpDevice(userId: "alice@example.com", deviceId: "1", name: "drawer") { id name } }', {});
    const EXPORT = 'query($a: String) { exportTotp(first: 1, after: $a) { ciphertext count pageInfo { endCursor hasNextPage } } }';
    type Page = { ciphertext: string; pageInfo: { endCursor: string; hasNextPage: boolean } };
    let after: string | null = null;
    let plaintext = '';
    for (let page = 0; page < 10; page++) {
      const r = (await call(EXPORT, { a: after }, ADMIN_TOKEN)).data!.exportTotp as unknown as Page;
      plaintext += execFileSync(age!, ['-d', '-i', identityFile], { input: r.ciphertext, encoding: 'utf8' });
      if (!r.pageInfo.hasNextPage) break;
      after = r.pageInfo.endCursor;
    }
    // the export did carry the secrets (to the operator's key, and nowhere else)
    for (const s of [s2, s3, importedBase32]) expect(plaintext).toContain(s);
    await call(EXPORT, { a: s3 }, ADMIN_TOKEN);
    await call('{ exportTotp { count } }', {}, APP_TOKEN);
    await call('{ auditEvents(first: 1000) { nodes { id at type userId actor clientIp outcome detail } } }', {}, ADMIN_TOKEN);
    await call('{ totpEnrollments { nodes { userId status recoveryCodesRemaining } } }', {}, ADMIN_TOKEN);
    await call('{ totpEnrollments(status: ACTIVE, first: 1) { nodes { userId } pageInfo { endCursor } } }', {}, ADMIN_TOKEN);
    // a GET carries its query and variables in the URL: a span records the path alone
    const getUrl = new URL(server.url);
    getUrl.searchParams.set('query', `query($u: ID!) { totpStatus(userId: $u) { status } } # ${guess()}`);
    getUrl.searchParams.set('variables', JSON.stringify({ u: guess(), s: s2 }));
    const get = await fetch(getUrl, { headers: { authorization: `Bearer ${APP_TOKEN}`, 'apollo-require-preflight': 'true' } });
    bodies.push(await get.text());
    expect(secrets).toHaveLength(5);
  });

  it('finds no secret, code or token in any output channel, webhook, exported span or Redis value', async () => {
    await waitFor(async () => hooks.received.length > 20, 15_000);
    await new Promise((r) => setTimeout(r, 2000));
    const metrics = await (await fetch(`${server.base}/metrics`)).text();
    // spans are exported in the order they end: once this last request's span is in, all are
    const last = randomBytes(16).toString('hex');
    await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}`, traceparent: `00-${last}-${randomBytes(8).toString('hex')}-01` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    await receiver.waitFor((s) => s.traceId === last);
    const names = new Set(receiver.spans.map((s) => s.name));
    for (const n of ['enrollTotp', 'verifyTotp', 'verifyRecoveryCode', 'importTotp', 'exportTotp', 'rekeyTotp', 'POST /graphql', 'reserve', 'settle']) {
      expect(names, n).toContain(n);
    }
    expect(receiver.spans.find((s) => s.attributes['http.request.method'] === 'GET')).toMatchObject({ name: 'totpStatus', attributes: { 'url.path': '/graphql' } });
    expect(receiver.requests.every((r) => r.headers['x-collector-key'] === collectorKey)).toBe(true);
    const channels: [string, string][] = [
      ...bodies.map((b, i): [string, string] => [`response ${i}`, b]),
      ['stdout', server.stdout()],
      ['stderr', server.stderr()],
      ['/metrics', metrics],
      ...hooks.received.map((r, i): [string, string] => [`webhook ${i}`, `${JSON.stringify(r.headers)}\n${r.body}`]),
      ...receiver.requests.flatMap((r, i): [string, string][] => [
        [`OTLP export ${i} as sent`, r.body.toString('latin1')],
        [`OTLP export ${i} decoded`, r.decoded],
      ]),
    ];
    // the session went out as webhooks: there is something to search
    expect(hooks.received.length).toBeGreaterThan(20);
    const values: RedisValue[] = await dumpRedis(redisUrl!, prefix);
    expect(values.some((v) => v.type === 'stream')).toBe(true);
    expect(values.some((v) => v.type === 'hash')).toBe(true);
    for (const v of values) channels.push([`redis ${v.key} (${v.type})`, v.parts.map((p) => p.toString('latin1')).join('\n')]);
    // the session was logged: at trace level there is something to search
    expect(server.stdout().split('\n').length).toBeGreaterThan(10);

    const needles: [string, string | RegExp][] = [];
    for (const s of secrets) for (const f of forms(s.bytes, s.base32)) needles.push([`secret ${s.base32.slice(0, 4)}…`, f]);
    for (const t of [ADMIN_TOKEN, APP_TOKEN, collectorKey]) for (const f of forms(Buffer.from(t), t)) needles.push([`token ${t.slice(0, 4)}…`, f]);
    for (const c of codes) needles.push([`code ${c}`, new RegExp(`(?<![0-9])${c}(?![0-9])`)]);
    for (const r of recovery) needles.push([`recovery code ${r}`, new RegExp(r.replaceAll('-', '[- ]?'), 'i')]);
    expect(recovery).toHaveLength(10);
    const found: string[] = [];
    for (const [where, text] of channels) {
      for (const [what, needle] of needles) {
        if (typeof needle === 'string' ? text.includes(needle) : needle.test(text)) found.push(`${what} in ${where}`);
      }
    }
    for (const v of values) {
      for (const s of secrets) if (v.parts.some((p) => p.includes(s.bytes))) found.push(`raw secret bytes in ${v.key}`);
    }
    expect(found).toEqual([]);
    expect(needles.length).toBeGreaterThan(40);
  });
});
