/**
 * The built server as a process on a real Redis, driven over HTTP, with codes from oathtool.
 * Every operation of the service issue and every error code it can answer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { requireTool } from './support/tools.js';

const redisUrl = inject('redisUrl');
const oathtool = requireTool('oathtool');
const zbarimg = requireTool('zbarimg');

const ENROLL = `mutation($input: EnrollTotpInput!) { enrollTotp(input: $input) {
  userId status secret otpauthUri qrCodeDataUrl qrCodeSvg algorithm digits period issuer accountName expiresAt } }`;
const VERIFY = `mutation($userId: ID!, $code: String!, $clientIp: String) { verifyTotp(userId: $userId, code: $code, clientIp: $clientIp) {
  valid outcome activated retryAfterSeconds remainingAttempts driftSteps } }`;
const STATUS = `query($userId: ID!) { totpStatus(userId: $userId) { userId status algorithm digits period issuer accountName
  createdAt activatedAt lastVerifiedAt failedAttempts lockedUntil recoveryCodesRemaining } }`;
const REVOKE = `mutation($userId: ID!, $reason: String) { revokeTotp(userId: $userId, reason: $reason) { revoked } }`;
const UNLOCK = `mutation($userId: ID!) { unlockTotp(userId: $userId) { status failedAttempts lockedUntil } }`;

/** The current code of a base32 secret, from oathtool (an implementation independent of ours). */
function oathCode(secret: string, opts: { algorithm?: string; digits?: number; period?: number; offset?: number } = {}): string {
  const at = Math.floor(Date.now() / 1000) + (opts.offset ?? 0) * (opts.period ?? 30);
  return execFileSync(oathtool!, [
    `--totp=${(opts.algorithm ?? 'SHA1').toLowerCase()}`, `--digits=${opts.digits ?? 6}`, `--time-step-size=${opts.period ?? 30}s`,
    `--now=@${at}`, '-b', secret,
  ], { encoding: 'utf8' }).trim();
}

/**
 * Wait until at least 5 s remain in the current 30 s step, so that a code computed now is checked
 * in the same step and the drift the server reports is the one the test expects.
 */
async function awayFromBoundary(): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 5_000) await new Promise((r) => setTimeout(r, left + 100));
}

describe.skipIf(!redisUrl || !oathtool)('server over HTTP, on Redis', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({
      env: { REDIS_URL: redisUrl!, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: `e2e${randomBytes(3).toString('hex')}:` },
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  type Enrollment = { secret: string; otpauthUri: string; qrCodeDataUrl: string; qrCodeSvg: string; expiresAt: string; status: string };
  const enroll = async (userId: string, extra: Record<string, unknown> = {}, token = APP_TOKEN) =>
    server.gql<{ enrollTotp: Enrollment }>(ENROLL, { input: { userId, ...extra } }, token);
  const verify = async (userId: string, code: string, clientIp?: string) =>
    server.gql<{ verifyTotp: Record<string, unknown> }>(VERIFY, { userId, code, clientIp }, APP_TOKEN);

  it('enrolls, activates with an authenticator code, refuses the replay, revokes', async () => {
    await awayFromBoundary();
    const e = await enroll('alice@example.com', { issuer: 'Acme: Shop' });
    expect(e.errors).toBeUndefined();
    const en = e.data!.enrollTotp;
    expect(en).toMatchObject({ status: 'PENDING', algorithm: 'SHA1', digits: 6, period: 30, accountName: 'alice@example.com' });
    expect(en.otpauthUri).toBe(`otpauth://totp/Acme%3A%20Shop:alice%40example.com?secret=${en.secret}&issuer=Acme%3A%20Shop&algorithm=SHA1&digits=6&period=30`);
    expect(en.qrCodeDataUrl).toMatch(/^data:image\/png;base64,/);
    expect(en.qrCodeSvg).toMatch(/^<svg/);
    expect(Date.parse(en.expiresAt) - Date.now()).toBeGreaterThan(890_000);

    const code = oathCode(en.secret);
    expect((await verify('alice@example.com', code)).data!.verifyTotp).toEqual({
      valid: true, outcome: 'ACCEPTED', activated: true, retryAfterSeconds: null, remainingAttempts: 5, driftSteps: 0,
    });
    expect((await verify('alice@example.com', code)).data!.verifyTotp).toMatchObject({ outcome: 'REPLAYED', valid: false, remainingAttempts: 4 });
    const status = await server.gql<{ totpStatus: Record<string, unknown> }>(STATUS, { userId: 'alice@example.com' }, APP_TOKEN);
    expect(status.data!.totpStatus).toMatchObject({ status: 'ACTIVE', failedAttempts: 1, issuer: 'Acme: Shop', recoveryCodesRemaining: 0 });
    expect((await server.gql(REVOKE, { userId: 'alice@example.com', reason: 'lost phone' }, APP_TOKEN)).data).toEqual({ revokeTotp: { revoked: true } });
    expect((await server.gql(STATUS, { userId: 'alice@example.com' }, APP_TOKEN)).data).toEqual({ totpStatus: null });
    expect((await verify('alice@example.com', code)).data!.verifyTotp).toMatchObject({ outcome: 'NOT_ENROLLED' });
    expect((await server.gql(REVOKE, { userId: 'alice@example.com' }, APP_TOKEN)).data).toEqual({ revokeTotp: { revoked: false } });
  });

  it.skipIf(!zbarimg)('renders a QR code that decodes to the otpauth URI', async () => {
    const en = (await enroll('qr-user', { algorithm: 'SHA512', digits: 8, period: 60, issuer: 'Ünïcödé Bank', accountName: 'qr@example.com' })).data!.enrollTotp;
    const dir = mkdtempSync(join(tmpdir(), 'qr-'));
    const png = join(dir, 'qr.png');
    writeFileSync(png, Buffer.from(en.qrCodeDataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'));
    expect(execFileSync(zbarimg!, ['--raw', '-q', png], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()).toBe(en.otpauthUri);
    expect(oathCode(en.secret, { algorithm: 'SHA512', digits: 8, period: 60 })).toHaveLength(8);
    expect((await verify('qr-user', oathCode(en.secret, { algorithm: 'SHA512', digits: 8, period: 60 }))).data!.verifyTotp).toMatchObject({ outcome: 'ACCEPTED' });
  });

  it('answers ALREADY_ENROLLED, and re-enrolls with replace: true', async () => {
    await awayFromBoundary();
    const en = (await enroll('bob')).data!.enrollTotp;
    await verify('bob', oathCode(en.secret));
    const again = await enroll('bob');
    expect(again.errors?.[0]?.extensions?.code).toBe('ALREADY_ENROLLED');
    const replaced = await enroll('bob', { replace: true });
    expect(replaced.data!.enrollTotp.status).toBe('PENDING');
    const r = await verify('bob', oathCode(replaced.data!.enrollTotp.secret, { offset: 1 }));
    expect(r.data!.verifyTotp).toMatchObject({ outcome: 'ACCEPTED', activated: true, driftSteps: 1 });
  });

  it('locks after five failures, and an admin unlocks', async () => {
    const en = (await enroll('carol')).data!.enrollTotp;
    const good = oathCode(en.secret);
    const bad = good === '000000' ? '111111' : '000000';
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push((await verify('carol', bad)).data!.verifyTotp);
    expect(answers.map((a) => a.remainingAttempts)).toEqual([4, 3, 2, 1, 0, 0]);
    expect(answers[5]).toMatchObject({ outcome: 'LOCKED', retryAfterSeconds: 60 });
    expect((await server.gql(UNLOCK, { userId: 'carol' }, APP_TOKEN)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await server.gql(UNLOCK, { userId: 'carol' })).data).toEqual({ unlockTotp: { status: 'PENDING', failedAttempts: 0, lockedUntil: null } });
    expect((await server.gql(UNLOCK, { userId: 'nobody' })).data).toEqual({ unlockTotp: null });
    expect((await verify('carol', good)).data!.verifyTotp).toMatchObject({ outcome: 'ACCEPTED', activated: true });
  });

  it('answers MALFORMED and RATE_LIMITED as outcomes', async () => {
    for (const code of ['12345', 'abcdef', '１２３４５６', '', ' ']) {
      expect((await verify('dave', code)).data!.verifyTotp).toMatchObject({ outcome: 'MALFORMED' });
    }
    const ip = '192.0.2.77';
    let last: Record<string, unknown> = {};
    for (let i = 0; i < 61; i++) last = (await verify(`nobody-${i}`, '123456', ip)).data!.verifyTotp;
    expect(last).toMatchObject({ outcome: 'RATE_LIMITED' });
    expect(last.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('names the argument of BAD_USER_INPUT', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [VERIFY, { userId: 'x'.repeat(257), code: '123456' }, 'userId'],
      [VERIFY, { userId: 'a\u0000b', code: '123456' }, 'userId'],
      [VERIFY, { userId: 'ok', code: '123456', clientIp: 'not-an-ip' }, 'clientIp'],
      [ENROLL, { input: { userId: 'ok', digits: 9 } }, 'digits'],
      [ENROLL, { input: { userId: 'ok', period: 15 } }, 'period'],
      [ENROLL, { input: { userId: '' } }, 'userId'],
    ];
    for (const [query, variables, argument] of cases) {
      const r = await server.gql(query, variables, APP_TOKEN);
      expect(r.errors?.[0]?.extensions, JSON.stringify(variables).slice(0, 60)).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    }
    // a user id of 256 bytes is fine
    expect((await enroll('é'.repeat(128))).data?.enrollTotp.status).toBe('PENDING');
  });

  it('answers UNAUTHENTICATED for missing, malformed and unknown tokens', async () => {
    const headerSets: Record<string, string>[] = [
      {}, { authorization: 'Basic abc' }, { authorization: 'Bearer' }, { authorization: `Bearer ${'x'.repeat(600)}` },
      { authorization: 'Bearer not-a-real-token-at-all' },
    ];
    for (const headers of headerSets) {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: '{ totpStatus(userId: "x") { status } }' }),
      });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses a body of a megabyte with 413 and stays healthy', async () => {
    const r = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${APP_TOKEN}` },
      body: JSON.stringify({ query: VERIFY, variables: { userId: 'x', code: '1'.repeat(1 << 20) } }),
    });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
  });

  it('serves /healthz, /readyz and /metrics without a token', async () => {
    expect(await (await fetch(`${server.base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', store: 'redis' });
    const metrics = await (await fetch(`${server.base}/metrics`)).text();
    expect(metrics).toMatch(/totp_verify_total\{outcome="ACCEPTED",kind="totp"\} \d+/);
  });
});
