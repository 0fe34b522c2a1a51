/** Float64 references for ops/reduce.ts; `cols` is the length of the last axis. */

export function refRowReduce(x: ArrayLike<number>, cols: number, f: (row: number[]) => number): Float64Array {
  const rows = cols === 0 ? 0 : x.length / cols;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) out[r] = f(Array.from({ length: cols }, (_, j) => x[r * cols + j]));
  return out;
}

export const refSum = (row: number[]): number => row.reduce((a, b) => a + b, 0);
export const refMean = (row: number[]): number => refSum(row) / row.length;
export const refMax = (row: number[]): number => Math.max(...row);
export function refLogsumexp(row: number[]): number {
  const m = Math.max(...row);
  return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
}

export function refSoftmax(x: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r * cols < x.length; r++) {
    const row = Array.from({ length: cols }, (_, j) => x[r * cols + j]);
    const lse = refLogsumexp(row);
    for (let j = 0; j < cols; j++) out[r * cols + j] = Math.exp(row[j] - lse);
  }
  return out;
}

/** Sums x (shape xShape) down to `shape` (numpy broadcasting in reverse). */
export function refSumTo(x: ArrayLike<number>, xShape: readonly number[], shape: readonly number[]): Float64Array {
  const rank = xShape.length;
  const ts = [...new Array<number>(rank - shape.length).fill(1), ...shape];
  const n = ts.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const coords = new Array<number>(rank).fill(0);
  for (let i = 0; i < x.length; i++) {
    let r = i;
    for (let k = rank - 1; k >= 0; k--) {
      coords[k] = r % xShape[k];
      r = Math.floor(r / xShape[k]);
    }
    const o = coords.reduce((acc, c, k) => acc * ts[k] + (ts[k] === 1 ? 0 : c), 0);
    out[o] += x[i];
  }
  return out;
}
