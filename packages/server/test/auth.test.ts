/**
 * Token authentication (auth.ts). Why it is constant time by design: the presented token is first
 * hashed with SHA-256, so what is compared is a digest that shares no prefix with the right one
 * however much of the token an attacker got right; each comparison is timingSafeEqual over 32
 * bytes; and every configured key is compared, the loop never stopping at a match, so neither
 * whether nor which key matched shows in the time. The tests check those properties: the answer
 * for every key set, and (loosely, statistically) that the time depends on none of them.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../src/auth.js';
import { sha256, type ApiKey } from '../src/config.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median time of `fn` per call, in ns, each sample averaging `inner` calls. */
function timeOf(fns: Record<string, () => void>, samples = 41, inner = 5): Record<string, number> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let s = 0; s < samples; s++) {
    // interleaved, so that load on the machine hits every case alike
    for (const [name, fn] of Object.entries(fns)) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < inner; i++) fn();
      times[name]!.push(Number(process.hrtime.bigint() - t) / inner);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return 'accepted';
};

describe('authenticate', () => {
  it('finds the key of a token, for any set of keys, and nothing else', () => {
    const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.~+/='), minLength: 16, maxLength: 80 });
    fc.assert(
      fc.property(fc.uniqueArray(token, { minLength: 1, maxLength: 12 }), fc.nat(), token, (tokens, pick, other) => {
        const keys: ApiKey[] = tokens.map((t, i) => ({ name: `k${i}`, role: i % 2 ? 'app' : 'admin', digest: sha256(t) }));
        const i = pick % tokens.length;
        expect(authenticate(`Bearer ${tokens[i]}`, keys)).toEqual({ name: `k${i}`, role: keys[i]!.role });
        if (!tokens.includes(other)) expect(refused(() => authenticate(`Bearer ${other}`, keys))).toBe('UNAUTHENTICATED');
      }),
    );
  });

  it('refuses every header that is not exactly Bearer <token>', () => {
    const keys: ApiKey[] = [{ name: 'k', role: 'app', digest: sha256('a-token-of-twenty-chars') }];
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic a-token-of-twenty-chars', 'a-token-of-twenty-chars',
      'Bearer a-token-of-twenty-chars x', 'Bearer\na-token-of-twenty-chars', `Bearer ${'a'.repeat(513)}`, 'Bearer a-token-of-twenty-chars\u0000',
      'Bearer a-token-of-twenty-char', 'Bearer A-TOKEN-OF-TWENTY-CHARS']) {
      expect(refused(() => authenticate(header, keys)), JSON.stringify(header)).toBe('UNAUTHENTICATED');
    }
    expect(authenticate('bearer \ta-token-of-twenty-chars ', keys).name).toBe('k');
  });

  describe('timing (loose, statistical)', () => {
    // 2,000 keys: a loop that stopped at the first match would answer for the first key in
    // about 1/2,000 of the time it takes for the last; the bounds below allow 2x of noise.
    const tokens = Array.from({ length: 2000 }, () => randomBytes(24).toString('hex'));
    const keys: ApiKey[] = tokens.map((t, i) => ({ name: `k${i}`, role: 'app', digest: sha256(t) }));
    const attempt = (token: string) => () => {
      try {
        authenticate(`Bearer ${token}`, keys);
      } catch {
        /* refused: timed all the same */
      }
    };

    it('takes as long for the first key, the last key and no key: every key is compared', () => {
      const t = timeOf({ first: attempt(tokens[0]!), last: attempt(tokens.at(-1)!), none: attempt(randomBytes(24).toString('hex')) });
      expect(t.first! / t.last!).toBeGreaterThan(0.5);
      expect(t.first! / t.none!).toBeGreaterThan(0.5);
      expect(t.none! / t.last!).toBeGreaterThan(0.5);
      expect(t.none! / t.last!).toBeLessThan(2);
    });

    it('takes as long for a token that is right but for its last character as for one wrong from the start', () => {
      const right = tokens[1000]!;
      const nearly = right.slice(0, -1) + (right.endsWith('0') ? '1' : '0');
      const t = timeOf({ nearly: attempt(nearly), wrong: attempt('f'.repeat(right.length)), empty: attempt('x'.repeat(16)) });
      expect(t.nearly! / t.wrong!).toBeGreaterThan(0.5);
      expect(t.nearly! / t.wrong!).toBeLessThan(2);
      expect(t.nearly! / t.empty!).toBeLessThan(2);
    });
  });
});
