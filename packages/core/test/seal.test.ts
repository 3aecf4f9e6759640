import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyRing, keyIdOf, parseKeyRing, SealError } from '../src/index.js';

const key = (fill: number) => Buffer.alloc(32, fill);
const secret = new Uint8Array(randomBytes(20));
const ALICE = 'totp:secret:alice';
const BOB = 'totp:secret:bob';

/** Run `f`, expecting a SealError, and return it. */
function sealError(f: () => unknown): SealError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SealError);
    return e as SealError;
  }
  throw new Error('expected a SealError, nothing was thrown');
}

/** Run `f`, expecting an Error, and return its message. */
function errorMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return (e as Error).message;
  }
  throw new Error('expected an error, nothing was thrown');
}

describe('KeyRing', () => {
  const ring = new KeyRing([{ id: 'k1', key: key(1) }]);

  it('opens what it seals', () => {
    const sealed = ring.seal(secret, ALICE);
    expect(ring.unseal(sealed, ALICE)).toEqual(secret);
    expect(Buffer.from(sealed).includes(Buffer.from(secret))).toBe(false);
  });

  it('round-trips any plaintext and context', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.string({ unit: 'grapheme' }),
        (plaintext, context) => {
          expect(ring.unseal(ring.seal(plaintext, context), context)).toEqual(plaintext);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('does not open a value under another context (another user, another field)', () => {
    const sealed = ring.seal(secret, ALICE);
    for (const other of [BOB, 'totp:pending:alice', `${ALICE} `, 'totp:secret:Alice', '']) {
      sealError(() => ring.unseal(sealed, other));
    }
  });

  it('detects a change of any bit pattern in any byte, and truncation or extension', () => {
    const sealed = ring.seal(secret, ALICE);
    for (let i = 0; i < sealed.length; i++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const tampered = Buffer.from(sealed);
        tampered[i]! ^= flip;
        sealError(() => ring.unseal(tampered, ALICE));
      }
    }
    sealError(() => ring.unseal(sealed.subarray(0, sealed.length - 1), ALICE));
    sealError(() => ring.unseal(Buffer.concat([sealed, Buffer.from([0])]), ALICE));
    sealError(() => ring.unseal(new Uint8Array(0), ALICE));
    sealError(() => ring.unseal(sealed.subarray(0, 10), ALICE));
  });

  it('names the unknown key id in the message and in keyId', () => {
    const other = new KeyRing([{ id: 'retired-2023', key: key(9) }]);
    const error = sealError(() => ring.unseal(other.seal(secret, ALICE), ALICE));
    expect(error.keyId).toBe('retired-2023');
    expect(error.message).toContain('"retired-2023"');
  });

  it('seals with the active (first) key and opens with every key', () => {
    const old = new KeyRing([{ id: 'old', key: key(1) }]);
    const sealedOld = old.seal(secret, ALICE);
    const rotated = new KeyRing([
      { id: 'new', key: key(2) },
      { id: 'old', key: key(1) },
    ]);
    expect(rotated.activeKeyId).toBe('new');
    expect(rotated.keyIds).toEqual(['new', 'old']);
    const sealedNew = rotated.seal(secret, ALICE);
    expect(keyIdOf(sealedNew)).toBe('new');
    expect(keyIdOf(sealedOld)).toBe('old');
    expect(rotated.unseal(sealedOld, ALICE)).toEqual(secret);
    expect(rotated.unseal(sealedNew, ALICE)).toEqual(secret);
    // The old ring cannot open what the new key sealed, and says which key it lacks.
    expect(sealError(() => old.unseal(sealedNew, ALICE)).keyId).toBe('new');
  });

  it('needsRekey is true exactly for values sealed by another key than the active one', () => {
    const old = new KeyRing([{ id: 'old', key: key(1) }]);
    const rotated = new KeyRing([
      { id: 'new', key: key(2) },
      { id: 'old', key: key(1) },
    ]);
    expect(rotated.needsRekey(old.seal(secret, ALICE))).toBe(true);
    expect(rotated.needsRekey(rotated.seal(secret, ALICE))).toBe(false);
    expect(old.needsRekey(old.seal(secret, ALICE))).toBe(false);
  });

  it('uses a fresh IV for every seal of the same plaintext', () => {
    const sealed = Array.from({ length: 200 }, () => Buffer.from(ring.seal(secret, ALICE)));
    // Layout: version, kid length, kid ("k1"), then the 12-byte IV.
    const ivs = new Set(sealed.map((s) => s.subarray(4, 16).toString('hex')));
    expect(ivs.size).toBe(200);
    expect(new Set(sealed.map((s) => s.toString('hex'))).size).toBe(200);
  });

  it('refuses bad rings', () => {
    expect(() => new KeyRing([])).toThrow(/at least one key/);
    expect(() => new KeyRing([{ id: 'k', key: Buffer.alloc(16) }])).toThrow(/32 bytes/);
    expect(() => new KeyRing([{ id: 'bad id', key: key(1) }])).toThrow(/1-64/);
    expect(() => new KeyRing([{ id: 'x'.repeat(65), key: key(1) }])).toThrow(/1-64/);
    expect(() =>
      new KeyRing([
        { id: 'k', key: key(1) },
        { id: 'k', key: key(2) },
      ]),
    ).toThrow(/twice/);
  });

  it('does not let a caller change the key after building the ring', () => {
    const material = key(5);
    const own = new KeyRing([{ id: 'k', key: material }]);
    const sealed = own.seal(secret, ALICE);
    material.fill(6);
    expect(own.unseal(sealed, ALICE)).toEqual(secret);
  });

  it('makes ephemeral rings of one random key', () => {
    const a = KeyRing.ephemeral();
    const b = KeyRing.ephemeral();
    expect(a.keyIds).toEqual(['ephemeral']);
    expect(KeyRing.ephemeral('dev').activeKeyId).toBe('dev');
    expect(() => b.unseal(a.seal(secret, ALICE), ALICE)).toThrow(SealError);
  });
});

describe('parseKeyRing', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const b64 = (k: Buffer) => k.toString('base64');

  it('reads kid:base64 entries, the first one active', () => {
    const ring = parseKeyRing(`2024-06:${b64(k1)},2023.old_key:${b64(k2)}`);
    expect(ring.activeKeyId).toBe('2024-06');
    expect(ring.keyIds).toEqual(['2024-06', '2023.old_key']);
    const sealed = new KeyRing([{ id: '2023.old_key', key: k2 }]).seal(secret, ALICE);
    expect(ring.unseal(sealed, ALICE)).toEqual(secret);
  });

  it('accepts base64url, missing padding, spaces around entries and empty entries', () => {
    const ring = parseKeyRing(` a:${k1.toString('base64url')} , ,b:${b64(k2).replace(/=+$/, '')},`);
    expect(ring.keyIds).toEqual(['a', 'b']);
    const check = new KeyRing([{ id: 'a', key: k1 }]);
    expect(ring.unseal(check.seal(secret, ALICE), ALICE)).toEqual(secret);
  });

  /** Every way of writing the key material that must never appear in a message. */
  const forms = (k: Buffer) => [
    b64(k),
    b64(k).replace(/=+$/, ''),
    k.toString('base64url'),
    k.toString('hex'),
  ];
  const bytes = (n: number) => randomBytes(n).toString('base64');

  it.each([
    ['an empty spec', () => '', /no keys/],
    ['only commas and spaces', () => ' , ,', /no keys/],
    ['a key without a kid', () => b64(k1), /entry 1 is not kid:base64/],
    ['an empty kid', () => `:${b64(k1)}`, /entry 1 is not kid:base64/],
    ['a 16-byte key', () => `a:${bytes(16)}`, /entry 1 \("a"\) must be 32 bytes \(it is 16\)/],
    ['a 33-byte key', () => `a:${b64(k1)},b:${bytes(33)}`, /entry 2 \("b"\) must be 32 bytes/],
    ['bad base64', () => `a:${b64(k1).slice(0, 20)}!${b64(k1).slice(21)}`, /entry 1 \("a"\) is not base64/],
    ['a space inside the key', () => `a:${b64(k1).slice(0, 20)} ${b64(k1).slice(20)}`, /not base64/],
    ['a duplicate kid', () => `a:${b64(k1)},a:${b64(k2)}`, /entry 2 \("a"\) repeats/],
    ['an invalid kid', () => `bad kid:${b64(k1)}`, /entry 1: the key id must be/],
    ['the entry written the wrong way round', () => `${b64(k1)}:main`, /entry 1: the key id/],
    ['the same, base64url', () => `${k1.toString('base64url')}:main`, /^entry 1 must be 32 bytes/],
  ])('refuses %s, without echoing key material', (_what, spec, expected) => {
    const message = errorMessage(() => parseKeyRing(spec()));
    expect(message).toMatch(expected);
    for (const form of [...forms(k1), ...forms(k2)]) {
      expect(message).not.toContain(form.slice(0, 12));
    }
  });
});
