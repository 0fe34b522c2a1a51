/** Float64 reference for ops/embedding.ts: out[m, :] = x[ids[m], :] with rows of length D. */
export function refGatherRows(x: ArrayLike<number>, ids: ArrayLike<number>, D: number): Float64Array {
  const out = new Float64Array(ids.length * D);
  for (let m = 0; m < ids.length; m++) for (let d = 0; d < D; d++) out[m * D + d] = x[ids[m] * D + d];
  return out;
}
