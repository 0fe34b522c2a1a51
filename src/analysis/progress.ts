/**
 * SRPO world-progress reward (SRPO Sec. 3.2, Eqs. 2-5; benchmark construction in
 * App. A.3). Successful trajectories' latent embeddings are clustered with DBSCAN; the
 * reward of a failed trajectory grows as its embedding approaches the nearest cluster
 * centre.
 *
 * Choices where the paper is vague (see docs/analysis.md):
 *  - Eq. 5 writes phi((d_i - mean d) / std d) although the text says a smaller distance
 *    gives a larger reward; we use phi(-(d_i - mean d) / std d) so the stated behaviour
 *    holds. phi is alpha * sigmoid, alpha = 0.8 (App. D and F.2: "progress reward
 *    weight 0.8"; success trajectories get 1.0). std is the population std over the
 *    failed trajectories of the group, as the group statistics of Eq. 9.
 *  - DBSCAN's eps and minPts are not given. minPts defaults to 4 (Ester et al.'s
 *    recommendation); eps defaults to the 0.9 quantile of every success embedding's
 *    distance to its (minPts - 1)-th nearest other one, so about 90% of points are core.
 *  - When DBSCAN finds no cluster (few successes, all noise) the mean of all success
 *    embeddings is the single centre, so a reward can still be computed.
 */
import { dbscan, type DbscanResult } from './dbscan';
import { checkMetric, checkPoints, prepareRows, rowDistance, type Metric } from './vectors';

export interface SuccessCentresOptions {
  /** DBSCAN radius; default from the k-distance quantile (see file comment). */
  eps?: number;
  /** Default 4 (capped at the number of success embeddings). */
  minPts?: number;
  /** Quantile of k-distances used for the default eps. Default 0.9. */
  epsQuantile?: number;
  metric?: Metric;
}

export interface SuccessCentres {
  /** nCentres x dim row-major. */
  centres: Float64Array;
  nCentres: number;
  dim: number;
  metric: Metric;
  /** The eps DBSCAN ran with. */
  eps: number;
  clustering: DbscanResult;
  /** True when DBSCAN found no cluster and the mean of all successes is the centre. */
  fallback: boolean;
}

function quantile(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** SRPO Eq. 3: C = DBSCAN(S) over the success embeddings (n x dim). */
export function successCentres(success: ArrayLike<number>, n: number, dim: number, opts: SuccessCentresOptions = {}): SuccessCentres {
  checkPoints(success, n, dim, 'success');
  const metric = opts.metric ?? 'euclidean';
  checkMetric(metric, 'opts.metric');
  const minPts = Math.min(opts.minPts ?? 4, n);
  if (!Number.isInteger(minPts) || minPts < 1) throw new RangeError(`opts.minPts must be a positive integer, got ${opts.minPts}`);
  const q = opts.epsQuantile ?? 0.9;
  if (!(q > 0 && q <= 1)) throw new RangeError(`opts.epsQuantile must be in (0, 1], got ${q}`);
  let eps = opts.eps;
  if (eps === undefined) {
    const x = prepareRows(success, n, dim, metric, 'success');
    const kd = new Float64Array(n);
    const row = new Float64Array(n - 1);
    for (let i = 0; i < n; i++) {
      let t = 0;
      for (let j = 0; j < n; j++) if (j !== i) row[t++] = rowDistance(x, i, x, j, dim, metric);
      row.sort();
      // minPts counts the point itself, so a core point needs minPts - 1 others within eps.
      kd[i] = minPts >= 2 ? row[minPts - 2] : 0;
    }
    kd.sort();
    eps = quantile(kd, q);
    // All successes coincide: any positive radius clusters them.
    if (!(eps > 0)) eps = 1e-12;
  }
  const clustering = dbscan(success, n, dim, { eps, minPts, metric });
  if (clustering.nClusters > 0) {
    return { centres: clustering.centres, nCentres: clustering.nClusters, dim, metric, eps, clustering, fallback: false };
  }
  const x = prepareRows(success, n, dim, metric, 'success');
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] += x[i * dim + k] / n;
  return { centres: mean, nCentres: 1, dim, metric, eps, clustering, fallback: true };
}

/**
 * SRPO Eq. 4 for each row: d_i = min_c |h_i - c|^2 (squared euclidean), or, with the
 * cosine metric, the smallest cosine distance 1 - cos. `squared: false` gives the plain
 * L2 distance used by the benchmark curves of App. A.3.
 */
export function nearestCentreDistance(points: ArrayLike<number>, n: number, centres: SuccessCentres, squared = true): Float64Array {
  checkPoints(points, n, centres.dim, 'points');
  const { dim, metric } = centres;
  const x = prepareRows(points, n, dim, metric, 'points');
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let c = 0; c < centres.nCentres; c++) {
      let d = rowDistance(x, i, centres.centres, c, dim, metric);
      if (metric === 'euclidean' && squared) d *= d;
      if (d < best) best = d;
    }
    out[i] = best;
  }
  return out;
}

export interface SrpoRewardOptions {
  /** Scale of the sigmoid: the most a failed trajectory can earn. Default 0.8. */
  alpha?: number;
}

/**
 * SRPO Eq. 5 for the failed trajectories of one group: given their distances d_i (Eq. 4),
 * g_i = alpha * sigmoid(-(d_i - mean d) / std d). Equal distances (or a single failure)
 * give z = 0, i.e. alpha / 2 each. Successful trajectories get 1.0 (not computed here).
 */
export function srpoFailureRewards(distances: ArrayLike<number>, opts: SrpoRewardOptions = {}): Float64Array {
  const alpha = opts.alpha ?? 0.8;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`opts.alpha must be in [0, 1], got ${alpha}`);
  const m = distances.length;
  const out = new Float64Array(m);
  if (m === 0) return out;
  let mean = 0;
  for (let i = 0; i < m; i++) {
    if (!Number.isFinite(distances[i]) || distances[i] < 0) throw new RangeError(`distances[${i}] must be a finite non-negative number, got ${distances[i]}`);
    mean += distances[i] / m;
  }
  let v = 0;
  for (let i = 0; i < m; i++) v += (distances[i] - mean) ** 2 / m;
  const sd = Math.sqrt(v);
  for (let i = 0; i < m; i++) {
    const z = sd > 0 ? (distances[i] - mean) / sd : 0;
    out[i] = alpha / (1 + Math.exp(z));
  }
  return out;
}

/**
 * Rewards for one GRPO group: 1.0 for each successful trajectory, Eq. 5 for the failed
 * ones, from each trajectory's embedding (rows of `embeddings`, m x dim) and the success
 * centres.
 */
export function srpoGroupRewards(
  embeddings: ArrayLike<number>,
  success: ArrayLike<boolean>,
  centres: SuccessCentres,
  opts: SrpoRewardOptions = {},
): Float64Array {
  const m = success.length;
  checkPoints(embeddings, m, centres.dim, 'embeddings');
  const d = nearestCentreDistance(embeddings, m, centres);
  const failedIdx: number[] = [];
  for (let i = 0; i < m; i++) if (!success[i]) failedIdx.push(i);
  const failedRewards = srpoFailureRewards(failedIdx.map((i) => d[i]), opts);
  const out = new Float64Array(m).fill(1);
  failedIdx.forEach((i, t) => (out[i] = failedRewards[t]));
  return out;
}

export type ProgressNormalisation = 'zero-anchored' | 'min-max';

/**
 * Per-frame progress curve of one trajectory (SRPO App. A.3, "Reward construction"):
 * d_t = min L2 distance from frame t's embedding (T x dim) to the reference points
 * (the success centres, or the whole-video embedding as a single centre).
 *  - 'zero-anchored' (failure trajectories): r_t = 1 - d_t / max_t d_t, so the farthest
 *    frame is 0 and zero distance would be 1.
 *  - 'min-max' (success trajectories): r_t = (max d - d_t) / (max d - min d), so the
 *    farthest frame is 0 and the nearest 1.
 * A trajectory whose distances are all 0 is at the goal throughout: all ones. With
 * 'min-max' and all distances equal but non-zero there is no range to normalise by and
 * the zero-anchored formula is used (all zeros).
 */
export function progressCurve(frames: ArrayLike<number>, T: number, centres: SuccessCentres, normalisation: ProgressNormalisation): Float64Array {
  if (normalisation !== 'zero-anchored' && normalisation !== 'min-max') {
    throw new RangeError(`normalisation must be 'zero-anchored' or 'min-max', got '${normalisation}'`);
  }
  const d = nearestCentreDistance(frames, T, centres, false);
  let dmin = Infinity;
  let dmax = 0;
  for (const v of d) {
    if (v < dmin) dmin = v;
    if (v > dmax) dmax = v;
  }
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    if (dmax === 0) out[t] = 1;
    else if (normalisation === 'min-max' && dmax > dmin) out[t] = (dmax - d[t]) / (dmax - dmin);
    else out[t] = 1 - d[t] / dmax;
  }
  return out;
}
