import { describe, expect, it } from 'vitest';
import { StepCodes } from '@totp-service/core';
import { SecretCache, type OpenSecret } from '../src/totp/secret-cache.js';

/** The bounds of the secret cache (totp/secret-cache.ts): count, time, code length, and wiping. */

const secret = (fill: number): OpenSecret => {
  const bytes = Buffer.alloc(20, fill);
  return {
    deviceId: '0',
    generation: `g${fill}`,
    drift: 0,
    secret: bytes,
    codes: new StepCodes(bytes, { algorithm: 'SHA1', digits: 6, period: 30 }, 4),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  };
};

describe('the secret cache', () => {
  it('holds at most its size, dropping the least recently used first and zeroing its bytes and codes', () => {
    const cache = new SecretCache(2, 60_000, () => 0);
    const [a, b, c] = [secret(1), secret(2), secret(3)];
    const code = b.codes.code(1000);
    cache.set('a', 6, [a], 0);
    cache.set('b', 6, [b], 0);
    expect(cache.get('a', 6, 1)).toBeDefined(); // a is now the most recently used
    cache.set('c', 6, [c], 0);
    expect(cache.size).toBe(2);
    expect(cache.get('b', 6, 1)).toBeUndefined();
    expect(b.secret.every((x) => x === 0)).toBe(true);
    expect(code.every((x) => x === 0)).toBe(true);
    expect(a.secret.every((x) => x === 1)).toBe(true);
    cache.clear();
    expect(a.secret.every((x) => x === 0) && c.secret.every((x) => x === 0)).toBe(true);
  });

  it('forgets an entry at its time, however often it was used, and answers only for its code length', () => {
    const cache = new SecretCache(10, 60_000, () => 0);
    const a = secret(1);
    cache.set('a', 6, [a], 1_000);
    expect(cache.get('a', 8, 2_000)).toBeUndefined(); // another length: dropped, read again
    cache.set('a', 6, [secret(1)], 1_000);
    expect(cache.get('a', 6, 60_999)?.secrets).toHaveLength(1);
    expect(cache.get('a', 6, 61_000)).toBeUndefined();
    expect(a.secret.every((x) => x === 0)).toBe(true);
  });

  it('holds nothing with size 0, and wipes what it was given', () => {
    const cache = new SecretCache(0, 60_000, () => 0);
    const a = secret(5);
    cache.set('a', 6, [a], 0);
    expect(cache.size).toBe(0);
    expect(a.secret.every((x) => x === 0)).toBe(true);
  });

  it('sweeps expired entries on its own while it holds any', async () => {
    let now = 0;
    const cache = new SecretCache(10, 20, () => now);
    const a = secret(9);
    cache.set('a', 6, [a], 0);
    now = 100;
    await new Promise((r) => setTimeout(r, 60));
    expect(cache.size).toBe(0);
    expect(a.secret.every((x) => x === 0)).toBe(true);
  });

  it("learns a device's new drift, holding the same bytes (wiped as before when the entry goes)", () => {
    const cache = new SecretCache(2, 60_000, () => 0);
    const [a, b] = [{ ...secret(1), deviceId: '1' }, { ...secret(2), deviceId: '2' }];
    cache.set('u', 6, [a, b], 0);
    cache.learnDrift('u', '2', -1);
    cache.learnDrift('u', '7', 1); // no such device held: nothing changes
    cache.learnDrift('nobody', '2', 1); // nothing held: nothing happens
    const held = cache.get('u', 6, 1)!.secrets;
    expect(held.map((s) => [s.deviceId, s.drift])).toEqual([['1', 0], ['2', -1]]);
    expect(held[1]!.secret).toBe(b.secret);
    expect(cache.size).toBe(1);
    cache.delete('u');
    expect(a.secret.every((x) => x === 0) && b.secret.every((x) => x === 0)).toBe(true);
  });
});
