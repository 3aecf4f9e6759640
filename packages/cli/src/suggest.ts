/**
 * "Did you mean …?" for a mistyped command or flag name. Pure: the candidates come in, the best
 * one (or none) comes out.
 */

/**
 * Optimal string alignment distance: Levenshtein's insertions, deletions and substitutions, plus
 * the swap of two adjacent characters as one edit, the commonest typo (`rekye` → `rekey`).
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate that `typed` most likely meant, or undefined when none is close enough to be a
 * typo of it: the same word in another case, the only candidate that starts with it (`recovery`
 * → `recovery-codes`), or the nearest one within an edit per three characters typed (at least
 * one). An unrelated word (`bogus`) gets no suggestion rather than a random command.
 */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  const word = typed.toLowerCase();
  if (word === '') return undefined;
  const same = candidates.find((c) => c.toLowerCase() === word);
  if (same !== undefined) return same;
  const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(word));
  if (word.length >= 2 && prefixed.length === 1) return prefixed[0];
  const allowed = Math.max(1, Math.floor(word.length / 3));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate.toLowerCase());
    if (distance <= allowed && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}
