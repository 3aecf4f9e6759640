/**
 * Several devices per user, end to end: the built server as a process on a real Redis and on a
 * real Cluster, a phone and a backup enrolled over HTTP, the backup's QR code read back with
 * zbarimg, each device's codes from an independent implementation (oathtool for one, pyotp for
 * the other), and what docs/api.md says of devices, seen from outside.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { requireTool } from './support/tools.js';

const redisUrl = inject('redisUrl');
const clusterNodes = inject('redisClusterNodes');
const oathtool = requireTool('oathtool');
const python = requireTool('pyotp');
const zbarimg = requireTool('zbarimg');

const ENROLL = `mutation($input: EnrollTotpInput!) { enrollTotp(input: $input) { secret otpauthUri qrCodeDataUrl deviceId deviceName status } }`;
const VERIFY = `mutation($userId: ID!, $code: String!) { verifyTotp(userId: $userId, code: $code) { outcome activated remainingAttempts deviceId deviceName } }`;
const DEVICES = `query($userId: ID!) { totpStatus(userId: $userId) { status recoveryCodesRemaining devices { id name status digits period lastUsedAt pendingExpiresAt } } }`;
const REVOKE = `mutation($userId: ID!, $deviceId: ID) { revokeTotp(userId: $userId, deviceId: $deviceId) { revoked } }`;
const RENAME = `mutation($userId: ID!, $deviceId: ID!, $name: String!) { renameTotpDevice(userId: $userId, deviceId: $deviceId, name: $name) { id name status } }`;

/** oathtool's code of a base32 secret, `offset` steps from now. */
const oathCode = (secret: string, offset = 0, digits = 6) =>
  execFileSync(oathtool!, ['--totp=sha1', `--digits=${digits}`, `--now=@${Math.floor(Date.now() / 1000) + offset * 30}`, '-b', secret], { encoding: 'utf8' }).trim();

/** pyotp's code of a secret given as its otpauth URI (as the phone reads the QR code), `offset` steps from now. */
const pyotpCode = (uri: string, offset = 0) =>
  execFileSync(python!, ['-c', 'import pyotp,sys,time; t=pyotp.parse_uri(sys.argv[1]); print(t.at(int(time.time())+int(sys.argv[2])*t.interval))', uri, String(offset)], {
    encoding: 'utf8',
  }).trim();

/** Far enough from a step boundary that a code made now is checked in its own step. */
async function awayFromBoundary(): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 5_000) await new Promise((r) => setTimeout(r, left + 100));
}

function devicesSuite(name: string, storeEnv: () => Record<string, string>) {
  describe(`devices end to end, ${name}`, () => {
    let server: ServerProcess;
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'devices-'));
      server = await startServer({
        env: { ...storeEnv(), TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: `dv${randomBytes(3).toString('hex')}:`, TOTP_MAX_DEVICES: '3' },
      });
    });
    afterAll(async () => {
      expect(await server.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    });

    const enroll = (userId: string, extra: Record<string, unknown> = {}) =>
      server.gql<{ enrollTotp: { secret: string; otpauthUri: string; qrCodeDataUrl: string; deviceId: string; deviceName: string } }>(ENROLL, { input: { userId, ...extra } }, APP_TOKEN);
    const verify = async (userId: string, code: string) =>
      (await server.gql<{ verifyTotp: { outcome: string; activated: boolean; deviceId: string | null; deviceName: string | null } }>(VERIFY, { userId, code }, APP_TOKEN)).data!.verifyTotp;
    const devices = async (userId: string) =>
      (await server.gql<{ totpStatus: { status: string; devices: { id: string; name: string; status: string }[] } | null }>(DEVICES, { userId }, APP_TOKEN)).data!.totpStatus;

    it('enrolls a phone and a backup, each verified with its own authenticator', async () => {
      await awayFromBoundary();
      const phone = (await enroll('carol')).data!.enrollTotp;
      expect(phone).toMatchObject({ deviceId: '0', deviceName: 'default' });
      expect(await verify('carol', oathCode(phone.secret))).toMatchObject({ outcome: 'ACCEPTED', activated: true, deviceId: '0', deviceName: 'default' });

      const backup = (await enroll('carol', { deviceName: 'backup key' })).data!.enrollTotp;
      expect(backup).toMatchObject({ deviceId: '1', deviceName: 'backup key' });
      // the phone reads the backup's QR code: the URI in it is the one enrollTotp returned
      const png = join(dir, 'backup.png');
      writeFileSync(png, Buffer.from(backup.qrCodeDataUrl.split(',')[1]!, 'base64'));
      const scanned = execFileSync(zbarimg!, ['--raw', '-q', png], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      expect(scanned).toBe(backup.otpauthUri);
      expect(await verify('carol', pyotpCode(scanned))).toMatchObject({ outcome: 'ACCEPTED', activated: true, deviceId: '1', deviceName: 'backup key' });

      // replay is per device: the phone's code again is REPLAYED, the backup's next one is fine
      expect((await verify('carol', oathCode(phone.secret))).outcome).toBe('REPLAYED');
      expect(await verify('carol', pyotpCode(scanned, 1))).toMatchObject({ outcome: 'ACCEPTED', deviceName: 'backup key' });
      expect((await devices('carol'))?.devices.map((d) => [d.id, d.name, d.status])).toEqual([['0', 'default', 'ACTIVE'], ['1', 'backup key', 'ACTIVE']]);
    });

    it('refuses one device too many, renames, and removes one device then the last', async () => {
      const a = (await enroll('dave')).data!.enrollTotp;
      await enroll('dave', { deviceName: 'b' });
      await enroll('dave', { deviceName: 'c' });
      const more = await enroll('dave', { deviceName: 'd' });
      expect(more.errors?.[0]?.extensions?.code).toBe('TOO_MANY_DEVICES');
      const clash = await server.gql(RENAME, { userId: 'dave', deviceId: '2', name: 'b' }, APP_TOKEN);
      expect(clash.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'name' });
      expect((await server.gql(RENAME, { userId: 'dave', deviceId: '2', name: 'tablet' }, APP_TOKEN)).data).toEqual({ renameTotpDevice: { id: '2', name: 'tablet', status: 'PENDING' } });
      expect((await server.gql(RENAME, { userId: 'dave', deviceId: '9', name: 'x' }, APP_TOKEN)).errors?.[0]?.extensions?.code).toBe('NOT_ENROLLED');
      expect((await server.gql(REVOKE, { userId: 'dave', deviceId: '1' }, APP_TOKEN)).data).toEqual({ revokeTotp: { revoked: true } });
      expect((await server.gql(REVOKE, { userId: 'dave', deviceId: '1' }, APP_TOKEN)).data).toEqual({ revokeTotp: { revoked: false } });
      expect((await devices('dave'))?.devices.map((d) => d.name)).toEqual(['default', 'tablet']);
      expect((await verify('dave', oathCode(a.secret))).deviceName).toBe('default');
      await server.gql(REVOKE, { userId: 'dave', deviceId: '0' }, APP_TOKEN);
      await server.gql(REVOKE, { userId: 'dave', deviceId: '2' }, APP_TOKEN);
      expect(await devices('dave')).toBeNull();
      const audit = await server.gql<{ auditEvents: { nodes: { type: string; deviceId: string | null }[] } }>(
        `{ auditEvents(userId: "dave", types: [REVOKED, DEVICE_RENAMED]) { nodes { type deviceId } } }`, {}, ADMIN_TOKEN);
      expect(audit.data!.auditEvents.nodes).toEqual([
        { type: 'REVOKED', deviceId: '2' },
        { type: 'REVOKED', deviceId: '0' },
        { type: 'REVOKED', deviceId: '1' },
        { type: 'DEVICE_RENAMED', deviceId: '2' },
      ]);
    });

    it('answers a version 1 client exactly as before: no device fields asked, none given', async () => {
      const e = await server.gql<{ enrollTotp: Record<string, unknown> }>(`mutation { enrollTotp(input: {userId: "v1"}) { userId status secret } }`, {}, APP_TOKEN);
      expect(Object.keys(e.data!.enrollTotp)).toEqual(['userId', 'status', 'secret']);
      const v = await server.gql(`mutation($c: String!) { verifyTotp(userId: "v1", code: $c) { valid outcome activated retryAfterSeconds remainingAttempts driftSteps } }`,
        { c: oathCode(e.data!.enrollTotp.secret as string) }, APP_TOKEN);
      expect(v.data).toEqual({ verifyTotp: { valid: true, outcome: 'ACCEPTED', activated: true, retryAfterSeconds: null, remainingAttempts: 5, driftSteps: 0 } });
      const again = await server.gql(`mutation { enrollTotp(input: {userId: "v1"}) { secret } }`, {}, APP_TOKEN);
      expect(again.errors?.[0]?.extensions?.code).toBe('ALREADY_ENROLLED');
    });
  });
}

if (redisUrl && oathtool && python && zbarimg) devicesSuite('on Redis', () => ({ REDIS_URL: redisUrl }));
if (clusterNodes && oathtool && python && zbarimg) devicesSuite('on a Redis Cluster', () => ({ REDIS_CLUSTER_NODES: clusterNodes }));
