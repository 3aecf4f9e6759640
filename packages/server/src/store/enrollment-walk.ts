import { InvalidInputError } from '@totp-service/core';
import { BUCKETS, memberId } from './keys.js';
import type { EnrollmentStatus, IndexSlice, Page, UserRecord } from './store.js';

/**
 * Walking the enrollments, the same way for both stores: listing them (totpEnrollments) and
 * visiting every user (rekeyTotp), from the per-bucket indexes, never from KEYS or SCAN, so it
 * works the same on a Redis Cluster. The 32 buckets are merged in the byte order of their members
 * (the user ids in base64url, a UUID's bytes after a mark: keys.ts), and a page goes on after the
 * last member it returned. A member's place in that order never changes, so paging is stable
 * under concurrent enrollments and revocations: every user enrolled from the first page to the
 * last is listed exactly once.
 */

/** What a store provides: both of one bucket's indexes read at one instant, and a user's record. */
export interface IndexSource {
  indexRange(req: { bucket: number; after: string | null; count: number; status: EnrollmentStatus | null }): Promise<IndexSlice>;
  getUser(userId: string, now: number): Promise<UserRecord | null>;
}

/** A listing position (an index member: keys.ts), as a cursor may hold it. */
const MEMBER = /^[.~]?[A-Za-z0-9_-]{1,400}$/;

/** Members one request may examine before it returns a partial page (bounds the work). */
export const LIST_SCAN_BUDGET = 10_000;

/** One bucket's members in order, fetched in growing batches; both indexes read at one instant. */
export class BucketWalk {
  private buffer: string[] = [];
  private done = false;

  constructor(
    private readonly store: IndexSource,
    readonly bucket: number,
    private after: string | null,
    private readonly status: EnrollmentStatus | null,
    private batch: number,
    private readonly maxBatch = 1000,
  ) {}

  get needsFetch(): boolean {
    return this.buffer.length === 0 && !this.done;
  }

  async fetch(): Promise<void> {
    const { active, pending } = await this.store.indexRange({ bucket: this.bucket, after: this.after, count: this.batch, status: this.status });
    // a full list may go on past its last member: what the other list holds beyond that waits
    let bound: string | null = null;
    for (const list of [active, pending]) {
      const last = list.at(-1);
      if (list.length >= this.batch && last !== undefined && (bound === null || last < bound)) bound = last;
    }
    const merged = [...new Set([...active, ...pending])].sort();
    this.buffer = bound === null ? merged : merged.filter((m) => m <= bound);
    if (bound === null) this.done = true;
    else this.after = bound;
    this.batch = Math.min(this.batch * 2, this.maxBatch);
  }

  head(): string | undefined {
    return this.buffer[0];
  }

  take(): string {
    return this.buffer.shift()!;
  }

  /** Everything fetched and not yet taken (for walks that go bucket by bucket). */
  drain(): string[] {
    const all = this.buffer;
    this.buffer = [];
    return all;
  }
}

const statusOf = (r: UserRecord): EnrollmentStatus => (r.devices.some((d) => d.active) ? 'ACTIVE' : 'PENDING');

/** Next members in global order, at most `count`. */
async function nextMembers(walks: readonly BucketWalk[], count: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < count) {
    const empty = walks.filter((w) => w.needsFetch);
    if (empty.length > 0) await Promise.all(empty.map((w) => w.fetch()));
    let best: BucketWalk | undefined;
    for (const w of walks) if (w.head() !== undefined && (!best || w.head()! < best.head()!)) best = w;
    if (!best) break;
    out.push(best.take());
  }
  return out;
}

/** One page of enrollments; `endCursor` is the member the next page starts after. */
export async function listEnrollments(
  store: IndexSource,
  q: { status: EnrollmentStatus | null; first: number; after: string | null; now: number },
): Promise<Page<UserRecord>> {
  if (q.after !== null && !MEMBER.test(q.after)) {
    throw new InvalidInputError('after', 'after is not a cursor; pass a pageInfo.endCursor of the same query');
  }
  const want = q.first + 1;
  const batch = Math.min(Math.ceil((want * 2) / BUCKETS) + 4, 1000);
  const walks = Array.from({ length: BUCKETS }, (_, b) => new BucketWalk(store, b, q.after, q.status, batch));
  const found: { member: string; record: UserRecord }[] = [];
  let scanned = 0;
  for (;;) {
    const members = await nextMembers(walks, want - found.length);
    if (members.length === 0) break;
    // a member whose record is gone (revoked, lapsed) or whose status changed since is skipped
    const records = await Promise.all(members.map((m) => store.getUser(memberId(m), q.now)));
    members.forEach((member, i) => {
      const record = records[i];
      if (record && (q.status === null || statusOf(record) === q.status)) found.push({ member, record });
    });
    scanned += members.length;
    if (found.length >= want) break;
    if (scanned >= LIST_SCAN_BUDGET) {
      return { nodes: found.map((f) => f.record), endCursor: members.at(-1)!, hasNextPage: true };
    }
  }
  const page = found.slice(0, q.first);
  return {
    nodes: page.map((f) => f.record),
    endCursor: page.at(-1)?.member ?? q.after,
    hasNextPage: found.length > q.first,
  };
}

/** Every enrolled user's id, bucket by bucket, in batches of about `batch` (rekeyTotp's walk). */
export async function* userIdBatches(store: IndexSource, batch: number): AsyncGenerator<string[]> {
  for (let bucket = 0; bucket < BUCKETS; bucket++) {
    const walk = new BucketWalk(store, bucket, null, null, batch, batch);
    for (;;) {
      if (walk.needsFetch) await walk.fetch();
      const members = walk.drain();
      if (members.length === 0) break;
      yield members.map(memberId);
    }
  }
}
