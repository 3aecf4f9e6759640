import { uuidBytes, uuidText } from './uuid-bytes.js';

/**
 * Redis key layout. Every key of one user carries the hash tag of the user's bucket, and so does
 * every cross-user structure of that bucket (its audit stream, its enrollment indexes). One Lua
 * script can then update a user, the bucket's audit stream and the bucket's index atomically,
 * in one slot, on a single Redis and on a Redis Cluster alike.
 *
 *   {b07}:u:<id>   hash    the user's factors, replay and lockout state
 *   {b07}:r:<id>   hash    recovery-code hashes
 *   {b07}:ei:<id>  list    ids of the user's audit events in the bucket stream, newest first
 *   {b07}:audit    stream  the bucket's audit events
 *   {b07}:ax       stream  the bucket's audit events about ids with nothing enrolled (kept apart,
 *                          so traffic about invented ids never pushes enrolled users' events out)
 *   {b07}:kc       hash    sealed values of the bucket's users by key id (for the start-up check)
 *   {b07}:ia       zset    ACTIVE users (score 0, lexicographic order of <id>): the first chunk,
 *   {b07}:ia:<b>   zset      the chunk from bound <b> on (at most 120 each: scripts/_index.lua),
 *   {b07}:iad      zset      and the bounds of the chunks after the first
 *   {b07}:ip       zset    PENDING-only users (score 0, lexicographic)
 *   {b07}:px       zset    PENDING-only users by expiry (score = expiresAt ms), for cleanup
 *   {c:<ip>}       string  attempts of one client address in the current minute
 *
 * <id> is the user id's UTF-8 bytes in base64url: no `{`, `}` or `:` can appear in it, so no id can
 * move a hash tag or a separator, and distinct ids always give distinct keys. The key prefix
 * (TOTP_KEY_PREFIX) is applied by ioredis's `keyPrefix`, to these names and to every KEYS entry.
 *
 * An index member (ia, ip, px) is <id> too, except for a UUID in lower or upper case: '.' or '~'
 * and its 16 bytes in base64url, 23 characters instead of 48 (indexMember: about 27 bytes less a
 * user; neither mark is a base64url character, so members stay distinct). Earlier versions wrote
 * <id> for every user: such a member stays until the user's indexes are next written
 * (scripts/_index.lua, reindex), and reads the same meanwhile (memberId).
 */

/** Users are spread over this many buckets; the keys of one bucket share one hash tag (one slot). */
export const BUCKETS = 32;

/**
 * Audit streams: 0…31 are the buckets' streams of events about enrolled users, 32…63 the same
 * buckets' streams of events about ids with nothing enrolled. An event id starts with its stream.
 */
export const AUDIT_STREAMS = 2 * BUCKETS;

/** The stream (32…63) that holds a bucket's events about ids with nothing enrolled. */
export const strayStream = (bucket: number): number => BUCKETS + bucket;

export interface UserKeys {
  readonly bucket: number;
  readonly id: string;
  /** The user's member in the bucket's indexes (indexMember). */
  readonly member: string;
  readonly user: string;
  readonly recovery: string;
  readonly events: string;
  readonly audit: string;
  readonly stray: string;
  readonly keyCounts: string;
  readonly activeIndex: string;
  readonly pendingIndex: string;
  readonly pendingExpiry: string;
}

export function encodeId(userId: string): string {
  return Buffer.from(userId, 'utf8').toString('base64url');
}

export function decodeId(encoded: string): string {
  return Buffer.from(encoded, 'base64url').toString('utf8');
}

/** Marks of an index member that holds a UUID's bytes (keys.ts header). Stored: never change them. */
const UUID_MEMBER = { lower: '.', upper: '~' } as const;

/** A user's member in the bucket's indexes: <id>, or a UUID's mark and bytes. */
export function indexMember(userId: string): string {
  return memberOf(userId, encodeId(userId));
}

function memberOf(userId: string, id: string): string {
  const uuid = uuidBytes(userId);
  return uuid ? (uuid.upper ? UUID_MEMBER.upper : UUID_MEMBER.lower) + uuid.bytes : id;
}

/** The user id of an index member, in the form this version writes or the one earlier versions did. */
export function memberId(member: string): string {
  if (member[0] === UUID_MEMBER.lower || member[0] === UUID_MEMBER.upper) return uuidText(member.slice(1), member[0] === UUID_MEMBER.upper);
  return decodeId(member);
}

/** FNV-1a over the id's bytes: spreads users evenly over the buckets. */
export function bucketOf(userId: string): number {
  return bucketOfBytes(Buffer.from(userId, 'utf8'));
}

function bucketOfBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % BUCKETS;
}

/** The bucket whose audit stream holds an event: its user's, or bucket of '' for an event of no user. */
export function eventBucket(userId: string | null): number {
  return bucketOf(userId ?? '');
}

export function bucketTag(bucket: number): string {
  return `{b${bucket.toString().padStart(2, '0')}}`;
}

/** The key of an audit stream (0…63, see AUDIT_STREAMS). */
export function auditStreamKey(stream: number): string {
  const keys = bucketKeys(stream % BUCKETS);
  return stream < BUCKETS ? keys.audit : keys.stray;
}

function keysOfBucket(bucket: number) {
  const tag = bucketTag(bucket);
  return Object.freeze({
    audit: `${tag}:audit`,
    stray: `${tag}:ax`,
    keyCounts: `${tag}:kc`,
    activeIndex: `${tag}:ia`,
    pendingIndex: `${tag}:ip`,
    pendingExpiry: `${tag}:px`,
  });
}

// made once: every verify names its bucket's keys
const BUCKET_KEYS = Array.from({ length: BUCKETS }, (_, b) => keysOfBucket(b));

export function bucketKeys(bucket: number): ReturnType<typeof keysOfBucket> {
  return BUCKET_KEYS[bucket] ?? keysOfBucket(bucket);
}

export function userKeys(userId: string): UserKeys {
  const bytes = Buffer.from(userId, 'utf8');
  const bucket = bucketOfBytes(bytes);
  const b = BUCKET_KEYS[bucket]!;
  const tag = bucketTag(bucket);
  const id = bytes.toString('base64url');
  return {
    bucket,
    id,
    member: memberOf(userId, id),
    user: `${tag}:u:${id}`,
    recovery: `${tag}:r:${id}`,
    events: `${tag}:ei:${id}`,
    audit: b.audit,
    stray: b.stray,
    keyCounts: b.keyCounts,
    activeIndex: b.activeIndex,
    pendingIndex: b.pendingIndex,
    pendingExpiry: b.pendingExpiry,
  };
}

export function clientKey(clientIp: string): string {
  return `{c:${encodeId(clientIp)}}`;
}
