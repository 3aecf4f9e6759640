import { describe, expect, it } from 'vitest';
import { normalizeServerUrl } from '../src/client.js';
import { clean, displayWidth, groupSecret, keyValues, shellArg, table, time } from '../src/format.js';

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
