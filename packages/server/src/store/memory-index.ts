import { BUCKETS, bucketOf, indexMember } from './keys.js';
import type { EnrollmentStatus, IndexSlice } from './store.js';

/**
 * A set of strings kept in byte order: the embedded store's mirror of a Redis sorted set whose
 * members all score 0 (read with ZRANGE … BYLEX). Members are ASCII (keys.ts, indexMember), so
 * JavaScript's string order is their byte order.
 */
export class SortedIndex {
  private readonly members: string[] = [];

  /** Where `m` is or would go. */
  private find(m: string): number {
    let lo = 0;
    let hi = this.members.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.members[mid]! < m) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(m: string): void {
    const i = this.find(m);
    if (this.members[i] !== m) this.members.splice(i, 0, m);
  }

  delete(m: string): void {
    const i = this.find(m);
    if (this.members[i] === m) this.members.splice(i, 1);
  }

  /** At most `count` members after `after` (all from the start when null). */
  after(after: string | null, count: number): string[] {
    let i = after === null ? 0 : this.find(after);
    if (after !== null && this.members[i] === after) i += 1;
    return this.members.slice(i, i + count);
  }
}

/**
 * The embedded store's enrollment indexes, as index.lua and the scripts keep them on Redis:
 * {bNN}:ia and {bNN}:ip per bucket (members: keys.ts, indexMember) and {bNN}:px (PENDING-only
 * users by expiry, for cleanup).
 */
export class EnrollmentIndex {
  private readonly activeIdx = Array.from({ length: BUCKETS }, () => new SortedIndex());
  private readonly pendingIdx = Array.from({ length: BUCKETS }, () => new SortedIndex());
  private readonly expiry = new Map<string, number>();

  /** The user is ACTIVE (and so no longer a PENDING-only user). */
  active(userId: string): void {
    this.remove(userId);
    this.activeIdx[bucketOf(userId)]!.add(indexMember(userId));
  }

  /** The user is PENDING only, until `expiresAt`. */
  pending(userId: string, expiresAt: number): void {
    const b = bucketOf(userId);
    const m = indexMember(userId);
    this.activeIdx[b]!.delete(m);
    this.pendingIdx[b]!.add(m);
    this.expiry.set(userId, expiresAt);
  }

  remove(userId: string): void {
    const b = bucketOf(userId);
    const m = indexMember(userId);
    this.activeIdx[b]!.delete(m);
    this.pendingIdx[b]!.delete(m);
    this.expiry.delete(userId);
  }

  /** PENDING-only users whose enrollment lapsed leave the indexes. */
  dropLapsed(now: number): void {
    for (const [id, at] of this.expiry) if (at <= now) this.remove(id);
  }

  /** index.lua, in process. */
  range(req: { bucket: number; after: string | null; count: number; status: EnrollmentStatus | null }): IndexSlice {
    return {
      active: req.status === 'PENDING' ? [] : this.activeIdx[req.bucket]!.after(req.after, req.count),
      pending: req.status === 'ACTIVE' ? [] : this.pendingIdx[req.bucket]!.after(req.after, req.count),
    };
  }
}
