/**
 * Summaries of repeated timings shared by the benches. The median, not the mean: on a
 * shared machine other processes only ever add time, in bursts.
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of no timings');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
