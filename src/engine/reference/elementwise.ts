/** Float64 references for ops/elementwise.ts. */

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export const refUnary = {
  neg: (v: number) => -v,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  tanh: Math.tanh,
  sigmoid: (v: number) => 1 / (1 + Math.exp(-v)),
  relu: (v: number) => Math.max(v, 0),
  gelu: (v: number) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))),
  silu: (v: number) => v / (1 + Math.exp(-v)),
  square: (v: number) => v * v,
} satisfies Record<string, (v: number) => number>;

export function refMap(x: ArrayLike<number>, f: (v: number) => number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return out;
}

/** numpy-broadcast binary op; returns the values and the broadcast shape. */
export function refBinary(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  f: (x: number, y: number) => number,
): { out: Float64Array; shape: number[] } {
  const rank = Math.max(aShape.length, bShape.length);
  const pad = (s: readonly number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const as = pad(aShape);
  const bs = pad(bShape);
  const shape = as.map((d, i) => Math.max(d, bs[i]));
  const n = shape.reduce((x, y) => x * y, 1);
  const out = new Float64Array(n);
  const idx = (s: number[], coords: number[]) => coords.reduce((acc, c, i) => acc * s[i] + (s[i] === 1 ? 0 : c), 0);
  const coords = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let r = i;
    for (let k = rank - 1; k >= 0; k--) {
      coords[k] = r % shape[k];
      r = Math.floor(r / shape[k]);
    }
    out[i] = f(a[idx(as, coords)], b[idx(bs, coords)]);
  }
  return { out, shape };
}

export function refSwiglu(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = refUnary.silu(a[i]) * b[i];
  return out;
}
