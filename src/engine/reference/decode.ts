/**
 * Float64 reference of decode attention (ops/decode.ts): q [R, S, H, D] against the
 * caches [C, L, H, D]; query s of row r sees keys [0, lens[r] - S + s] of cache row
 * rows[r]. A plain two-pass softmax, so it shares no code path with the kernel's online
 * softmax.
 */
export interface DecodeRefInputs {
  q: ArrayLike<number>;
  kCache: ArrayLike<number>;
  vCache: ArrayLike<number>;
  rows: ArrayLike<number>;
  lens: ArrayLike<number>;
  /** S, new tokens per row. */
  queries: number;
  heads: number;
  headDim: number;
  capacity: number;
}

export function decodeAttentionRef(a: DecodeRefInputs): Float64Array {
  const { queries: S, heads: H, headDim: D, capacity: L } = a;
  const R = a.rows.length;
  if (a.q.length !== R * S * H * D) throw new RangeError(`decode reference: q has ${a.q.length} values, expected R*S*H*D = ${R * S * H * D}`);
  const o = new Float64Array(R * S * H * D);
  const scale = 1 / Math.sqrt(D);
  for (let r = 0; r < R; r++) {
    const row = a.rows[r];
    for (let s = 0; s < S; s++) {
      const visible = a.lens[r] - S + s + 1;
      if (visible < 1 || a.lens[r] > L) throw new RangeError(`decode reference: row ${r} has lens ${a.lens[r]} (S = ${S}, capacity ${L})`);
      for (let h = 0; h < H; h++) {
        const qb = ((r * S + s) * H + h) * D;
        const scores = new Float64Array(visible);
        for (let j = 0; j < visible; j++) {
          const kb = ((row * L + j) * H + h) * D;
          let x = 0;
          for (let c = 0; c < D; c++) x += a.q[qb + c] * a.kCache[kb + c];
          scores[j] = x * scale;
        }
        let m = -Infinity;
        for (const x of scores) m = Math.max(m, x);
        let z = 0;
        for (let j = 0; j < visible; j++) z += Math.exp(scores[j] - m);
        for (let j = 0; j < visible; j++) {
          const p = Math.exp(scores[j] - m) / z;
          const vb = ((row * L + j) * H + h) * D;
          for (let c = 0; c < D; c++) o[qb + c] += p * a.vCache[vb + c];
        }
      }
    }
  }
  return o;
}
