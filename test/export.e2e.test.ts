/**
 * exportTotp against independent tools: pages the built server encrypts to two age recipients
 * (identities made with age-keygen) open with the `age` command-line tool under either identity,
 * and under no other; the plaintext is the documented JSON, one entry per device, secrets equal to
 * the enrolled ones. Without recipients export is off (EXPORT_DISABLED); an app key is FORBIDDEN;
 * a recipient that is not one stops start-up naming the variable.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type GraphQLResponse, type ServerProcess } from './support/server.js';
import { ENROLL, VERIFY, codeAt } from './support/totp.js';
import { requireTool } from './support/tools.js';

const redisUrl = inject('redisUrl');
const age = requireTool('age');
const ageKeygen = requireTool('age-keygen');

const EXPORT = `query($status: TotpStatus, $first: Int, $after: String) {
  exportTotp(status: $status, first: $first, after: $after) { ciphertext count pageInfo { endCursor hasNextPage } } }`;

type ExportPage = { ciphertext: string; count: number; pageInfo: { endCursor: string; hasNextPage: boolean } };

interface Factor {
  userId: string;
  deviceId: string;
  deviceName: string;
  status: string;
  secret: string;
  algorithm: string;
  digits: number;
  period: number;
  issuer: string;
  accountName: string;
  lastUsedAt: string | null;
}

describe.skipIf(!redisUrl || !age || !ageKeygen)('exportTotp', () => {
  let dir: string;
  const keys: { file: string; recipient: string }[] = [];
  let server: ServerProcess;
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'export-'));
    for (const name of ['ops', 'backup', 'stranger']) {
      const file = join(dir, `${name}.txt`);
      execFileSync(ageKeygen!, ['-o', file], { stdio: 'ignore' });
      keys.push({ file, recipient: execFileSync(ageKeygen!, ['-y', file], { encoding: 'utf8' }).trim() });
    }
    server = await startServer({
      env: {
        REDIS_URL: redisUrl!,
        TOTP_ENCRYPTION_KEYS: encryptionKey(),
        TOTP_KEY_PREFIX: `ex${randomBytes(3).toString('hex')}:`,
        TOTP_EXPORT_RECIPIENTS: `${keys[0]!.recipient}, ${keys[1]!.recipient}`,
      },
    });
    const enroll = async (userId: string, input: Record<string, unknown> = {}) => {
      const e = await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, { input: { userId, ...input } }, APP_TOKEN);
      secrets.set(`${userId}/${(input.deviceName as string | undefined) ?? 'default'}`, e.data!.enrollTotp.secret);
      return e.data!.enrollTotp.secret;
    };
    for (const u of ['ann', 'ben', 'cat']) await server.gql(VERIFY, { userId: u, code: codeAt(await enroll(u)) }, APP_TOKEN);
    await server.gql(VERIFY, { userId: 'ann', code: codeAt(await enroll('ann', { deviceName: 'backup' })) }, APP_TOKEN);
    await enroll('dan', { deviceName: 'phone', algorithm: 'SHA512', digits: 8 });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  const decrypt = (ciphertext: string, key: string) => spawnSync(age!, ['-d', '-i', key], { input: ciphertext, encoding: 'utf8' });

  async function exportAll(vars: Record<string, unknown>): Promise<{ pages: string[]; counts: number[] }> {
    const pages: string[] = [];
    const counts: number[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const r: GraphQLResponse<{ exportTotp: ExportPage }> = await server.gql<{ exportTotp: ExportPage }>(EXPORT, { ...vars, after }, ADMIN_TOKEN);
      if (!r.data) throw new Error(JSON.stringify(r.errors));
      pages.push(r.data.exportTotp.ciphertext);
      counts.push(r.data.exportTotp.count);
      if (!r.data.exportTotp.pageInfo.hasNextPage) break;
      after = r.data.exportTotp.pageInfo.endCursor;
    }
    return { pages, counts };
  }

  it('pages every device, each page an armored age file that either recipient opens with age', async () => {
    const { pages, counts } = await exportAll({ first: 2 });
    expect(pages.length).toBeGreaterThanOrEqual(2);
    const factors: Factor[] = [];
    for (const [i, page] of pages.entries()) {
      expect(page).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]+\n-----END AGE ENCRYPTED FILE-----\n?$/);
      const a = decrypt(page, keys[0]!.file);
      const b = decrypt(page, keys[1]!.file);
      expect(a.status, a.stderr).toBe(0);
      expect(b.stdout).toBe(a.stdout);
      const doc = JSON.parse(a.stdout) as { version: number; factors: Factor[] };
      expect(doc.version).toBe(1);
      expect(doc.factors).toHaveLength(counts[i]!);
      factors.push(...doc.factors);
    }
    expect(factors.map((f) => `${f.userId}/${f.deviceName}`).sort()).toEqual([...secrets.keys()].sort());
    for (const f of factors) expect(f.secret).toBe(secrets.get(`${f.userId}/${f.deviceName}`));
    expect(factors.find((f) => f.userId === 'dan')).toMatchObject({ status: 'PENDING', algorithm: 'SHA512', digits: 8, period: 30, lastUsedAt: null, deviceId: '0' });
    const ann = factors.find((f) => f.userId === 'ann' && f.deviceName === 'backup')!;
    expect(ann).toMatchObject({ status: 'ACTIVE', deviceId: '1', issuer: 'TOTP Service', accountName: 'ann' });
    expect(Date.parse(ann.lastUsedAt!) % 30_000).toBe(0);
  });

  it('opens under no other identity, and says so', () => {
    return exportAll({}).then(({ pages }) => {
      const r = decrypt(pages[0]!, keys[2]!.file);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/no identity matched/i);
    });
  });

  it('exports the devices of one status only when asked', async () => {
    const { pages } = await exportAll({ status: 'PENDING' });
    const factors = pages.flatMap((p) => (JSON.parse(decrypt(p, keys[0]!.file).stdout) as { factors: Factor[] }).factors);
    expect(factors.map((f) => f.userId)).toEqual(['dan']);
  });

  it('records each page as an EXPORTED event, never a secret', async () => {
    const events = await server.gql<{ auditEvents: { nodes: { type: string; actor: string; userId: string | null; detail: string }[] } }>(
      '{ auditEvents(types: [EXPORTED], first: 100) { nodes { type actor userId detail } } }', {}, ADMIN_TOKEN);
    const nodes = events.data!.auditEvents.nodes;
    expect(nodes.length).toBeGreaterThanOrEqual(4);
    expect(nodes.every((n) => n.actor === 'ops' && n.userId === null && /^\d+ factors? of \d+ users?/.test(n.detail))).toBe(true);
    for (const s of secrets.values()) expect(JSON.stringify(nodes)).not.toContain(s);
  });

  it('refuses an app key, a foreign cursor and a page size out of bounds', async () => {
    expect((await server.gql(EXPORT, {}, APP_TOKEN)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const audit = await server.gql<{ auditEvents: { pageInfo: { endCursor: string } } }>('{ auditEvents(first: 1) { pageInfo { endCursor } } }', {}, ADMIN_TOKEN);
    expect((await server.gql(EXPORT, { after: audit.data!.auditEvents.pageInfo.endCursor }, ADMIN_TOKEN)).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
    expect((await server.gql(EXPORT, { first: 1001 }, ADMIN_TOKEN)).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'first' });
  });

  it('is off without recipients, and refuses to start on one that is not a recipient', async () => {
    const off = await startServer({ env: {} });
    try {
      const r = await off.gql(EXPORT, {}, ADMIN_TOKEN);
      expect(r.errors?.[0]?.extensions?.code).toBe('EXPORT_DISABLED');
      expect(r.errors?.[0]?.message).toMatch(/TOTP_EXPORT_RECIPIENTS/);
    } finally {
      await off.stop();
    }
    await expect(startServer({ env: { TOTP_EXPORT_RECIPIENTS: `${keys[0]!.recipient},age1nope` } })).rejects.toThrow(/exited with 2[\s\S]*TOTP_EXPORT_RECIPIENTS: entry 2/);
  });
});
