import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SealError } from './errors.js';

/**
 * Secret sealing: AES-256-GCM (NIST SP 800-38D) under a key ring. The first key seals; every key
 * opens. A sealed value is
 *
 *   0x01 | kid length (1 byte) | kid (ASCII) | IV (12 bytes) | tag (16 bytes) | ciphertext
 *
 * and its additional authenticated data binds it to its owner and purpose, so a value copied to
 * another user's record (or another field) fails to open instead of verifying someone else's codes.
 */

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface SealKey {
  readonly id: string;
  readonly key: Buffer;
}

export class KeyRing {
  private readonly byId: ReadonlyMap<string, Buffer>;
  /** The key that seals; the first of the ring. */
  readonly activeKeyId: string;

  constructor(keys: readonly SealKey[]) {
    if (keys.length === 0) throw new Error('a key ring needs at least one key');
    const byId = new Map<string, Buffer>();
    for (const { id, key } of keys) {
      // Not echoed: a string that is not a key id may be anything, a pasted key included.
      if (!KEY_ID.test(id)) throw new Error(`key ${byId.size + 1}: its id must be 1-64 of A-Z a-z 0-9 . _ -`);
      if (key.length !== 32) throw new Error(`key "${id}" must be 32 bytes (it is ${key.length})`);
      if (byId.has(id)) throw new Error(`key id "${id}" appears twice`);
      byId.set(id, Buffer.from(key));
    }
    this.byId = byId;
    this.activeKeyId = keys[0]!.id;
  }

  /** A ring of one fresh random key (for the embedded store, whose data dies with the process). */
  static ephemeral(id = 'ephemeral'): KeyRing {
    return new KeyRing([{ id, key: randomBytes(32) }]);
  }

  get keyIds(): readonly string[] {
    return [...this.byId.keys()];
  }

  /** Encrypt `plaintext` with the active key, bound to `context` (the owner and purpose). */
  seal(plaintext: Uint8Array, context: string): Buffer {
    const kid = Buffer.from(this.activeKeyId, 'ascii');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.byId.get(this.activeKeyId)!, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION, kid.length]), kid, iv, cipher.getAuthTag(), body]);
  }

  /** Decrypt a sealed value; throws SealError naming the key id when it cannot. */
  unseal(sealed: Uint8Array, context: string): Uint8Array {
    const parts = parse(sealed);
    const key = this.byId.get(parts.kid);
    if (!key) {
      throw new SealError(`sealed with key "${parts.kid}", which is not in TOTP_ENCRYPTION_KEYS`, parts.kid);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, parts.iv);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(parts.tag);
      return new Uint8Array(Buffer.concat([decipher.update(parts.body), decipher.final()]));
    } catch {
      throw new SealError(`sealed value does not authenticate under key "${parts.kid}"`, parts.kid);
    }
  }

  /** True when `sealed` was sealed by another key than the active one (rekey candidates). */
  needsRekey(sealed: Uint8Array): boolean {
    return keyIdOf(sealed) !== this.activeKeyId;
  }
}

/** The id of the key that sealed `sealed`. */
export function keyIdOf(sealed: Uint8Array): string {
  return parse(sealed).kid;
}

function parse(sealed: Uint8Array): { kid: string; iv: Buffer; tag: Buffer; body: Buffer } {
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const kidLen = buf[1] ?? 0;
  const head = 2 + kidLen;
  // latin1, not ascii: Node's ascii decoder drops the high bit, so a kid byte with its high bit
  // flipped would still name the key and open, and the (unauthenticated) header be malleable.
  const kid = buf.subarray(2, head).toString('latin1');
  if (buf[0] !== VERSION || !KEY_ID.test(kid) || buf.length < head + IV_BYTES + TAG_BYTES) {
    throw new SealError('sealed value is malformed');
  }
  return {
    kid,
    iv: buf.subarray(head, head + IV_BYTES),
    tag: buf.subarray(head + IV_BYTES, head + IV_BYTES + TAG_BYTES),
    body: buf.subarray(head + IV_BYTES + TAG_BYTES),
  };
}

/**
 * Parse `TOTP_ENCRYPTION_KEYS`: comma-separated `kid:base64` of 32-byte keys, the first active.
 * Error messages name the entry by position (and by key id when that cannot be a pasted key),
 * never the key material, also when an entry is written the wrong way round (`base64:kid`).
 */
export function parseKeyRing(spec: string): KeyRing {
  const entries = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (entries.length === 0) throw new Error('no keys given');
  const seen = new Set<string>();
  return new KeyRing(
    entries.map((entry, i) => {
      const colon = entry.indexOf(':');
      if (colon <= 0) throw new Error(`entry ${i + 1} is not kid:base64`);
      const id = entry.slice(0, colon);
      const b64 = entry.slice(colon + 1);
      const name = entryName(i, id);
      if (!KEY_ID.test(id)) {
        throw new Error(`${name}: the key id must be 1-64 of A-Z a-z 0-9 . _ - (kid:base64)`);
      }
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) throw new Error(`${name} is not base64`);
      const key = Buffer.from(b64, b64.includes('-') || b64.includes('_') ? 'base64url' : 'base64');
      if (key.length !== 32) throw new Error(`${name} must be 32 bytes (it is ${key.length})`);
      if (seen.has(id)) throw new Error(`${name} repeats an earlier key id`);
      seen.add(id);
      return { id, key };
    }),
  );
}

/**
 * How messages name entry `i`: by position, with its id only when the id cannot be a key pasted
 * first (a 32-byte key takes at least 43 base64 characters).
 */
function entryName(i: number, id: string): string {
  return KEY_ID.test(id) && id.length < 43 ? `entry ${i + 1} ("${id}")` : `entry ${i + 1}`;
}
