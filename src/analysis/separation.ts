/**
 * How well an embedding separates labelled groups (tasks, expert phases): the numbers
 * behind a t-SNE picture such as PRTS Fig. 5. They are meant to be computed on the
 * embedding itself (phi) as well as on the 2-D t-SNE map, because t-SNE distorts
 * distances: it keeps neighbourhoods, not cluster sizes or the gaps between clusters.
 *
 * Definitions (also in docs/analysis.md):
 *
 * k-NN accuracy, leave one group out. Chunks of one episode are near-copies of each
 * other (adjacent frames, same scene), so a plain k-NN would be answered by the query's
 * own episode. For each point i, its k nearest points among points of OTHER groups
 * (episodes) vote with their labels; the prediction is the label with the most votes,
 * a tie going to the tied label whose nearest voter is closest (a rule that depends on
 * distances only, so renaming labels never changes the result). Accuracy = fraction of
 * points predicted correctly. Points whose label occurs in no other group cannot be
 * predicted correctly by any embedding and are left out (`excluded`). `chance` is the
 * accuracy of a neighbour drawn uniformly from the eligible points:
 * mean_i |{j in other groups : y_j = y_i}| / |{j in other groups}|.
 *
 * Silhouette (Rousseeuw 1987), as scikit-learn's silhouette_score: for point i with
 * label c, a_i = mean distance to the other points labelled c, b_i = min over labels
 * c' != c of the mean distance to the points labelled c', s_i = (b_i - a_i) / max(a_i, b_i),
 * s_i = 0 when i is the only point labelled c; the score is the mean of s_i over all
 * points, in [-1, 1] (1: tight, far-apart groups; 0: overlapping; < 0: mixed up). It is
 * not leave-one-group-out: same-episode points count in a_i.
 *
 * Distances: `1 - cos` for the cosine metric (scikit-learn's), euclidean otherwise.
 */
import { checkMetric, checkPoints, prepareRows, rowDistance, type Metric } from './vectors';

export interface KnnOptions {
  /** Voters per point. Default 5. */
  k?: number;
  metric?: Metric;
}

export interface KnnResult {
  accuracy: number;
  chance: number;
  /** Points that were classified. */
  n: number;
  /** Points left out because no other group has their label. */
  excluded: number;
  k: number;
}

export interface SeparationMetrics {
  knn: KnnResult;
  silhouette: number;
  /** Points used (labelled ones) and distinct labels among them. */
  n: number;
  labels: number;
}

function checkLabels(values: ArrayLike<number>, n: number, name: string): void {
  if (values.length !== n) throw new RangeError(`${name}: expected ${n} values (one per point), got ${values.length}`);
  for (let i = 0; i < n; i++) if (!Number.isInteger(values[i])) throw new RangeError(`${name}: value ${i} is not an integer: ${values[i]}`);
}

/** All pairwise distances (n x n, symmetric, zero diagonal); fine for the few thousand points of a figure. */
function distanceMatrix(data: ArrayLike<number>, n: number, dim: number, metric: Metric): Float64Array {
  const x = prepareRows(data, n, dim, metric);
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = rowDistance(x, i, x, j, dim, metric);
      d[i * n + j] = v;
      d[j * n + i] = v;
    }
  }
  return d;
}

/** k-NN label accuracy where a point's own group (episode) never votes; see the file comment. */
export function knnAccuracyLeaveGroupOut(
  data: ArrayLike<number>,
  n: number,
  dim: number,
  labels: ArrayLike<number>,
  groups: ArrayLike<number>,
  opts: KnnOptions = {},
): KnnResult {
  checkPoints(data, n, dim);
  checkLabels(labels, n, 'labels');
  checkLabels(groups, n, 'groups');
  const metric = opts.metric ?? 'euclidean';
  checkMetric(metric, 'opts.metric');
  const k = opts.k ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`opts.k must be a positive integer, got ${k}`);
  return knnFromDistances(distanceMatrix(data, n, dim, metric), n, labels, groups, k);
}

function knnFromDistances(d: Float64Array, n: number, labels: ArrayLike<number>, groups: ArrayLike<number>, k: number): KnnResult {
  // Groups holding each label: a label seen in one group only cannot be predicted out of it.
  const groupsOf = new Map<number, Set<number>>();
  for (let i = 0; i < n; i++) {
    let s = groupsOf.get(labels[i]);
    if (!s) groupsOf.set(labels[i], (s = new Set()));
    s.add(groups[i]);
  }
  const groupSize = new Map<number, number>();
  const groupLabel = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    groupSize.set(groups[i], (groupSize.get(groups[i]) ?? 0) + 1);
    const key = `${groups[i]}:${labels[i]}`;
    groupLabel.set(key, (groupLabel.get(key) ?? 0) + 1);
  }
  const labelSize = new Map<number, number>();
  for (let i = 0; i < n; i++) labelSize.set(labels[i], (labelSize.get(labels[i]) ?? 0) + 1);

  let correct = 0;
  let used = 0;
  let chance = 0;
  const nd = new Float64Array(k);
  const ni = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const g = groups[i];
    const y = labels[i];
    if (groupsOf.get(y)!.size < 2) continue;
    const others = n - groupSize.get(g)!;
    // Insertion into a sorted top-k by (distance, index): ties broken by index, never by label.
    let m = 0;
    for (let j = 0; j < n; j++) {
      if (groups[j] === g) continue;
      const v = d[i * n + j];
      if (m === k && v >= nd[m - 1]) continue;
      let p = m < k ? m++ : m - 1;
      while (p > 0 && nd[p - 1] > v) {
        nd[p] = nd[p - 1];
        ni[p] = ni[p - 1];
        p--;
      }
      nd[p] = v;
      ni[p] = j;
    }
    const votes = new Map<number, number>();
    for (let q = 0; q < m; q++) votes.set(labels[ni[q]], (votes.get(labels[ni[q]]) ?? 0) + 1);
    let top = 0;
    for (const v of votes.values()) top = Math.max(top, v);
    // Voters are in distance order, so the first one whose label has the top count wins a tie.
    let pred = labels[ni[0]];
    for (let q = 0; q < m; q++) {
      if (votes.get(labels[ni[q]]) === top) {
        pred = labels[ni[q]];
        break;
      }
    }
    used++;
    if (pred === y) correct++;
    chance += (labelSize.get(y)! - (groupLabel.get(`${g}:${y}`) ?? 0)) / others;
  }
  return { accuracy: used ? correct / used : NaN, chance: used ? chance / used : NaN, n: used, excluded: n - used, k };
}

/** Mean silhouette coefficient of the labelling (scikit-learn's silhouette_score); see the file comment. */
export function silhouetteScore(data: ArrayLike<number>, n: number, dim: number, labels: ArrayLike<number>, metric: Metric = 'euclidean'): number {
  checkPoints(data, n, dim);
  checkLabels(labels, n, 'labels');
  checkMetric(metric, 'metric');
  return silhouetteFromDistances(distanceMatrix(data, n, dim, metric), n, labels);
}

function silhouetteFromDistances(d: Float64Array, n: number, labels: ArrayLike<number>): number {
  const ids = [...new Set(Array.from(labels))];
  if (ids.length < 2 || ids.length > n - 1) throw new RangeError(`silhouette needs between 2 and n - 1 = ${n - 1} distinct labels, got ${ids.length}`);
  const slot = new Map(ids.map((c, s) => [c, s]));
  const size = new Float64Array(ids.length);
  for (let i = 0; i < n; i++) size[slot.get(labels[i])!]++;
  const sums = new Float64Array(ids.length);
  let total = 0;
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    for (let j = 0; j < n; j++) sums[slot.get(labels[j])!] += d[i * n + j];
    const own = slot.get(labels[i])!;
    if (size[own] < 2) continue; // s_i = 0
    const a = sums[own] / (size[own] - 1);
    let b = Infinity;
    for (let s = 0; s < ids.length; s++) if (s !== own) b = Math.min(b, sums[s] / size[s]);
    const den = Math.max(a, b);
    total += den > 0 ? (b - a) / den : 0;
  }
  return total / n;
}

/**
 * Both metrics for one labelling. Points whose label is null (e.g. frames without a phase
 * annotation) are dropped first. Silhouette is NaN when fewer than two labels remain.
 */
export function separationMetrics(
  data: ArrayLike<number>,
  n: number,
  dim: number,
  labels: ArrayLike<number | null>,
  groups: ArrayLike<number>,
  opts: KnnOptions = {},
): SeparationMetrics {
  checkPoints(data, n, dim);
  if (labels.length !== n) throw new RangeError(`labels: expected ${n} values (one per point), got ${labels.length}`);
  checkLabels(groups, n, 'groups');
  const metric = opts.metric ?? 'euclidean';
  checkMetric(metric, 'opts.metric');
  const k = opts.k ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`opts.k must be a positive integer, got ${k}`);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (v === null) continue;
    if (!Number.isInteger(v)) throw new RangeError(`labels: value ${i} is not an integer or null: ${v}`);
    keep.push(i);
  }
  const m = keep.length;
  const y = Int32Array.from(keep, (i) => labels[i] as number);
  const g = Int32Array.from(keep, (i) => groups[i]);
  const distinct = new Set(y).size;
  if (m === 0) return { knn: { accuracy: NaN, chance: NaN, n: 0, excluded: 0, k }, silhouette: NaN, n: 0, labels: 0 };
  const x = new Float64Array(m * dim);
  keep.forEach((i, r) => {
    for (let c = 0; c < dim; c++) x[r * dim + c] = data[i * dim + c];
  });
  const d = distanceMatrix(x, m, dim, metric);
  return {
    knn: knnFromDistances(d, m, y, g, k),
    silhouette: distinct >= 2 && distinct <= m - 1 ? silhouetteFromDistances(d, m, y) : NaN,
    n: m,
    labels: distinct,
  };
}
