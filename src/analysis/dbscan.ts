/**
 * DBSCAN (Ester et al. 1996), used by the SRPO progress reward (SRPO Eq. 3) to find the
 * representative "success strategies" among successful trajectories' embeddings.
 * Neighbourhoods are found by brute force: SRPO clusters at most a few thousand success
 * embeddings per task, where O(n^2 dim) is milliseconds and an index would not pay off.
 */
import { checkMetric, checkPoints, prepareRows, rowDistance, type Metric } from './vectors';

export interface DbscanOptions {
  /** Neighbourhood radius, in the metric's units (euclidean distance, or 1 - cos). */
  eps: number;
  /** Points (the point itself included, as in scikit-learn) a neighbourhood needs for a core point. */
  minPts: number;
  metric?: Metric;
}

export interface DbscanResult {
  /** Cluster id per point, 0..nClusters-1, or -1 for noise. */
  labels: Int32Array;
  nClusters: number;
  /** True for core points. */
  core: Uint8Array;
  /** Member count per cluster. */
  sizes: number[];
  /**
   * Cluster centres, nClusters x dim row-major: the mean of the members. With the cosine
   * metric the mean of the unit-length members, scaled back to unit length.
   */
  centres: Float64Array;
}

export function dbscan(data: ArrayLike<number>, n: number, dim: number, opts: DbscanOptions): DbscanResult {
  checkPoints(data, n, dim);
  const metric = opts.metric ?? 'euclidean';
  checkMetric(metric, 'opts.metric');
  if (!(Number.isFinite(opts.eps) && opts.eps > 0)) throw new RangeError(`opts.eps must be a positive finite number, got ${opts.eps}`);
  if (!Number.isInteger(opts.minPts) || opts.minPts < 1) throw new RangeError(`opts.minPts must be a positive integer, got ${opts.minPts}`);
  const x = prepareRows(data, n, dim, metric);

  const neighbours: Int32Array[] = [];
  const buf: number[] = [];
  for (let i = 0; i < n; i++) {
    buf.length = 0;
    for (let j = 0; j < n; j++) if (rowDistance(x, i, x, j, dim, metric) <= opts.eps) buf.push(j);
    neighbours.push(Int32Array.from(buf));
  }
  const core = new Uint8Array(n);
  for (let i = 0; i < n; i++) core[i] = neighbours[i].length >= opts.minPts ? 1 : 0;

  // Expand clusters from core points in index order; a border point joins the first
  // cluster that reaches it (the usual, order-dependent DBSCAN convention).
  const labels = new Int32Array(n).fill(-1);
  let nClusters = 0;
  const queue: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!core[i] || labels[i] !== -1) continue;
    const c = nClusters++;
    labels[i] = c;
    queue.length = 0;
    queue.push(i);
    for (let h = 0; h < queue.length; h++) {
      const p = queue[h];
      if (!core[p]) continue;
      for (const q of neighbours[p]) {
        if (labels[q] !== -1) continue;
        labels[q] = c;
        queue.push(q);
      }
    }
  }

  const sizes = new Array<number>(nClusters).fill(0);
  const centres = new Float64Array(nClusters * dim);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (c < 0) continue;
    sizes[c]++;
    for (let k = 0; k < dim; k++) centres[c * dim + k] += x[i * dim + k];
  }
  for (let c = 0; c < nClusters; c++) {
    let norm = 0;
    for (let k = 0; k < dim; k++) {
      centres[c * dim + k] /= sizes[c];
      norm += centres[c * dim + k] ** 2;
    }
    if (metric === 'cosine' && norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let k = 0; k < dim; k++) centres[c * dim + k] *= inv;
    }
  }
  return { labels, nClusters, core, sizes, centres };
}
