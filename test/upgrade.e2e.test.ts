/**
 * Upgrade in place: a store written by the previous release (built from its commit, see
 * support/previous-release.ts) is served by this build with no manual step. The previous release
 * writes users in every state on a real Redis (and a real Cluster), then stops; this build starts
 * on the same store, and each user is as it was: one device named "default", the same fields, its
 * used step, failures, lockout, pending replacement, recovery codes and audit trail (read beside the
 * events this build writes in its packed form).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { previousServer } from './support/previous-release.js';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { ENROLL, VERIFY, codeAt, stepOf, wrong, type VerifyResult } from './support/totp.js';

const redisUrl = inject('redisUrl');
const clusterNodes = inject('redisClusterNodes');

const STATE = `query S($userId: ID!) { totpStatus(userId: $userId) {
  userId status algorithm digits period issuer accountName createdAt activatedAt lastVerifiedAt failedAttempts lockedUntil recoveryCodesRemaining } }`;
const STATE_V2 = `query S($userId: ID!) { totpStatus(userId: $userId) { status devices { id name status lastUsedAt pendingExpiresAt } } }`;
const EVENTS = `query E($userId: ID) { auditEvents(userId: $userId, first: 100) { nodes { id type outcome detail } } }`;
const RECOVERY = `mutation R($userId: ID!) { generateRecoveryCodes(userId: $userId) { codes } }`;
const RECOVER = `mutation V($userId: ID!, $code: String!) { verifyRecoveryCode(userId: $userId, code: $code) { outcome } }`;
const IMPORT = `mutation I($input: ImportTotpInput!) { importTotp(input: $input) { status } }`;
const LIST = `{ totpEnrollments(first: 100) { nodes { userId status } } }`;

interface Written {
  secrets: Record<string, string>;
  replacement: string;
  usedStep: number;
  codes: string[];
  states: Record<string, unknown>;
  events: Record<string, unknown>;
}

// a UUID: its index member is shorter in this build than in the previous release (keys.ts)
const UUID_USER = 'c0ffee00-1234-4abc-8def-0123456789ab';
const USERS = ['pending', 'active', 'locked', 'failing', 'replacing', 'recovering', 'imported', UUID_USER];

/** What the previous release writes: a user in every state. */
async function writeUsers(old: ServerProcess): Promise<Written> {
  const secrets: Record<string, string> = {};
  const enroll = async (userId: string, replace = false) => {
    const r = await old.gql<{ enrollTotp: { secret: string } }>(ENROLL, { input: { userId, replace } }, APP_TOKEN);
    if (!r.data) throw new Error(JSON.stringify(r.errors));
    return r.data.enrollTotp.secret;
  };
  const verify = async (userId: string, code: string) => (await old.gql<{ verifyTotp: VerifyResult }>(VERIFY, { userId, code }, APP_TOKEN)).data!.verifyTotp;
  const usedStep = stepOf();
  for (const u of USERS.filter((x) => x !== 'imported')) {
    secrets[u] = await enroll(u);
    if (u !== 'pending') expect((await verify(u, codeAt(secrets[u], usedStep))).outcome).toBe('ACCEPTED');
  }
  for (let i = 0; i < 5; i++) await verify('locked', wrong(codeAt(secrets.locked!)));
  for (let i = 0; i < 2; i++) await verify('failing', wrong(codeAt(secrets.failing!)));
  const replacement = await enroll('replacing', true);
  const codes = (await old.gql<{ generateRecoveryCodes: { codes: string[] } }>(RECOVERY, { userId: 'recovering' }, APP_TOKEN)).data!.generateRecoveryCodes.codes;
  expect((await old.gql<{ verifyRecoveryCode: { outcome: string } }>(RECOVER, { userId: 'recovering', code: codes[0] }, APP_TOKEN)).data!.verifyRecoveryCode.outcome).toBe('ACCEPTED');
  secrets.imported = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  await old.gql(IMPORT, { input: { userId: 'imported', secret: secrets.imported } }, ADMIN_TOKEN);
  const states: Record<string, unknown> = {};
  const events: Record<string, unknown> = {};
  for (const u of USERS) {
    states[u] = (await old.gql<{ totpStatus: unknown }>(STATE, { userId: u }, APP_TOKEN)).data!.totpStatus;
    events[u] = (await old.gql<{ auditEvents: { nodes: unknown[] } }>(EVENTS, { userId: u }, ADMIN_TOKEN)).data!.auditEvents.nodes;
  }
  return { secrets, replacement, usedStep, codes, states, events };
}

function upgradeSuite(name: string, storeEnv: () => Record<string, string>) {
  describe(`upgrade in place on ${name}`, () => {
    let written: Written;
    let server: ServerProcess;
    beforeAll(async () => {
      const env = { ...storeEnv(), TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: `up${randomBytes(3).toString('hex')}:`, TOTP_WINDOW: '3' };
      const old = await startServer({ env, main: previousServer(), timeoutMs: 30_000 });
      try {
        written = await writeUsers(old);
      } finally {
        expect(await old.stop()).toBe(0);
      }
      server = await startServer({ env });
    }, 600_000);
    afterAll(async () => {
      if (server) expect(await server.stop()).toBe(0);
    });

    const verify = async (userId: string, code: string) => (await server.gql<{ verifyTotp: VerifyResult & { deviceName: string | null } }>(
      `mutation V($userId: ID!, $code: String!) { verifyTotp(userId: $userId, code: $code) { outcome activated remainingAttempts deviceName } }`,
      { userId, code },
      APP_TOKEN,
    )).data!.verifyTotp;

    it('counts what the encryption key seals in a store written before the counts existed', async () => {
      // confirmed users only: 6 secrets, a pending replacement and a recovery key (the pending user's TTL'd record is not counted)
      const keys = await server.gql<{ encryptionKeys: { keyId: string; sealedValues: number }[] }>('{ encryptionKeys { keyId sealedValues } }', {}, ADMIN_TOKEN);
      expect(keys.data!.encryptionKeys).toEqual([{ keyId: 'k1', sealedValues: 9 }]);
      expect(server.stdout()).toMatch(/counted what each encryption key seals/);
    });

    it('shows every user as it was, each with one device named "default"', async () => {
      for (const u of USERS) {
        expect((await server.gql(STATE, { userId: u }, APP_TOKEN)).data!.totpStatus, u).toEqual(written.states[u]);
        const v2 = (await server.gql<{ totpStatus: { devices: { id: string; name: string; status: string }[] } }>(STATE_V2, { userId: u }, APP_TOKEN)).data!.totpStatus;
        expect(v2.devices.map((d) => [d.id, d.name, d.status]), u).toEqual([['0', 'default', u === 'pending' ? 'PENDING' : 'ACTIVE']]);
        expect((await server.gql<{ auditEvents: { nodes: unknown[] } }>(EVENTS, { userId: u }, ADMIN_TOKEN)).data!.auditEvents.nodes, u).toEqual(written.events[u]);
      }
      const listed = (await server.gql<{ totpEnrollments: { nodes: { userId: string }[] } }>(LIST, {}, ADMIN_TOKEN)).data!.totpEnrollments.nodes;
      expect(listed.map((n) => n.userId).sort()).toEqual([...USERS].sort());
    });

    it('keeps used steps, failures, lockouts, replacements and recovery codes', async () => {
      const { secrets, usedStep } = written;
      expect((await verify('active', codeAt(secrets.active!, usedStep))).outcome).toBe('REPLAYED');
      expect(await verify('active', codeAt(secrets.active!, usedStep + 1))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'default' });
      expect((await verify('locked', codeAt(secrets.locked!, usedStep + 1))).outcome).toBe('LOCKED');
      expect(await verify('failing', wrong(codeAt(secrets.failing!)))).toMatchObject({ outcome: 'INVALID_CODE', remainingAttempts: 2 });
      expect(await verify('replacing', codeAt(secrets.replacing!, usedStep + 1))).toMatchObject({ outcome: 'ACCEPTED', activated: false });
      expect(await verify('replacing', codeAt(written.replacement, usedStep + 2))).toMatchObject({ outcome: 'ACCEPTED', activated: true });
      expect(await verify('pending', codeAt(secrets.pending!, usedStep + 1))).toMatchObject({ outcome: 'ACCEPTED', activated: true });
      expect(await verify('imported', codeAt(secrets.imported!, usedStep + 1))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'default' });
      const recover = async (code: string) => (await server.gql<{ verifyRecoveryCode: { outcome: string } }>(RECOVER, { userId: 'recovering', code }, APP_TOKEN)).data!.verifyRecoveryCode.outcome;
      expect(await recover(written.codes[0]!)).toBe('INVALID_CODE');
      expect(await recover(written.codes[1]!)).toBe('ACCEPTED');
    });

    it("reads the previous release's audit events beside those this build writes in its own form", async () => {
      // 'failing' got one more wrong code above: this build's event first, then the previous release's
      const mine = (await server.gql<{ auditEvents: { nodes: { id: string; type: string; outcome: string | null }[] } }>(EVENTS, { userId: 'failing' }, ADMIN_TOKEN)).data!.auditEvents.nodes;
      expect(mine[0]).toMatchObject({ type: 'VERIFY', outcome: 'INVALID_CODE' });
      expect(mine.slice(1)).toEqual(written.events.failing);
      const all = (await server.gql<{ auditEvents: { nodes: { id: string }[] } }>(EVENTS, {}, ADMIN_TOKEN)).data!.auditEvents.nodes.map((n) => n.id);
      expect(all).toContain(mine[0]!.id);
      for (const u of USERS) for (const e of written.events[u] as { id: string }[]) expect(all, u).toContain(e.id);
    });

    it('adds a second device to a user the previous release wrote', async () => {
      const e = await server.gql<{ enrollTotp: { secret: string; deviceId: string } }>(
        `mutation { enrollTotp(input: {userId: "active", deviceName: "backup"}) { secret deviceId } }`, {}, APP_TOKEN);
      expect(e.data!.enrollTotp.deviceId).toBe('1');
      expect(await verify('active', codeAt(e.data!.enrollTotp.secret, written.usedStep + 2))).toMatchObject({ outcome: 'ACCEPTED', activated: true, deviceName: 'backup' });
      expect(await verify('active', codeAt(written.secrets.active!, written.usedStep + 3))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'default' });
    });

    it('lists a UUID user the previous release indexed once, before and after its next change, and not after its revocation', async () => {
      const listed = async () => (await server.gql<{ totpEnrollments: { nodes: { userId: string }[] } }>(LIST, {}, ADMIN_TOKEN)).data!.totpEnrollments.nodes
        .filter((n) => n.userId === UUID_USER).length;
      expect(await listed()).toBe(1);
      await server.gql(`mutation { enrollTotp(input: {userId: "${UUID_USER}", deviceName: "backup"}) { deviceId } }`, {}, APP_TOKEN);
      expect(await listed()).toBe(1);
      expect(await verify(UUID_USER, codeAt(written.secrets[UUID_USER]!, written.usedStep + 1))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'default' });
      expect((await server.gql<{ revokeTotp: { revoked: boolean } }>(`mutation { revokeTotp(userId: "${UUID_USER}") { revoked } }`, {}, APP_TOKEN)).data!.revokeTotp.revoked).toBe(true);
      expect(await listed()).toBe(0);
    });
  });
}

if (redisUrl) upgradeSuite('Redis', () => ({ REDIS_URL: redisUrl }));
if (clusterNodes) upgradeSuite('a Redis Cluster', () => ({ REDIS_CLUSTER_NODES: clusterNodes }));
