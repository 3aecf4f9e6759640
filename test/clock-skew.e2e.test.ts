/**
 * Servers whose clocks disagree are still one service: two server processes on one Redis, the
 * second with its wall clock 65 s ahead (a `node --import` shim over Date.now). Lockouts,
 * their length, the audit trail's times and the codes themselves follow the store's clock, so the
 * failure budget holds whichever server answers; the server that is off says so in its log.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { ENROLL, VERIFY, activeUser, codeAt, stepOf, wrong, type VerifyResult } from './support/totp.js';

const redisUrl = inject('redisUrl');
const SKEW_MS = 65_000;

describe.skipIf(!redisUrl)('two servers whose clocks are 65 s apart', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skew-'));
    const shim = join(dir, 'skew.mjs');
    writeFileSync(shim, `const real = Date.now; Date.now = () => real() + ${SKEW_MS};\n`);
    const env = { REDIS_URL: redisUrl!, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: `skew${randomBytes(3).toString('hex')}:` };
    [a, b] = await Promise.all([
      startServer({ env }),
      startServer({ env: { ...env, NODE_OPTIONS: `--import ${pathToFileURL(shim).href}` } }),
    ]);
  });
  afterAll(async () => {
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = async (server: ServerProcess, userId: string, code: string) => {
    const r = await server.gql<{ verifyTotp: VerifyResult }>(VERIFY, { userId, code }, APP_TOKEN);
    if (!r.data) throw new Error(JSON.stringify(r.errors));
    return r.data.verifyTotp;
  };

  it('tests no more codes than the budget allows, six wrong codes on each', async () => {
    const { secret } = await activeUser(a, 'skewed');
    const bad = wrong(codeAt(secret));
    const outcomes: string[] = [];
    for (const server of [a, a, a, a, a, a, b, b, b, b, b, b]) outcomes.push((await verify(server, 'skewed', bad)).outcome);
    expect(outcomes.filter((o) => o === 'INVALID_CODE')).toHaveLength(5);
    expect(outcomes.slice(5)).toEqual(Array(7).fill('LOCKED'));
    // the lockout lasts its 60 s on both
    const onB = await verify(b, 'skewed', bad);
    expect(onB.retryAfterSeconds).toBeGreaterThan(50);
    expect(onB.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('judges codes and stamps the audit trail by one clock, whichever server answers', async () => {
    const e = await a.gql<{ enrollTotp: { secret: string } }>(ENROLL, { input: { userId: 'skew-codes' } }, APP_TOKEN);
    const secret = e.data!.enrollTotp.secret;
    // by its own clock the current step is two or three steps away: it must not judge by it
    const code = codeAt(secret, stepOf());
    expect(await verify(b, 'skew-codes', code)).toMatchObject({ outcome: 'ACCEPTED', activated: true });
    expect((await verify(a, 'skew-codes', code)).outcome).toBe('REPLAYED');
    const events = await b.gql<{ auditEvents: { nodes: { at: string; type: string }[] } }>(
      `query { auditEvents(userId: "skew-codes", first: 10) { nodes { at type } } }`,
      {},
      ADMIN_TOKEN,
    );
    expect(events.data!.auditEvents.nodes.map((n) => n.type)).toEqual(['VERIFY', 'ACTIVATED', 'VERIFY', 'ENROLLED']);
    const now = Date.now();
    for (const n of events.data!.auditEvents.nodes) expect(Math.abs(Date.parse(n.at) - now)).toBeLessThan(5_000);
  });

  it('says in its log that its clock is off', () => {
    expect(b.stdout()).toMatch(/clock.*(65|64|66)(\.\d+)? ?s/i);
    expect(a.stdout()).not.toMatch(/"msg":"[^"]*clock[^"]*differs/i);
  });
});
