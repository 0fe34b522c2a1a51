/** Float64 references for ops/norm.ts; rows are the last axis of length D. */

export function refRmsnorm(x: ArrayLike<number>, w: ArrayLike<number>, D: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r * D < x.length; r++) {
    let q = 0;
    for (let j = 0; j < D; j++) q += x[r * D + j] ** 2;
    const rstd = 1 / Math.sqrt(q / D + eps);
    for (let j = 0; j < D; j++) out[r * D + j] = x[r * D + j] * rstd * w[j];
  }
  return out;
}

export function refLayernorm(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, D: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r * D < x.length; r++) {
    let m = 0;
    for (let j = 0; j < D; j++) m += x[r * D + j];
    m /= D;
    let v = 0;
    for (let j = 0; j < D; j++) v += (x[r * D + j] - m) ** 2;
    const rstd = 1 / Math.sqrt(v / D + eps);
    for (let j = 0; j < D; j++) out[r * D + j] = (x[r * D + j] - m) * rstd * w[j] + b[j];
  }
  return out;
}

export function refL2normalize(x: ArrayLike<number>, D: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r * D < x.length; r++) {
    let q = 0;
    for (let j = 0; j < D; j++) q += x[r * D + j] ** 2;
    const s = 1 / Math.max(Math.sqrt(q), eps);
    for (let j = 0; j < D; j++) out[r * D + j] = x[r * D + j] * s;
  }
  return out;
}
