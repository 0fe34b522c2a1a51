/** Float64 reference for ops/xent.ts: weighted mean (or sum) NLL over rows with 0 <= target < V. */
export function refCrossEntropy(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  V: number,
  weights?: ArrayLike<number>,
  reduction: 'mean' | 'sum' = 'mean',
): number {
  let total = 0;
  let count = 0;
  for (let r = 0; r < targets.length; r++) {
    const t = targets[r];
    if (!(t >= 0 && t < V)) continue;
    let m = -Infinity;
    for (let j = 0; j < V; j++) m = Math.max(m, logits[r * V + j]);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[r * V + j] - m);
    const w = weights ? weights[r] : 1;
    total += w * (m + Math.log(s) - logits[r * V + t]);
    count += w;
  }
  if (reduction === 'sum') return total;
  return count === 0 ? 0 : total / count;
}
