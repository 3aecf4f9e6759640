import { BUCKETS, decodeId } from '../store/keys.js';
import type { EnrollmentStatus, Store, UserRecord } from '../store/store.js';

/**
 * Listing enrollments (totpEnrollments) from the per-bucket indexes, never from KEYS or SCAN, so
 * it works the same on a Redis Cluster. The 32 buckets are merged in the byte order of their
 * members (the user ids in base64url), and a page goes on after the last member it returned. A
 * member's place in that order never changes, so paging is stable under concurrent enrollments
 * and revocations: every user enrolled from the first page to the last is listed exactly once.
 */

/** Members one request may examine before it returns a partial page (bounds the work). */
export const LIST_SCAN_BUDGET = 10_000;

/** One bucket's members in order, fetched in growing batches; both indexes read at one instant. */
export class BucketWalk {
  private buffer: string[] = [];
  private done = false;

  constructor(
    private readonly store: Store,
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

export interface EnrollmentPage {
  readonly nodes: readonly UserRecord[];
  /** The member the next page starts after. */
  readonly endCursor: string | null;
  readonly hasNextPage: boolean;
}

const statusOf = (r: UserRecord): EnrollmentStatus => (r.active ? 'ACTIVE' : 'PENDING');

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

export async function listEnrollments(
  store: Store,
  q: { status: EnrollmentStatus | null; first: number; after: string | null; now: number },
): Promise<EnrollmentPage> {
  const want = q.first + 1;
  const batch = Math.min(Math.ceil((want * 2) / BUCKETS) + 4, 1000);
  const walks = Array.from({ length: BUCKETS }, (_, b) => new BucketWalk(store, b, q.after, q.status, batch));
  const found: { member: string; record: UserRecord }[] = [];
  let scanned = 0;
  for (;;) {
    const members = await nextMembers(walks, want - found.length);
    if (members.length === 0) break;
    // a member whose record is gone (revoked, lapsed) or whose status changed since is skipped
    const records = await Promise.all(members.map((m) => store.getUser(decodeId(m), q.now)));
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
