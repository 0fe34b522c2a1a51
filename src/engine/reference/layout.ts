/** Float64 references for ops/layout.ts. */

/** out[p, b, a, c] = x[p, a, b, c] for x viewed as [P, A, B, C]. */
export function refSwap(x: ArrayLike<number>, A: number, B: number, C: number): Float64Array {
  const out = new Float64Array(x.length);
  const P = x.length / (A * B * C);
  for (let p = 0; p < P; p++)
    for (let a = 0; a < A; a++)
      for (let b = 0; b < B; b++)
        for (let c = 0; c < C; c++) out[((p * B + b) * A + a) * C + c] = x[((p * A + a) * B + b) * C + c];
  return out;
}

/** Concatenation of [outer, w_i] blocks along the second axis. */
export function refConcat(xs: ArrayLike<number>[], outer: number): Float64Array {
  const widths = xs.map((x) => x.length / outer);
  const row = widths.reduce((a, b) => a + b, 0);
  const out = new Float64Array(outer * row);
  for (let o = 0; o < outer; o++) {
    let off = 0;
    xs.forEach((x, i) => {
      for (let j = 0; j < widths[i]; j++) out[o * row + off + j] = x[o * widths[i] + j];
      off += widths[i];
    });
  }
  return out;
}

/** Columns [start, end) of x viewed as [outer, row]. */
export function refSliceCols(x: ArrayLike<number>, outer: number, start: number, end: number): Float64Array {
  const row = x.length / outer;
  const w = end - start;
  const out = new Float64Array(outer * w);
  for (let o = 0; o < outer; o++) for (let j = 0; j < w; j++) out[o * w + j] = x[o * row + start + j];
  return out;
}
