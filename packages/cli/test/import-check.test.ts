import { describe, expect, it } from 'vitest';
import { checkInput, loadSecrets, SeenDevices } from '../src/import-check.js';

const S = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const NOW = Date.parse('2024-05-01T12:00:00Z');

describe('checkInput: the server’s rules, before anything is sent', () => {
  it.each([
    [{ userId: 'a', secret: S }, null],
    [{ userId: '用户-42 {x}:y', secret: S.toLowerCase(), issuer: 'Café', accountName: 'a@b', deviceName: 'phone ✓', lastUsedAt: '2024-05-01T12:00:30Z' }, null],
    [{ userId: '', secret: S }, 'the userId is empty'],
    [{ userId: 'é'.repeat(129), secret: S }, 'the userId is longer than 256 bytes of UTF-8'],
    [{ userId: 'a\tb', secret: S }, 'the userId holds control characters or broken Unicode'],
    [{ userId: 'a\uD800', secret: S }, 'the userId holds control characters or broken Unicode'],
    [{ userId: 'a', secret: S, issuer: '  ' }, 'the issuer is empty'],
    [{ userId: 'a', secret: S, deviceName: 'd'.repeat(65) }, 'the device name is longer than 64 characters'],
    [{ userId: 'a', secret: S, lastUsedAt: 'yesterday' }, 'lastUsedAt "yesterday" is not an ISO time'],
    [{ userId: 'a', secret: S, lastUsedAt: '2024-05-01T12:01:01Z' }, 'lastUsedAt 2024-05-01T12:01:01Z is in the future'],
    [{ userId: 'a', secret: 'JBSWY3DPEHPK3PXP' }, 'the secret is 80 bits; at least 128 bits are required'],
    [{ userId: 'a', secret: `${S}0` }, 'the secret is not base32 (letters A-Z and digits 2-7)'],
  ])('%j: %s', async (input, problem) => {
    expect(checkInput(input, NOW, await loadSecrets())).toBe(problem);
  });
});

describe('SeenDevices', () => {
  it('names the earlier row of the same device of the same user, and nothing else', () => {
    const seen = new SeenDevices();
    expect(seen.check('ann', undefined, 2)).toBeNull();
    expect(seen.check('ann', 'phone', 3)).toBeNull();
    expect(seen.check('Ann', undefined, 4)).toBeNull();
    expect(seen.check('ann', 'default', 5)).toBe('line 2 already imports the device "default" of this user');
    expect(seen.check('ann', 'phone', 6)).toBe('line 3 already imports the device "phone" of this user');
  });
});
