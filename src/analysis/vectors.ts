/**
 * Flat row-major point sets shared by t-SNE, DBSCAN and the progress reward. Embeddings
 * come out of the model as one Float32Array per batch, so every function here takes
 * (data, n, dim) instead of arrays of arrays: no copies, and the same call works on a
 * buffer a worker received by transfer.
 */

/** Input-space distance. Cosine distance is 1 - cos(a, b), as in scikit-learn. */
export type Metric = 'euclidean' | 'cosine';

/** Throws unless `data` holds exactly n rows of `dim` finite numbers. */
export function checkPoints(data: ArrayLike<number>, n: number, dim: number, name = 'data'): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name}: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${name}: dim must be a positive integer, got ${dim}`);
  if (data.length !== n * dim) {
    throw new RangeError(`${name}: expected n * dim = ${n} * ${dim} = ${n * dim} values, got ${data.length}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new RangeError(`${name}: value ${i} (row ${Math.floor(i / dim)}) is not finite: ${data[i]}`);
    }
  }
}

export function checkMetric(metric: string, name = 'metric'): asserts metric is Metric {
  if (metric !== 'euclidean' && metric !== 'cosine') {
    throw new RangeError(`${name} must be 'euclidean' or 'cosine', got '${metric}'`);
  }
}

/**
 * Copies the rows into a Float64Array; for the cosine metric every row is scaled to unit
 * length, so that afterwards 1 - cos(a, b) = |a - b|^2 / 2 and all distance work can use
 * the dot-product form. A zero row has no direction, which cosine distance cannot handle.
 */
export function prepareRows(data: ArrayLike<number>, n: number, dim: number, metric: Metric, name = 'data'): Float64Array {
  const x = Float64Array.from(data as ArrayLike<number>);
  if (metric === 'cosine') {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += x[i * dim + k] * x[i * dim + k];
      if (s === 0) throw new RangeError(`${name}: row ${i} is all zeros, so its cosine distance is undefined`);
      const inv = 1 / Math.sqrt(s);
      for (let k = 0; k < dim; k++) x[i * dim + k] *= inv;
    }
  }
  return x;
}

/** Squared euclidean distance between row i of a and row j of b. */
export function sqDist(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, dim: number): number {
  let s = 0;
  const oi = i * dim;
  const oj = j * dim;
  for (let k = 0; k < dim; k++) {
    const d = a[oi + k] - b[oj + k];
    s += d * d;
  }
  return s;
}

/**
 * Distance between rows already passed through prepareRows: euclidean distance, or
 * cosine distance 1 - cos (= |a - b|^2 / 2 for unit rows).
 */
export function rowDistance(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, dim: number, metric: Metric): number {
  const s = sqDist(a, i, b, j, dim);
  return metric === 'cosine' ? s / 2 : Math.sqrt(s);
}
