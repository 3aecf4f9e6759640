/**
 * User ids and the Redis key layout (store/keys.ts, totp/validate.ts), fuzzed: the ids docs/api.md
 * allows are exactly the ones accepted; no two distinct ids share a key; and every key of an id
 * carries its bucket's hash tag (by Redis Cluster's own rule, TOTP_KEY_PREFIX in front), so no
 * id, whatever braces or colons it holds, can move its keys to another slot or another user.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, bucketTag, clientKey, decodeId, indexMember, memberId, userKeys } from '../src/store/keys.js';
import { checkUserId } from '../src/totp/validate.js';

/** Redis Cluster's hash tag: between the first `{` and the first `}` after it, when not empty. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** Ids made of the characters most likely to break a key: braces, colons, separators, Unicode. */
const hostileId = fc.oneof(
  fc.string({ unit: fc.constantFrom('{', '}', ':', 'b', '0', '7', 'u', 'r', 'e', '-', '_', '=', '/', '+', ' ', '用', 'é'), minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }),
);
const validId = hostileId.filter((id) => accepts(id));

function accepts(id: string): boolean {
  try {
    checkUserId(id);
    return true;
  } catch (err) {
    expect((err as { code?: string; argument?: string })).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'userId' });
    return false;
  }
}

const PREFIXES = ['', 'totp:', 'app.prod-1:'];

describe('user ids', () => {
  it('accepts exactly 1 to 256 UTF-8 bytes of well-formed text without control characters', () => {
    fc.assert(
      fc.property(fc.oneof(hostileId, fc.string({ unit: 'binary', maxLength: 300 })), (id) => {
        const bytes = Buffer.byteLength(id, 'utf8');
        const expected = bytes >= 1 && bytes <= 256 && id.isWellFormed() && !/\p{Cc}/u.test(id);
        expect(accepts(id), JSON.stringify(id)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    expect(accepts('é'.repeat(128))).toBe(true);
    expect(accepts('é'.repeat(128) + 'a')).toBe(false);
    expect(accepts('\ud800')).toBe(false);
  });

  it('never gives two distinct ids a common key', () => {
    fc.assert(
      fc.property(validId, validId, (a, b) => {
        fc.pre(a !== b);
        const ka = userKeys(a);
        const kb = userKeys(b);
        const own = (k: typeof ka) => [k.user, k.recovery, k.events];
        for (const x of own(ka)) expect(own(kb)).not.toContain(x);
        // nor with the other's bucket structures
        expect([kb.audit, kb.activeIndex, kb.pendingIndex, kb.pendingExpiry]).not.toContain(ka.user);
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps the keys a store was written with (they are stored: a change would lose every user)', () => {
    const pinned: [string, number, string][] = [
      ['alice', 7, '{b07}:u:YWxpY2U'],
      ['3f2c8a1e-9b4d-4c7e-8f10-2a6b5c4d3e21', 27, '{b27}:u:M2YyYzhhMWUtOWI0ZC00YzdlLThmMTAtMmE2YjVjNGQzZTIx'],
      ['用户@例子.中国', 28, '{b28}:u:55So5oi3QOS-i-WtkC7kuK3lm70'],
    ];
    for (const [id, bucket, user] of pinned) {
      expect([bucketOf(id), userKeys(id).bucket, userKeys(id).user]).toEqual([bucket, bucket, user]);
      const tag = user.slice(0, 5);
      expect(userKeys(id)).toMatchObject({ events: `${tag}:ei:${userKeys(id).id}`, audit: `${tag}:audit`, activeIndex: `${tag}:ia` });
    }
    // index members are stored too
    expect(['alice', '3f2c8a1e-9b4d-4c7e-8f10-2a6b5c4d3e21', '3F2C8A1E-9B4D-4C7E-8F10-2A6B5C4D3E21'].map(indexMember)).toEqual([
      'YWxpY2U',
      '.PyyKHptNTH6PECprXE0-IQ',
      '~PyyKHptNTH6PECprXE0-IQ',
    ]);
  });

  it('encodes ids reversibly, without braces or colons', () => {
    fc.assert(
      fc.property(validId, (id) => {
        const k = userKeys(id);
        expect(k.id).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodeId(k.id)).toBe(id);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives every id one index member, read back as the id; a UUID in one case its 16 bytes behind a mark', () => {
    const hex = fc.stringMatching(/^[0-9a-f]{32}$/);
    const uuid = hex.map((h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
    const anyCase = fc.tuple(uuid, fc.constantFrom('lower', 'upper', 'mixed')).map(([u, c]) =>
      c === 'lower' ? u : c === 'upper' ? u.toUpperCase() : u.replace(/[a-f]/, (x) => x.toUpperCase()),
    );
    const ids = fc.oneof(validId, anyCase);
    fc.assert(
      fc.property(ids, ids, (a, b) => {
        const ma = indexMember(a);
        expect(userKeys(a).member).toBe(ma);
        expect(memberId(ma)).toBe(a);
        // what a cursor may hold (enrollment-walk.ts), and no brace, colon or separator
        expect(ma).toMatch(/^[.~]?[A-Za-z0-9_-]+$/);
        const short = a === a.toLowerCase() ? '.' : a === a.toUpperCase() ? '~' : null;
        if (/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(a) && short) expect(ma).toMatch(new RegExp(`^\\${short}[A-Za-z0-9_-]{22}$`));
        else expect(ma).toBe(userKeys(a).id);
        if (a !== b) expect(indexMember(b)).not.toBe(ma);
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps every key of an id under its bucket's hash tag, whatever the prefix", () => {
    fc.assert(
      fc.property(validId, fc.constantFrom(...PREFIXES), (id, prefix) => {
        const k = userKeys(id);
        const tag = bucketTag(bucketOf(id)).slice(1, -1);
        expect(k.bucket).toBe(bucketOf(id));
        expect(k.bucket).toBeGreaterThanOrEqual(0);
        expect(k.bucket).toBeLessThan(BUCKETS);
        for (const key of [k.user, k.recovery, k.events, k.audit, k.activeIndex, k.pendingIndex, k.pendingExpiry]) {
          expect(hashTag(prefix + key), key).toBe(tag);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('gives each client address its own tag, unreachable from a user id', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), validId, (ip, id) => {
        const tag = hashTag(`totp:${clientKey(ip)}`);
        expect(tag).toMatch(/^c:[A-Za-z0-9_-]+$/);
        expect(tag).not.toBe(hashTag(`totp:${userKeys(id).user}`));
      }),
    );
  });
});
