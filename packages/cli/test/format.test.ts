import { describe, expect, it } from 'vitest';
import { normalizeServerUrl } from '../src/client.js';
import { clean, deviceLabel, devicesTable, displayWidth, groupSecret, keyValues, shellArg, table, time } from '../src/format.js';
import type { TotpDevice } from '../src/schema.js';

describe('format', () => {
  it('groups a secret by four', () => {
    expect(groupSecret('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')).toBe('JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP');
    expect(groupSecret('ABCDEF')).toBe('ABCD EF');
  });

  it('neutralises control characters from the server', () => {
    expect(clean('evil\u001b]0;owned\u0007\nname')).toBe('evil\\x1b]0;owned\\x07\\x0aname');
  });

  it('aligns table columns, counting wide characters as two columns', () => {
    expect(displayWidth('用户-42')).toBe(7);
    expect(table(['USER', 'STATUS'], [['用户', 'ACTIVE'], ['alice', 'PENDING']])).toBe(
      ['USER   STATUS', '用户   ACTIVE', 'alice  PENDING'].join('\n'),
    );
  });

  it('leaves out missing values from key/value blocks', () => {
    expect(keyValues([['User', 'alice'], ['Locked until', null], ['Failures', 0]])).toBe('User      alice\nFailures  0');
  });

  it('shortens times to the second', () => {
    expect(time('2024-05-01T12:00:03.456Z')).toBe('2024-05-01T12:00:03Z');
    expect(time(null)).toBe('');
  });

  it('quotes shell arguments only when needed', () => {
    expect(shellArg('a.b+c@example.com')).toBe('a.b+c@example.com');
    expect(shellArg("{x}:y o'k")).toBe(`'{x}:y o'\\''k'`);
  });

  it('names a device by its name and id, with control characters neutralised', () => {
    expect(deviceLabel({ id: '1', name: 'backup phone' })).toBe('"backup phone" (id 1)');
    expect(deviceLabel({ id: '2', name: 'evil\u001b[2J' })).toBe('"evil\\x1b[2J" (id 2)');
  });

  it('lists devices one row each: codes in short, never used as never, no pending expiry as blank', () => {
    const device: TotpDevice = {
      id: '0',
      name: 'phone',
      status: 'ACTIVE',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      issuer: 'Acme',
      accountName: 'alice',
      createdAt: '2024-05-01T12:00:00.000Z',
      activatedAt: '2024-05-01T12:00:31.000Z',
      lastUsedAt: null,
      pendingExpiresAt: null,
    };
    const pending = { ...device, id: '1', name: 'tablet', status: 'PENDING' as const, algorithm: 'SHA256' as const, digits: 8, activatedAt: null, pendingExpiresAt: '2024-05-01T12:15:00.000Z' };
    expect(devicesTable([device, pending]).split('\n')).toEqual([
      'ID  NAME    STATUS   CODES         CREATED               ACTIVATED             LAST USED  PENDING EXPIRES',
      '0   phone   ACTIVE   SHA1/6/30s    2024-05-01T12:00:00Z  2024-05-01T12:00:31Z  never',
      '1   tablet  PENDING  SHA256/8/30s  2024-05-01T12:00:00Z                        never      2024-05-01T12:15:00Z',
    ]);
  });
});

describe('normalizeServerUrl', () => {
  it('adds /graphql to a base URL and keeps an endpoint as given', () => {
    expect(normalizeServerUrl('http://127.0.0.1:4000')).toBe('http://127.0.0.1:4000/graphql');
    expect(normalizeServerUrl('https://totp.example/api/graphql')).toBe('https://totp.example/api/graphql');
  });

  it('refuses what is not an http(s) URL as wrong usage', () => {
    expect(() => normalizeServerUrl('localhost:4000')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => normalizeServerUrl('not a url')).toThrow(/is not a URL/);
  });
});
