/**
 * Several devices per user, through totp-admin: the built CLI as a process against the built
 * server as a process (on the run's Redis), with TOTP_MAX_DEVICES=2. Two devices enrolled with
 * `enroll --device`, each confirmed with its own code from oathtool (verify names the device),
 * `devices` as a table and as JSON, `status` with the devices, `rename-device` and its refusals,
 * one device too many, unknown and empty device ids, `revoke --device` (its prompt names the
 * device) one device and then the other, and the device column of `audit`. The commands that
 * the failures name are pasted into a shell and must run as written.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { assertBuilt, json, runCli, stderrLines, type RunResult } from '../packages/cli/test/support/cli.js';
import { hintedCommands, onTerminal, runInShell, scriptTool } from '../packages/cli/test/support/hints.js';
import { serverBuilt, startServer, type ServerProcess } from '../packages/cli/test/support/server.js';
import type {} from './support/global-setup.js';
import { requireTool } from './support/tools.js';

const oathtool = requireTool('oathtool');
const script = scriptTool();
const redisUrl = inject('redisUrl');
const ADMIN = `admin-${randomBytes(16).toString('hex')}`;
const run = randomBytes(3).toString('hex');
// Quotes, a space and braces: a hint that does not quote the id for the shell fails here.
const USER = `o'dev {x} ${run}`;

let server: ServerProcess;
let env: Record<string, string>;

interface Device {
  id: string;
  name: string;
  status: string;
  algorithm: string;
  digits: number;
  period: number;
  createdAt: string;
  activatedAt: string | null;
  lastUsedAt: string | null;
  pendingExpiresAt: string | null;
}

const admin = (args: readonly string[]): Promise<RunResult> => runCli(args, { env });

/** The current code of a base32 secret, from oathtool (an implementation other than the service's). */
function oathCode(secret: string): string {
  return execFileSync(oathtool!, ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
}

/** The one command that a failure's stderr line names in backticks. */
function hinted(result: RunResult): string {
  const lines = stderrLines(result);
  expect(lines, result.stderr).toHaveLength(1);
  const commands = hintedCommands(lines[0]!);
  expect(commands, lines[0]).toHaveLength(1);
  return commands[0]!;
}

async function devicesOf(userId: string): Promise<Device[]> {
  const result = await admin(['devices', userId, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return json<{ userId: string; devices: Device[] }>(result).devices;
}

beforeAll(async () => {
  assertBuilt();
  if (!serverBuilt()) throw new Error('packages/server is not built: run `npx turbo run build` first');
  if (!redisUrl) throw new Error('no Redis for the end-to-end tests (globalSetup provides none): install redis-server');
  server = await startServer({
    REDIS_URL: redisUrl,
    TOTP_KEY_PREFIX: `cli-devices-${run}:`,
    TOTP_API_KEYS: `ops:admin:${ADMIN}`,
    TOTP_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    TOTP_MAX_DEVICES: '2',
  });
  env = { TOTP_SERVER_URL: server.url, TOTP_TOKEN: ADMIN };
});

afterAll(async () => server?.stop());

describe.skipIf(!oathtool)('a user with a phone and a backup phone', () => {
  let phone: { id: string; secret: string };
  let backup: { id: string; secret: string };

  it('enroll --device prints the device id and name, as text and as JSON', async () => {
    const text = await admin(['enroll', USER, '--device', 'phone', '--no-qr']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toBe('');
    const device = /^Device\s+"phone" \(id (\S+)\)$/m.exec(text.stdout);
    const secret = /^Secret\s+([A-Z2-7 ]+)$/m.exec(text.stdout);
    expect(device, text.stdout).not.toBeNull();
    expect(secret, text.stdout).not.toBeNull();
    phone = { id: device![1]!, secret: secret![1]!.replaceAll(' ', '') };

    const doc = await admin(['enroll', USER, '--device', 'backup', '--json']);
    expect(doc.code, doc.stderr).toBe(0);
    const enrolled = json<{ userId: string; status: string; deviceId: string; deviceName: string; secret: string }>(doc);
    expect(enrolled).toMatchObject({ userId: USER, status: 'PENDING', deviceName: 'backup' });
    expect(enrolled.deviceId).not.toBe(phone.id);
    backup = { id: enrolled.deviceId, secret: enrolled.secret };
  });

  it("verify names the device whose code it was (each device's code from oathtool)", async () => {
    const first = await admin(['verify', USER, oathCode(phone.secret)]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(`ACCEPTED: the code is valid, from device "phone" (id ${phone.id}). That device of ${USER} is now ACTIVE.\n`);
    const second = await admin(['verify', USER, oathCode(backup.secret), '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(json(second)).toMatchObject({ userId: USER, outcome: 'ACCEPTED', activated: true, deviceId: backup.id, deviceName: 'backup' });
  });

  it('devices: a table, and --json', async () => {
    const text = await admin(['devices', USER]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATUS\s+CODES\s+CREATED\s+ACTIVATED\s+LAST USED\s+PENDING EXPIRES$/);
    // Oldest first; both confirmed, used, and with no pending secret (the last column is empty).
    expect(lines[1]).toMatch(new RegExp(`^${phone.id}\\s+phone\\s+ACTIVE\\s+SHA1/6/30s(\\s+\\S+Z){3}$`));
    expect(lines[2]).toMatch(new RegExp(`^${backup.id}\\s+backup\\s+ACTIVE\\s+SHA1/6/30s(\\s+\\S+Z){3}$`));
    expect(lines.slice(3)).toEqual(['', '2 devices.']);
    expect(text.stdout).not.toContain(phone.secret);

    const doc = json<{ userId: string; devices: Device[] }>(await admin(['devices', USER, '--json']));
    expect(doc.userId).toBe(USER);
    expect(doc.devices.map((d) => [d.id, d.name, d.status])).toEqual([
      [phone.id, 'phone', 'ACTIVE'],
      [backup.id, 'backup', 'ACTIVE'],
    ]);
    for (const d of doc.devices) {
      expect(d).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30, pendingExpiresAt: null });
      expect(d.lastUsedAt).toMatch(/Z$/);
    }
    expect(JSON.stringify(doc)).not.toContain('secret');
  });

  it('status shows the devices', async () => {
    const text = await admin(['status', USER]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Status\s+ACTIVE$/m);
    expect(text.stdout).toMatch(/^Devices\s+2 \(the lines above describe the oldest ACTIVE one\)$/m);
    expect(text.stdout).toMatch(new RegExp(`^${backup.id}\\s+backup\\s+ACTIVE\\s`, 'm'));
    const doc = json<{ devices: Device[] }>(await admin(['status', USER, '--json']));
    expect(doc.devices.map((d) => d.name)).toEqual(['phone', 'backup']);
  });

  it('a third device is one too many: TOO_MANY_DEVICES, exit 1, one line naming a command that lists the devices', async () => {
    const refused = await admin(['enroll', USER, '--device', 'tablet']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(stderrLines(refused)).toEqual([expect.stringMatching(/^totp-admin: TOO_MANY_DEVICES: .*2 devices/)]);
    const listed = await runInShell(hinted(refused), env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('2 devices.');
    const doc = await admin(['enroll', USER, '--device', 'tablet', '--json']);
    expect(doc.code).toBe(1);
    expect(json(doc)).toMatchObject({ error: { code: 'TOO_MANY_DEVICES', exitStatus: 1 } });
    expect((await devicesOf(USER)).map((d) => d.name)).toEqual(['phone', 'backup']);
  });

  it('rename-device: a name in use is refused (exit 1, one clear line); a free one is taken', async () => {
    const taken = await admin(['rename-device', USER, backup.id, 'phone']);
    expect(taken.code).toBe(1);
    expect(taken.stdout).toBe('');
    expect(stderrLines(taken)).toEqual([
      expect.stringMatching(/^totp-admin: BAD_USER_INPUT: .*already has a device named "phone"; choose another name \(`totp-admin devices .*` shows the names in use\)$/),
    ]);
    expect((await runInShell(hinted(taken), env)).code).toBe(0);

    const renamed = await admin(['rename-device', USER, backup.id, 'old phone']);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(renamed.stdout).toBe(`Renamed device ${backup.id} of ${USER}: it is now "old phone" (id ${backup.id}).\n`);
    const doc = await admin(['rename-device', USER, backup.id, 'spare', '--json']);
    expect(json(doc)).toMatchObject({ userId: USER, device: { id: backup.id, name: 'spare', status: 'ACTIVE' } });
    expect((await devicesOf(USER)).map((d) => d.name)).toEqual(['phone', 'spare']);
  });

  it('an unknown device id is refused with exit 1 and a command that lists the ids; an empty one is wrong usage (exit 2)', async () => {
    for (const args of [
      ['revoke', USER, '--device', '99', '--yes'],
      ['revoke', USER, '--device', 'not-an-id', '--yes'],
      ['rename-device', USER, '99', 'other'],
      ['rename-device', USER, 'not-an-id', 'other'],
    ]) {
      const result = await admin(args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(stderrLines(result)).toEqual([expect.stringMatching(/^totp-admin: .* has no device with id "(99|not-an-id)", so nothing was (revoked|renamed); `totp-admin devices .*` lists their devices and ids$/)]);
      const listed = await runInShell(hinted(result), env);
      expect(listed.code, listed.stderr).toBe(0);
    }
    const asJson = await admin(['revoke', USER, '--device', '99', '--yes', '--json']);
    expect(json(asJson)).toEqual({ userId: USER, deviceId: '99', revoked: false });

    for (const args of [['revoke', USER, '--device', '', '--yes'], ['rename-device', USER, '', 'other'], ['rename-device', USER, phone.id, ' '], ['rename-device', USER]]) {
      const result = await admin(args);
      expect(result.code, JSON.stringify(args)).toBe(2);
    }
    expect((await devicesOf(USER)).map((d) => d.name)).toEqual(['phone', 'spare']);
  });

  it.skipIf(!script)('revoke --device asks on a terminal, naming the device; no keeps it', async () => {
    const result = await onTerminal(script!, ['revoke', USER, '--device', phone.id], '[y/N]', 'n', env);
    expect(result.output).toContain(`Revoke device "phone" (id ${phone.id}) of ${USER}? Codes from that device stop working.`);
    expect(result.output).not.toContain('last device');
    expect(result.output).toContain('cancelled: nothing was revoked');
    expect(result.code).toBe(1);
    expect(await devicesOf(USER)).toHaveLength(2);
  });

  it('revoke --device removes that device only; then the other, the last, and with it the user', async () => {
    const one = await admin(['revoke', USER, '--device', phone.id, '--yes', '--reason', 'lost phone']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toBe(`Revoked device "phone" (id ${phone.id}) of ${USER}.\n`);
    expect((await devicesOf(USER)).map((d) => d.id)).toEqual([backup.id]);
    // The remaining device's codes still work; the revoked one's no longer do.
    expect(json(await admin(['verify', USER, oathCode(phone.secret), '--json']))).toMatchObject({ outcome: 'INVALID_CODE' });

    const last = await admin(['revoke', USER, '--device', backup.id, '--yes', '--json']);
    expect(last.code, last.stderr).toBe(0);
    expect(json(last)).toEqual({ userId: USER, deviceId: backup.id, deviceName: 'spare', revoked: true });
    const status = await admin(['status', USER, '--json']);
    expect(status.code).toBe(1);
    expect(json(status)).toMatchObject({ error: { code: 'NOT_ENROLLED' } });
    const devices = await admin(['devices', USER]);
    expect(devices.code).toBe(1);
    expect(stderrLines(devices)).toEqual([expect.stringMatching(/nothing is enrolled for .*; enroll with `totp-admin enroll /)]);
  });

  it('audit shows the device of each event: a DEVICE column, deviceId in JSON and CSV', async () => {
    const text = await admin(['audit', '--user', USER, '--limit', '100']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^AT\s+TYPE\s+USER\s+DEVICE\s+OUTCOME\s+ACTOR\s+CLIENT IP\s+DETAIL$/m);
    expect(text.stdout).toMatch(new RegExp(`^\\S+Z\\s+DEVICE_RENAMED\\s+.*\\s${backup.id}\\s+ops\\s`, 'm'));
    const doc = json<{ events: { type: string; deviceId: string | null; detail: string | null }[] }>(
      await admin(['audit', '--user', USER, '--limit', '100', '--json']),
    );
    const about = (type: string): (string | null)[] => doc.events.filter((e) => e.type === type).map((e) => e.deviceId);
    expect(about('ENROLLED').toSorted()).toEqual([phone.id, backup.id].toSorted());
    expect(about('DEVICE_RENAMED')).toEqual([backup.id, backup.id]);
    expect(about('REVOKED').toSorted()).toEqual([phone.id, backup.id].toSorted());
    const csv = (await admin(['audit', '--user', USER, '--type', 'device-renamed', '--csv'])).stdout.trim().split('\n');
    expect(csv[0]).toBe('id,at,type,userId,actor,clientIp,outcome,detail,deviceId');
    expect(csv.slice(1).map((line) => line.split(',').at(-1))).toEqual([backup.id, backup.id]);
  });
});

describe.skipIf(!oathtool)('a device that is ACTIVE', () => {
  it('enrolling its name again is refused (exit 1) with the command that replaces its secret, which runs', async () => {
    const user = `tablet-${run}`;
    const { secret } = json<{ secret: string }>(await admin(['enroll', user, '--device', 'tablet', '--json']));
    expect((await admin(['verify', user, oathCode(secret)])).code).toBe(0);
    const again = await admin(['enroll', user, '--device', 'tablet']);
    expect(again.code).toBe(1);
    const command = hinted(again);
    expect(command).toBe(`totp-admin enroll ${user} --device tablet --replace`);
    const replaced = await runInShell(`${command} --no-qr`, env);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/^Device\s+"tablet" \(id \S+\)$/m);
    // The old secret keeps working until the new one is confirmed: the device stays ACTIVE, with a pending expiry.
    const [device, ...others] = await devicesOf(user);
    expect(others).toEqual([]);
    expect(device).toMatchObject({ name: 'tablet', status: 'ACTIVE' });
    expect(device?.pendingExpiresAt).toMatch(/Z$/);
  });
});
