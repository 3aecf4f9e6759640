/**
 * A set of strings kept in byte order: the embedded store's mirror of a Redis sorted set whose
 * members all score 0 (read with ZRANGE … BYLEX). Members are base64url (ASCII), so JavaScript's
 * string order is their byte order.
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
