/**
 * Keys that cannot be lost silently: a server restarted with a newly made TOTP_ENCRYPTION_KEYS
 * (what happens in a new shell) refuses to start, naming the key its store needs and how many
 * values it seals, instead of answering INTERNAL_SERVER_ERROR for every user; with the old key
 * added back it starts; TOTP_ALLOW_MISSING_KEYS=true starts anyway and warns; encryptionKeys tells
 * an operator the same thing over the API, and a rekey moves the counts to the new key.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { ADMIN_TOKEN, APP_TOKEN, SERVER_MAIN, TEST_API_KEYS, encryptionKey, startServer } from './support/server.js';
import { ENROLL, VERIFY, codeAt, waitFor } from './support/totp.js';

const redisUrl = inject('redisUrl');
const KEYS = '{ encryptionKeys { keyId sealedValues configured active } }';

describe.skipIf(!redisUrl)('encryption keys', () => {
  it('refuses to start without a key the store needs, and says which and how much', async () => {
    const env = { REDIS_URL: redisUrl!, TOTP_KEY_PREFIX: `ek${randomBytes(3).toString('hex')}:` };
    const k1 = encryptionKey('k1');
    const first = await startServer({ env: { ...env, TOTP_ENCRYPTION_KEYS: k1 } });
    try {
      for (const userId of ['a', 'b', 'c']) {
        const e = await first.gql<{ enrollTotp: { secret: string } }>(ENROLL, { input: { userId } }, APP_TOKEN);
        if (userId !== 'c') await first.gql(VERIFY, { userId, code: codeAt(e.data!.enrollTotp.secret) }, APP_TOKEN);
      }
      await first.gql('mutation { generateRecoveryCodes(userId: "a") { codes } }', {}, APP_TOKEN);
      expect((await first.gql(KEYS, {}, ADMIN_TOKEN)).data).toEqual({ encryptionKeys: [{ keyId: 'k1', sealedValues: 3, configured: true, active: true }] });
    } finally {
      expect(await first.stop()).toBe(0);
    }

    // a new shell, a new key: refused, one line per missing key, exit 2
    const k2 = encryptionKey('k2');
    const refused = spawnSync(process.execPath, [SERVER_MAIN], {
      env: { PATH: process.env.PATH, ...env, TOTP_API_KEYS: TEST_API_KEYS, TOTP_ENCRYPTION_KEYS: k2, PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('key "k1" seals 3 values in the store but is not in TOTP_ENCRYPTION_KEYS');
    expect(refused.stderr).toMatch(/refusing to start: add the missing key/);

    // anyway, on purpose: it starts and warns
    const anyway = await startServer({ env: { ...env, TOTP_ENCRYPTION_KEYS: k2, TOTP_ALLOW_MISSING_KEYS: 'true' } });
    try {
      // the log is asynchronous: the warning may land just after the banner the harness waits for
      const warned = /key \\"k1\\" seals 3 values[^\n]*cannot be opened/;
      await waitFor(async () => warned.test(anyway.stdout()), 5000);
      expect(anyway.stdout()).toMatch(warned);
      expect((await anyway.gql(KEYS, {}, ADMIN_TOKEN)).data).toEqual({
        encryptionKeys: [
          { keyId: 'k2', sealedValues: 0, configured: true, active: true },
          { keyId: 'k1', sealedValues: 3, configured: false, active: false },
        ],
      });
    } finally {
      expect(await anyway.stop()).toBe(0);
    }

    // the new key first and the old one kept: it starts, and a rekey moves every value over
    const both = await startServer({ env: { ...env, TOTP_ENCRYPTION_KEYS: `${k2},${k1}` } });
    try {
      expect((await both.gql<{ rekeyTotp: { rekeyed: number } }>('mutation { rekeyTotp { rekeyed } }', {}, ADMIN_TOKEN)).data!.rekeyTotp.rekeyed).toBe(4);
      expect((await both.gql(KEYS, {}, ADMIN_TOKEN)).data).toEqual({
        encryptionKeys: [
          { keyId: 'k2', sealedValues: 3, configured: true, active: true },
          { keyId: 'k1', sealedValues: 0, configured: true, active: false },
        ],
      });
    } finally {
      expect(await both.stop()).toBe(0);
    }
    // now the old key can go
    const after = await startServer({ env: { ...env, TOTP_ENCRYPTION_KEYS: k2 } });
    expect(await after.stop()).toBe(0);
  });
});
