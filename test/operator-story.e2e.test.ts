/**
 * The operator's story, end to end over HTTP, with the built server on a real Redis and codes from
 * oathtool: enroll, fail, get locked, unlock, verify, use a recovery code, import a second user,
 * rotate the encryption key (restart with "k2,k1", rekey), restart with k2 alone, verify both
 * users, and read the whole story back from auditEvents.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_TOKEN, APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { requireTool } from './support/tools.js';

const redisUrl = inject('redisUrl');
const oathtool = requireTool('oathtool');

/**
 * A user's authenticator, read with oathtool. Each code is for the step the server will take
 * next whatever the timing: later than the last step accepted (no replay), and at the centre of
 * the window as the server places it (now, shifted by the drift it learned from the last accepted
 * code), so a 30-second boundary passing before the server checks it still leaves it inside.
 */
class Authenticator {
  private last: number | null = null;
  private drift = 0;
  constructor(readonly secret: string) {}

  private stepNow(): number {
    return Math.floor(Date.now() / 30_000);
  }

  /** The next code, and a callback to record that the server accepted it (with its driftSteps). */
  next(): { code: string; accepted: (driftSteps: number) => void } {
    const step = Math.max(this.last === null ? -Infinity : this.last + 1, this.stepNow() + this.drift);
    const code = execFileSync(oathtool!, ['--totp=sha1', '--digits=6', '--time-step-size=30s', `--now=@${step * 30}`, '-b', this.secret], {
      encoding: 'utf8',
    }).trim();
    return {
      code,
      accepted: (driftSteps) => {
        this.last = step;
        this.drift = Math.max(-1, Math.min(1, driftSteps));
      },
    };
  }
}

/** RFC 4648 base32 of random bytes, as another system would export it: lower case, in groups of four, padded. */
function exportedSecret(): { canonical: string; exported: string } {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(20);
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  const canonical = bits.match(/.{5}/g)!.map((c) => alphabet[parseInt(c, 2)]).join('');
  return { canonical, exported: `${canonical.toLowerCase().match(/.{1,4}/g)!.join(' ')}` + '' };
}

const VERIFY = 'mutation($u: ID!, $c: String!, $ip: String) { verifyTotp(userId: $u, code: $c, clientIp: $ip) { outcome activated remainingAttempts driftSteps } }';
const RECOVER = 'mutation($u: ID!, $c: String!) { verifyRecoveryCode(userId: $u, code: $c) { outcome valid } }';
const STATUS = 'query($u: ID!) { totpStatus(userId: $u) { status failedAttempts lockedUntil recoveryCodesRemaining } }';

describe.skipIf(!redisUrl || !oathtool)('the operator story on Redis', () => {
  const prefix = `story${randomBytes(3).toString('hex')}:`;
  const k1 = encryptionKey('k1');
  const k2 = encryptionKey('k2');
  let server: ServerProcess | undefined;
  const start = async (keys: string) => {
    if (server) expect(await server.stop()).toBe(0);
    server = await startServer({ env: { REDIS_URL: redisUrl!, TOTP_ENCRYPTION_KEYS: keys, TOTP_KEY_PREFIX: prefix } });
    return server;
  };
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  it('tells the whole story', async () => {
    const ip = '198.51.100.23';
    let s = await start(k1);
    const app = <T = Record<string, unknown>>(q: string, v?: Record<string, unknown>) => s.gql<T>(q, v, APP_TOKEN);
    const admin = <T = Record<string, unknown>>(q: string, v?: Record<string, unknown>) => s.gql<T>(q, v, ADMIN_TOKEN);
    const verify = async (u: string, c: string) => (await app<{ verifyTotp: Record<string, unknown> }>(VERIFY, { u, c, ip })).data!.verifyTotp;
    /** Verify the authenticator's next code; it must be ACCEPTED. */
    const login = async (u: string, device: Authenticator) => {
      const { code, accepted } = device.next();
      const r = await verify(u, code);
      expect(r, u).toMatchObject({ outcome: 'ACCEPTED' });
      accepted(r.driftSteps as number);
      return r;
    };

    // enroll alice and confirm with her authenticator
    const enrolled = await app<{ enrollTotp: { secret: string } }>('mutation { enrollTotp(input: {userId: "alice", issuer: "Acme"}) { secret } }');
    const aliceSecret = enrolled.data!.enrollTotp.secret;
    const alicePhone = new Authenticator(aliceSecret);
    expect(await login('alice', alicePhone)).toMatchObject({ activated: true });

    // five wrong codes lock her out; the sixth attempt, even a right one, is LOCKED
    const good = alicePhone.next().code;
    const bad = good === '000000' ? '111111' : '000000';
    const fails: Record<string, unknown>[] = [];
    for (let i = 0; i < 5; i++) fails.push(await verify('alice', bad));
    expect(fails.map((f) => `${String(f.outcome)}:${String(f.remainingAttempts)}`)).toEqual(['INVALID_CODE:4', 'INVALID_CODE:3', 'INVALID_CODE:2', 'INVALID_CODE:1', 'INVALID_CODE:0']);
    expect(await verify('alice', good)).toMatchObject({ outcome: 'LOCKED', remainingAttempts: 0 });

    // the operator unlocks; her next code works
    expect((await admin('mutation { unlockTotp(userId: "alice") { failedAttempts lockedUntil } }')).data).toEqual({
      unlockTotp: { failedAttempts: 0, lockedUntil: null },
    });
    expect(await login('alice', alicePhone)).toMatchObject({ remainingAttempts: 5 });

    // recovery codes: made once, one used, a used one refused
    const codes = (await app<{ generateRecoveryCodes: { codes: string[] } }>('mutation { generateRecoveryCodes(userId: "alice") { codes generatedAt } }'))
      .data!.generateRecoveryCodes.codes;
    expect(codes).toHaveLength(10);
    expect((await app(RECOVER, { u: 'alice', c: codes[0] })).data).toEqual({ verifyRecoveryCode: { outcome: 'ACCEPTED', valid: true } });
    expect((await app(RECOVER, { u: 'alice', c: codes[0]!.toUpperCase() })).data).toEqual({ verifyRecoveryCode: { outcome: 'INVALID_CODE', valid: false } });
    expect((await app(STATUS, { u: 'alice' })).data).toMatchObject({ totpStatus: { status: 'ACTIVE', failedAttempts: 1, recoveryCodesRemaining: 9 } });

    // bob's factor comes from another system
    const bob = exportedSecret();
    const imported = await admin('mutation($s: String!) { importTotp(input: {userId: "bob", secret: $s, issuer: "Legacy"}) { status issuer } }', { s: bob.exported });
    expect(imported.data).toEqual({ importTotp: { status: 'ACTIVE', issuer: 'Legacy' } });
    const bobPhone = new Authenticator(bob.canonical);
    expect(await login('bob', bobPhone)).toMatchObject({ activated: false });

    // rotate: k2 first, k1 still there to read with; rekey, then again (nothing left to do)
    s = await start(`${k2},${k1}`);
    expect((await admin('mutation { rekeyTotp { rekeyed activeKeyId } }')).data).toEqual({ rekeyTotp: { rekeyed: 3, activeKeyId: 'k2' } });
    expect((await admin('mutation { rekeyTotp { rekeyed activeKeyId } }')).data).toEqual({ rekeyTotp: { rekeyed: 0, activeKeyId: 'k2' } });

    // k1 is gone: both users still verify, and alice's recovery codes still work
    s = await start(k2);
    await login('alice', alicePhone);
    await login('bob', bobPhone);
    expect((await app(RECOVER, { u: 'alice', c: codes[1]!.replaceAll('-', ' ') })).data).toEqual({ verifyRecoveryCode: { outcome: 'ACCEPTED', valid: true } });
    const metrics = await (await fetch(`${s.base}/metrics`)).text();
    expect(metrics).toMatch(/^totp_verify_total\{outcome="ACCEPTED",kind="recovery"\} 1$/m);
    expect(metrics).toMatch(/^totp_verify_total\{outcome="ACCEPTED",kind="totp"\} 2$/m);
    const listed = await admin<{ totpEnrollments: { nodes: { userId: string; status: string }[] } }>('{ totpEnrollments { nodes { userId status } } }');
    expect(listed.data!.totpEnrollments.nodes.map((n) => `${n.userId}:${n.status}`).sort()).toEqual(['alice:ACTIVE', 'bob:ACTIVE']);

    // the story, read back from the audit log: oldest first
    type Event = { type: string; userId: string | null; actor: string; clientIp: string | null; outcome: string | null; detail: string | null };
    const page = await admin<{ auditEvents: { nodes: Event[]; pageInfo: { hasNextPage: boolean } } }>(
      '{ auditEvents(first: 1000) { nodes { id at type userId actor clientIp outcome detail } pageInfo { hasNextPage } } }',
    );
    const events = [...page.data!.auditEvents.nodes].reverse();
    expect(page.data!.auditEvents.pageInfo.hasNextPage).toBe(false);
    expect(events.map((e) => [e.type, e.userId ?? '-', e.actor, e.outcome ?? '-'].join(' '))).toEqual([
      'ENROLLED alice shop -',
      'VERIFY alice shop ACCEPTED',
      'ACTIVATED alice shop -',
      'VERIFY alice shop INVALID_CODE',
      'VERIFY alice shop INVALID_CODE',
      'VERIFY alice shop INVALID_CODE',
      'VERIFY alice shop INVALID_CODE',
      'VERIFY alice shop INVALID_CODE',
      'LOCKED alice shop -',
      'VERIFY alice shop LOCKED',
      'UNLOCKED alice ops -',
      'VERIFY alice shop ACCEPTED',
      'RECOVERY_CODES_GENERATED alice shop -',
      'RECOVERY_CODE_USED alice shop ACCEPTED',
      'RECOVERY_CODE_USED alice shop INVALID_CODE',
      'IMPORTED bob ops -',
      'VERIFY bob shop ACCEPTED',
      'REKEYED - ops -',
      'REKEYED - ops -',
      'VERIFY alice shop ACCEPTED',
      'VERIFY bob shop ACCEPTED',
      'RECOVERY_CODE_USED alice shop ACCEPTED',
    ]);
    expect(events.filter((e) => e.type === 'VERIFY').every((e) => e.clientIp === ip)).toBe(true);
    expect(events.filter((e) => e.type === 'REKEYED').map((e) => e.detail)).toEqual([
      '3 sealed values re-sealed with key "k2"', '0 sealed values re-sealed with key "k2"',
    ]);
    // alice's own query tells her part of it, the same events
    const mine = await admin<{ auditEvents: { nodes: Event[] } }>('{ auditEvents(userId: "alice", first: 1000) { nodes { type userId actor outcome } } }');
    expect(mine.data!.auditEvents.nodes.length).toBe(events.filter((e) => e.userId === 'alice').length);
    // and nothing secret anywhere in it
    const text = JSON.stringify(page.data).toLowerCase();
    for (const secret of [aliceSecret, bob.canonical, ...codes, ...codes.map((c) => c.replaceAll('-', '')), good, ADMIN_TOKEN, APP_TOKEN, k1, k2]) {
      expect(text).not.toContain(secret.toLowerCase());
    }
  });
});
