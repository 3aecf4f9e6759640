/** How many times each value occurs: the outcomes of a burst, say ({ ACCEPTED: 1, REPLAYED: 49 }). */
export const tally = (values: readonly string[]): Record<string, number> =>
  values.reduce<Record<string, number>>((t, v) => ({ ...t, [v]: (t[v] ?? 0) + 1 }), {});
