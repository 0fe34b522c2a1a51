/**
 * t-SNE's input affinities P (tsne.ts): the per-point perplexity calibration, and P built
 * densely (exact mode) or sparsely over the k nearest neighbours (Barnes-Hut mode). Kept
 * apart from the optimiser because P is computed once, before any gradient step, and
 * depends only on the input rows, never on the embedding.
 */
import { sqDist, type Metric } from './vectors';

/** Smallest probability kept in P and Q, as MACHINE_EPSILON in scikit-learn. */
export const P_FLOOR = 2.220446049250313e-16;

/**
 * Finds the Gaussian precision beta for one point so that the conditional distribution
 * p_j|i ∝ exp(-beta d_j) has entropy log(perplexity) (natural log), by bisection as in
 * scikit-learn's _binary_search_perplexity. Distances are shifted by their minimum before
 * exponentiating: the normalised distribution is unchanged and nothing underflows when
 * all distances are large. Writes the normalised row into `out`.
 */
export function calibrateRow(dist: ArrayLike<number>, count: number, perplexity: number, out: Float64Array, outOffset = 0): number {
  const target = Math.log(perplexity);
  let dmin = Infinity;
  for (let j = 0; j < count; j++) if (dist[j] < dmin) dmin = dist[j];
  let beta = 1;
  let lo = -Infinity;
  let hi = Infinity;
  for (let iter = 0; iter < 200; iter++) {
    let sum = 0;
    let sumDP = 0;
    for (let j = 0; j < count; j++) {
      const d = dist[j] - dmin;
      const p = Math.exp(-beta * d);
      out[outOffset + j] = p;
      sum += p;
      sumDP += d * p;
    }
    const entropy = Math.log(sum) + (beta * sumDP) / sum;
    const diff = entropy - target;
    for (let j = 0; j < count; j++) out[outOffset + j] /= sum;
    if (Math.abs(diff) <= 1e-5) break;
    if (diff > 0) {
      lo = beta;
      beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
    } else {
      hi = beta;
      beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
    }
  }
  return beta;
}

/** Input-space dissimilarity used for the affinities: squared euclidean, or 1 - cos on unit rows. */
function affinityDistance(x: Float64Array, i: number, j: number, dim: number, metric: Metric): number {
  const s = sqDist(x, i, x, j, dim);
  return metric === 'cosine' ? s / 2 : s;
}

/** Max-heap of (distance, index) of fixed capacity, for k-nearest-neighbour selection. */
function kNearest(x: Float64Array, n: number, dim: number, metric: Metric, k: number, outIdx: Int32Array, outDist: Float64Array): void {
  const hd = new Float64Array(k);
  const hi = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    let size = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = affinityDistance(x, i, j, dim, metric);
      if (size < k) {
        // sift up
        let c = size++;
        while (c > 0) {
          const p = (c - 1) >> 1;
          if (hd[p] >= d) break;
          hd[c] = hd[p];
          hi[c] = hi[p];
          c = p;
        }
        hd[c] = d;
        hi[c] = j;
      } else if (d < hd[0]) {
        // replace the root and sift down
        let c = 0;
        for (;;) {
          const l = 2 * c + 1;
          if (l >= k) break;
          const r = l + 1;
          const m = r < k && hd[r] > hd[l] ? r : l;
          if (hd[m] <= d) break;
          hd[c] = hd[m];
          hi[c] = hi[m];
          c = m;
        }
        hd[c] = d;
        hi[c] = j;
      }
    }
    for (let t = 0; t < k; t++) {
      outIdx[i * k + t] = hi[t];
      outDist[i * k + t] = hd[t];
    }
  }
}

/** Symmetric sparse P in CSR form (rows sorted by column, no duplicates), summing to 1. */
export interface SparseP {
  rowPtr: Int32Array;
  col: Int32Array;
  val: Float64Array;
}

function symmetrizeSparse(n: number, k: number, idx: Int32Array, cond: Float64Array): SparseP {
  // Every conditional p_j|i contributes to both (i, j) and (j, i); merge duplicates per row.
  const counts = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      counts[i + 1]++;
      counts[idx[i * k + t] + 1]++;
    }
  }
  for (let i = 0; i < n; i++) counts[i + 1] += counts[i];
  const fill = counts.slice(0, n);
  const cols = new Int32Array(counts[n]);
  const vals = new Float64Array(counts[n]);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = idx[i * k + t];
      const v = cond[i * k + t];
      cols[fill[i]] = j;
      vals[fill[i]++] = v;
      cols[fill[j]] = i;
      vals[fill[j]++] = v;
    }
  }
  const rowPtr = new Int32Array(n + 1);
  const outCol: number[] = [];
  const outVal: number[] = [];
  const order: number[] = [];
  const scale = 1 / (2 * n);
  for (let i = 0; i < n; i++) {
    order.length = 0;
    for (let e = counts[i]; e < counts[i + 1]; e++) order.push(e);
    order.sort((a, b) => cols[a] - cols[b]);
    let last = -1;
    for (const e of order) {
      if (cols[e] === last) {
        outVal[outVal.length - 1] += vals[e] * scale;
      } else {
        outCol.push(cols[e]);
        outVal.push(vals[e] * scale);
        last = cols[e];
      }
    }
    rowPtr[i + 1] = outCol.length;
  }
  return { rowPtr, col: Int32Array.from(outCol), val: Float64Array.from(outVal) };
}

/** P and its constant sum p log p (the entropy term of the KL divergence). */
export interface Affinities<T> {
  p: T;
  entropyTerm: number;
}

/** Dense symmetric P [n * n] for exact mode, floored at P_FLOOR off the diagonal. */
export function denseAffinities(x: Float64Array, n: number, dim: number, metric: Metric, perplexity: number): Affinities<Float64Array> {
  const cond = new Float64Array(n * n);
  const dist = new Float64Array(n - 1);
  const row = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    let t = 0;
    for (let j = 0; j < n; j++) if (j !== i) dist[t++] = affinityDistance(x, i, j, dim, metric);
    calibrateRow(dist, n - 1, perplexity, row);
    t = 0;
    for (let j = 0; j < n; j++) if (j !== i) cond[i * n + j] = row[t++];
  }
  const p = new Float64Array(n * n);
  let ent = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const v = Math.max((cond[i * n + j] + cond[j * n + i]) / (2 * n), P_FLOOR);
      p[i * n + j] = v;
      ent += v * Math.log(v);
    }
  }
  return { p, entropyTerm: ent };
}

/** Sparse symmetric P over each point's 3 * perplexity nearest neighbours, for Barnes-Hut mode. */
export function sparseAffinities(x: Float64Array, n: number, dim: number, metric: Metric, perplexity: number): Affinities<SparseP> {
  // Three perplexities of neighbours hold essentially all the Gaussian mass (van der Maaten 2014).
  const k = Math.min(n - 1, Math.floor(3 * perplexity) + 1);
  const idx = new Int32Array(n * k);
  const dist = new Float64Array(n * k);
  kNearest(x, n, dim, metric, k, idx, dist);
  const cond = new Float64Array(n * k);
  for (let i = 0; i < n; i++) calibrateRow(dist.subarray(i * k, (i + 1) * k), k, perplexity, cond, i * k);
  const p = symmetrizeSparse(n, k, idx, cond);
  let ent = 0;
  for (const v of p.val) if (v > 0) ent += v * Math.log(v);
  return { p, entropyTerm: ent };
}
