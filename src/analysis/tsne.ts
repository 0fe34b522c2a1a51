/**
 * t-SNE (van der Maaten & Hinton 2008) for the Embeddings tab (PRTS Fig. 5): exact
 * gradients up to about a thousand points, Barnes-Hut (van der Maaten 2014) above.
 * The optimiser follows scikit-learn / openTSNE so pictures match what readers of the
 * paper know: early exaggeration 12 for 250 iterations, momentum 0.5 then 0.8,
 * delta-bar-delta gains, learning rate max(n / exaggeration / 4, 50), PCA initialisation
 * scaled to a standard deviation of 1e-4.
 *
 * The class is step-wise so a worker can stream progress and stop between iterations:
 *   const t = new TSNE(data, n, dim, { perplexity: 30 });
 *   while (!t.done) { const info = t.step(); ... }
 * or `t.run(onProgress)` / `await t.runAsync(onProgress, { signal })`.
 *
 * Runs in a browser worker and in Node: plain typed arrays, no Node imports.
 */
import { Rng } from '../engine/random';
import { checkMetric, checkPoints, prepareRows, sqDist, type Metric } from './vectors';

export interface TsneOptions {
  /** Output dimension (2 for the tab). Default 2. */
  outDim?: number;
  /** Effective number of neighbours; must be below n. Default 30. */
  perplexity?: number;
  /** Total gradient iterations. Default 1000. */
  iterations?: number;
  /** Factor on P during the first exaggerationIterations. Default 12. */
  earlyExaggeration?: number;
  /** Default 250. */
  exaggerationIterations?: number;
  /** 'auto' = max(n / earlyExaggeration / 4, 50). Default 'auto'. */
  learningRate?: number | 'auto';
  /** Momentum during early exaggeration, then finalMomentum. Defaults 0.5, 0.8. */
  momentum?: number;
  finalMomentum?: number;
  /** 'pca' (default) or 'random' (seeded normal with std 1e-4). */
  init?: 'pca' | 'random';
  /** Seed for random init and PCA start vectors. Default 0. */
  seed?: number;
  /** Input distance. Euclidean uses squared distances for the affinities, cosine 1 - cos. */
  metric?: Metric;
  /** 'auto' picks exact for n <= exactMaxN, else Barnes-Hut. */
  method?: 'auto' | 'exact' | 'barnes-hut';
  /** Default 1000. */
  exactMaxN?: number;
  /** Barnes-Hut accuracy; 0 is exact repulsion. Default 0.5. */
  theta?: number;
  /** Compute the KL divergence every this many iterations in exact mode (it costs n^2 logs). Default 10. */
  klEvery?: number;
}

export interface TsneProgress {
  /** Iterations done so far (1-based after the first step). */
  iteration: number;
  iterations: number;
  /** KL(P || Q) with the true (unexaggerated) P, from the latest iteration that computed it. */
  kl: number;
  /** True while early exaggeration is on. */
  exaggerating: boolean;
  elapsedMs: number;
  /** Remaining time estimated from the mean iteration time so far. */
  etaMs: number;
}

/** Smallest probability kept in P and Q, as MACHINE_EPSILON in scikit-learn. */
const P_FLOOR = 2.220446049250313e-16;

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

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
interface SparseP {
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

/**
 * Top principal components of the rows by power iteration with deflation on the
 * dim x dim covariance (dim is small for embeddings; no SVD library needed). Each
 * component's sign is fixed so its largest-magnitude loading is positive, making the
 * result independent of the random start vector.
 */
export function pcaProject(x: Float64Array, n: number, dim: number, outDim: number, rng: Rng): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] += x[i * dim + k] / n;
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < dim; a++) {
      const va = x[i * dim + a] - mean[a];
      if (va === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b] += va * (x[i * dim + b] - mean[b]);
    }
  }
  for (let a = 0; a < dim; a++) for (let b = 0; b < a; b++) cov[a * dim + b] = cov[b * dim + a];
  const out = new Float64Array(n * outDim);
  const v = new Float64Array(dim);
  const w = new Float64Array(dim);
  for (let c = 0; c < Math.min(outDim, dim); c++) {
    for (let k = 0; k < dim; k++) v[k] = rng.normal();
    let lambda = 0;
    for (let iter = 0; iter < 500; iter++) {
      let norm = 0;
      for (let a = 0; a < dim; a++) {
        let s = 0;
        for (let b = 0; b < dim; b++) s += cov[a * dim + b] * v[b];
        w[a] = s;
        norm += s * s;
      }
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      let change = 0;
      for (let k = 0; k < dim; k++) {
        const nv = w[k] / norm;
        change += Math.abs(nv - v[k]);
        v[k] = nv;
      }
      lambda = norm;
      if (change < 1e-12 * dim) break;
    }
    let big = 0;
    for (let k = 0; k < dim; k++) if (Math.abs(v[k]) > Math.abs(v[big])) big = k;
    const sign = v[big] < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (x[i * dim + k] - mean[k]) * v[k];
      out[i * outDim + c] = sign * s;
    }
    // Deflate so the next power iteration finds the next component.
    for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) cov[a * dim + b] -= lambda * v[a] * v[b];
  }
  return out;
}

/**
 * Exact repulsive term for every point: rep_i = sum_j q_ij^2 (y_i - y_j) with
 * q_ij = 1 / (1 + |y_i - y_j|^2), and Z = sum_{i != j} q_ij. Exported for tests that
 * check the Barnes-Hut approximation against it.
 */
export function exactRepulsion(y: ArrayLike<number>, n: number, d: number, rep: Float64Array): number {
  rep.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const q = 1 / (1 + sqDist(y, i, y, j, d));
      z += 2 * q;
      const q2 = q * q;
      for (let k = 0; k < d; k++) {
        const f = q2 * (y[i * d + k] - y[j * d + k]);
        rep[i * d + k] += f;
        rep[j * d + k] -= f;
      }
    }
  }
  return z;
}

/**
 * Space-partitioning tree (quadtree in 2-D, octree in 3-D, 2^d children in general)
 * built top-down by partitioning an index permutation, so each node's points are a
 * contiguous range and a leaf can be walked point by point.
 */
class SpaceTree {
  private cap = 0;
  private count = new Int32Array(0);
  private width = new Float64Array(0);
  private com = new Float64Array(0);
  private start = new Int32Array(0);
  private firstChild = new Int32Array(0);
  private numChildren = new Int32Array(0);
  private size = 0;
  private perm: Int32Array;
  private scratch: Int32Array;
  private stack = new Int32Array(1024);

  constructor(private readonly n: number, private readonly d: number) {
    this.perm = new Int32Array(n);
    this.scratch = new Int32Array(n);
    this.grow(Math.max(16, 2 * n));
  }

  private grow(cap: number): void {
    const d = this.d;
    const count = new Int32Array(cap);
    count.set(this.count);
    const width = new Float64Array(cap);
    width.set(this.width);
    const com = new Float64Array(cap * d);
    com.set(this.com);
    const start = new Int32Array(cap);
    start.set(this.start);
    const firstChild = new Int32Array(cap);
    firstChild.set(this.firstChild);
    const numChildren = new Int32Array(cap);
    numChildren.set(this.numChildren);
    Object.assign(this, { count, width, com, start, firstChild, numChildren, cap });
  }

  private alloc(): number {
    if (this.size === this.cap) this.grow(this.cap * 2);
    return this.size++;
  }

  build(y: Float64Array): void {
    const { n, d } = this;
    for (let i = 0; i < n; i++) this.perm[i] = i;
    const lo = new Float64Array(d).fill(Infinity);
    const hi = new Float64Array(d).fill(-Infinity);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < d; k++) {
        const v = y[i * d + k];
        if (v < lo[k]) lo[k] = v;
        if (v > hi[k]) hi[k] = v;
      }
    }
    let half = 0;
    const centre = new Float64Array(d);
    for (let k = 0; k < d; k++) {
      centre[k] = (lo[k] + hi[k]) / 2;
      half = Math.max(half, (hi[k] - lo[k]) / 2);
    }
    // Widen a little so points on the upper boundary fall strictly inside.
    half = half * (1 + 1e-9) + 1e-12;
    this.size = 0;
    const root = this.alloc();
    this.buildNode(y, root, 0, n, centre, half, 0);
  }

  private buildNode(y: Float64Array, node: number, s: number, e: number, centre: Float64Array, half: number, depth: number): void {
    const d = this.d;
    const cnt = e - s;
    this.count[node] = cnt;
    this.width[node] = 2 * half;
    this.start[node] = s;
    for (let k = 0; k < d; k++) {
      let m = 0;
      for (let t = s; t < e; t++) m += y[this.perm[t] * d + k];
      this.com[node * d + k] = m / cnt;
    }
    // Depth cap: coincident points would otherwise split forever.
    if (cnt <= 1 || depth >= 48) {
      this.numChildren[node] = 0;
      this.firstChild[node] = e; // leaf: range [start, firstChild)
      return;
    }
    const nc = 1 << d;
    const bucketCount = new Int32Array(nc + 1);
    for (let t = s; t < e; t++) bucketCount[this.code(y, this.perm[t], centre) + 1]++;
    for (let c = 0; c < nc; c++) bucketCount[c + 1] += bucketCount[c];
    const fill = bucketCount.slice(0, nc);
    for (let t = s; t < e; t++) {
      const i = this.perm[t];
      this.scratch[s + fill[this.code(y, i, centre)]++] = i;
    }
    for (let t = s; t < e; t++) this.perm[t] = this.scratch[t];
    let nonEmpty = 0;
    for (let c = 0; c < nc; c++) if (bucketCount[c + 1] > bucketCount[c]) nonEmpty++;
    // Children are allocated contiguously before recursing so a node stores only the first.
    const first = this.size;
    for (let c = 0; c < nonEmpty; c++) this.alloc();
    this.firstChild[node] = first;
    this.numChildren[node] = nonEmpty;
    let slot = first;
    const childCentre = new Float64Array(d);
    for (let c = 0; c < nc; c++) {
      const cs = s + bucketCount[c];
      const ce = s + bucketCount[c + 1];
      if (ce === cs) continue;
      for (let k = 0; k < d; k++) childCentre[k] = centre[k] + ((c >> k) & 1 ? half / 2 : -half / 2);
      this.buildNode(y, slot++, cs, ce, childCentre, half / 2, depth + 1);
    }
  }

  private code(y: Float64Array, i: number, centre: Float64Array): number {
    let c = 0;
    for (let k = 0; k < this.d; k++) if (y[i * this.d + k] >= centre[k]) c |= 1 << k;
    return c;
  }

  /**
   * Repulsion on point i: accumulates sum_j q_ij^2 (y_i - y_j) into rep[i] and returns
   * sum_j q_ij, summarising a cell by its centre of mass when width / distance < theta.
   */
  repulsion(y: Float64Array, i: number, theta: number, rep: Float64Array): number {
    const d = this.d;
    const theta2 = theta * theta;
    let sumQ = 0;
    let sp = 0;
    this.stack[sp++] = 0;
    while (sp > 0) {
      const node = this.stack[--sp];
      const nch = this.numChildren[node];
      if (nch === 0) {
        for (let t = this.start[node]; t < this.firstChild[node]; t++) {
          const j = this.perm[t];
          if (j === i) continue;
          const q = 1 / (1 + sqDist(y, i, y, j, d));
          sumQ += q;
          const q2 = q * q;
          for (let k = 0; k < d; k++) rep[i * d + k] += q2 * (y[i * d + k] - y[j * d + k]);
        }
        continue;
      }
      let dist2 = 0;
      for (let k = 0; k < d; k++) {
        const diff = y[i * d + k] - this.com[node * d + k];
        dist2 += diff * diff;
      }
      const w = this.width[node];
      if (w * w < theta2 * dist2) {
        const cnt = this.count[node];
        const q = 1 / (1 + dist2);
        sumQ += cnt * q;
        const f = cnt * q * q;
        for (let k = 0; k < d; k++) rep[i * d + k] += f * (y[i * d + k] - this.com[node * d + k]);
      } else {
        if (sp + nch > this.stack.length) {
          const bigger = new Int32Array(this.stack.length * 2);
          bigger.set(this.stack);
          this.stack = bigger;
        }
        const f = this.firstChild[node];
        for (let c = 0; c < nch; c++) this.stack[sp++] = f + c;
      }
    }
    return sumQ;
  }
}

/**
 * Barnes-Hut repulsion for every point (see exactRepulsion for the exact form); returns
 * the approximate Z. Exported for tests.
 */
export function barnesHutRepulsion(y: Float64Array, n: number, d: number, theta: number, rep: Float64Array, tree?: SpaceTree): number {
  const t = tree ?? new SpaceTree(n, d);
  t.build(y);
  rep.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) z += t.repulsion(y, i, theta, rep);
  return z;
}

function positiveNumber(v: number, name: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive finite number, got ${v}`);
  return v;
}

export class TSNE {
  readonly n: number;
  readonly outDim: number;
  readonly iterations: number;
  readonly method: 'exact' | 'barnes-hut';
  readonly learningRate: number;
  /** Current embedding, n x outDim row-major; updated in place by step(). */
  readonly embedding: Float64Array;

  private readonly earlyExaggeration: number;
  private readonly exaggerationIterations: number;
  private readonly momentum: number;
  private readonly finalMomentum: number;
  private readonly theta: number;
  private readonly klEvery: number;
  private readonly update: Float64Array;
  private readonly gains: Float64Array;
  private readonly grad: Float64Array;
  private readonly rep: Float64Array;
  /** Dense symmetric P (exact mode). */
  private denseP: Float64Array | null = null;
  /** Sparse symmetric P (Barnes-Hut mode). */
  private sparseP: SparseP | null = null;
  /** sum P log P, constant, for the KL divergence. */
  private pEntropyTerm = 0;
  private tree: SpaceTree | null = null;
  private iter = 0;
  private lastKl = NaN;
  private elapsed = 0;

  constructor(data: ArrayLike<number>, n: number, dim: number, opts: TsneOptions = {}) {
    checkPoints(data, n, dim);
    const metric = opts.metric ?? 'euclidean';
    checkMetric(metric, 'opts.metric');
    if (n < 2) throw new RangeError(`n must be at least 2 for t-SNE, got ${n}`);
    this.n = n;
    this.outDim = opts.outDim ?? 2;
    if (!Number.isInteger(this.outDim) || this.outDim < 1 || this.outDim > 3) {
      throw new RangeError(`opts.outDim must be 1, 2 or 3, got ${opts.outDim}`);
    }
    const perplexity = positiveNumber(opts.perplexity ?? 30, 'opts.perplexity');
    if (perplexity >= n) throw new RangeError(`opts.perplexity (${perplexity}) must be less than the number of points n (${n})`);
    this.iterations = opts.iterations ?? 1000;
    if (!Number.isInteger(this.iterations) || this.iterations < 1) {
      throw new RangeError(`opts.iterations must be a positive integer, got ${opts.iterations}`);
    }
    this.earlyExaggeration = positiveNumber(opts.earlyExaggeration ?? 12, 'opts.earlyExaggeration');
    this.exaggerationIterations = opts.exaggerationIterations ?? 250;
    if (!Number.isInteger(this.exaggerationIterations) || this.exaggerationIterations < 0) {
      throw new RangeError(`opts.exaggerationIterations must be a non-negative integer, got ${opts.exaggerationIterations}`);
    }
    this.momentum = opts.momentum ?? 0.5;
    this.finalMomentum = opts.finalMomentum ?? 0.8;
    for (const [name, m] of [['opts.momentum', this.momentum], ['opts.finalMomentum', this.finalMomentum]] as const) {
      if (!(m >= 0 && m < 1)) throw new RangeError(`${name} must be in [0, 1), got ${m}`);
    }
    const lr = opts.learningRate ?? 'auto';
    this.learningRate = lr === 'auto' ? Math.max(n / this.earlyExaggeration / 4, 50) : positiveNumber(lr, 'opts.learningRate');
    const method = opts.method ?? 'auto';
    if (method !== 'auto' && method !== 'exact' && method !== 'barnes-hut') {
      throw new RangeError(`opts.method must be 'auto', 'exact' or 'barnes-hut', got '${method}'`);
    }
    const exactMaxN = opts.exactMaxN ?? 1000;
    this.method = method === 'auto' ? (n <= exactMaxN ? 'exact' : 'barnes-hut') : method;
    this.theta = opts.theta ?? 0.5;
    // A cell that contains point i is at distance <= width * sqrt(d) from it, so for
    // theta < 1/sqrt(d) it is never summarised and i never repels itself.
    if (!(this.theta >= 0 && this.theta < 1 / Math.sqrt(this.outDim))) {
      throw new RangeError(`opts.theta must be in [0, 1/sqrt(outDim)) = [0, ${(1 / Math.sqrt(this.outDim)).toFixed(3)}), got ${opts.theta}`);
    }
    this.klEvery = opts.klEvery ?? 10;
    if (!Number.isInteger(this.klEvery) || this.klEvery < 1) throw new RangeError(`opts.klEvery must be a positive integer, got ${opts.klEvery}`);
    const init = opts.init ?? 'pca';
    if (init !== 'pca' && init !== 'random') throw new RangeError(`opts.init must be 'pca' or 'random', got '${init}'`);

    const x = prepareRows(data, n, dim, metric);
    if (this.method === 'exact') this.buildDenseP(x, dim, metric, perplexity);
    else this.buildSparseP(x, dim, metric, perplexity);

    const rng = new Rng(opts.seed ?? 0);
    const d = this.outDim;
    this.embedding = new Float64Array(n * d);
    if (init === 'pca') {
      const proj = pcaProject(x, n, dim, d, rng);
      let m = 0;
      for (let i = 0; i < n; i++) m += proj[i * d] / n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (proj[i * d] - m) ** 2 / n;
      const sd = Math.sqrt(v);
      for (let i = 0; i < n * d; i++) this.embedding[i] = sd > 0 ? (proj[i] / sd) * 1e-4 : 0;
      // Components with no variance (dim < outDim, or all rows equal) get seeded noise of
      // the same scale, otherwise the points would stay on a line forever.
      for (let k = 0; k < d; k++) {
        let nonzero = false;
        for (let i = 0; i < n && !nonzero; i++) nonzero = this.embedding[i * d + k] !== 0;
        if (!nonzero) for (let i = 0; i < n; i++) this.embedding[i * d + k] = rng.normal() * 1e-4;
      }
    } else {
      for (let i = 0; i < n * d; i++) this.embedding[i] = rng.normal() * 1e-4;
    }
    this.update = new Float64Array(n * d);
    this.gains = new Float64Array(n * d).fill(1);
    this.grad = new Float64Array(n * d);
    this.rep = new Float64Array(n * d);
  }

  private buildDenseP(x: Float64Array, dim: number, metric: Metric, perplexity: number): void {
    const n = this.n;
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
    this.denseP = p;
    this.pEntropyTerm = ent;
  }

  private buildSparseP(x: Float64Array, dim: number, metric: Metric, perplexity: number): void {
    const n = this.n;
    // Three perplexities of neighbours hold essentially all the Gaussian mass (van der Maaten 2014).
    const k = Math.min(n - 1, Math.floor(3 * perplexity) + 1);
    const idx = new Int32Array(n * k);
    const dist = new Float64Array(n * k);
    kNearest(x, n, dim, metric, k, idx, dist);
    const cond = new Float64Array(n * k);
    for (let i = 0; i < n; i++) calibrateRow(dist.subarray(i * k, (i + 1) * k), k, perplexity, cond, i * k);
    this.sparseP = symmetrizeSparse(n, k, idx, cond);
    let ent = 0;
    for (const v of this.sparseP.val) if (v > 0) ent += v * Math.log(v);
    this.pEntropyTerm = ent;
    this.tree = new SpaceTree(n, this.outDim);
  }

  get iteration(): number {
    return this.iter;
  }

  get done(): boolean {
    return this.iter >= this.iterations;
  }

  /** Latest KL(P || Q) (NaN before the first computation). */
  get kl(): number {
    return this.lastKl;
  }

  /** One gradient-descent iteration. Throws once all iterations are done. */
  step(): TsneProgress {
    if (this.done) throw new Error(`TSNE.step: all ${this.iterations} iterations are done`);
    const t0 = now();
    const exaggerating = this.iter < this.exaggerationIterations;
    const exag = exaggerating ? this.earlyExaggeration : 1;
    const momentum = exaggerating ? this.momentum : this.finalMomentum;
    const wantKl = (this.iter + 1) % this.klEvery === 0 || this.iter + 1 === this.iterations || this.iter === 0;
    const kl = this.method === 'exact' ? this.exactGradient(exag, wantKl) : this.bhGradient(exag);
    if (!Number.isNaN(kl)) this.lastKl = kl;

    const { embedding: y, update, gains, grad, n, outDim: d } = this;
    const lr = this.learningRate;
    for (let i = 0; i < n * d; i++) {
      // Delta-bar-delta gains: grow where the gradient keeps its direction, shrink where it flips.
      gains[i] = update[i] * grad[i] < 0 ? gains[i] + 0.2 : Math.max(gains[i] * 0.8, 0.01);
      update[i] = momentum * update[i] - lr * gains[i] * grad[i];
      y[i] += update[i];
    }
    // Recentre: the objective is translation invariant and a bounded box keeps the tree shallow.
    for (let k = 0; k < d; k++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += y[i * d + k];
      m /= n;
      for (let i = 0; i < n; i++) y[i * d + k] -= m;
    }
    this.iter++;
    this.elapsed += now() - t0;
    return this.progress();
  }

  progress(): TsneProgress {
    const per = this.iter > 0 ? this.elapsed / this.iter : 0;
    return {
      iteration: this.iter,
      iterations: this.iterations,
      kl: this.lastKl,
      exaggerating: this.iter < this.exaggerationIterations,
      elapsedMs: this.elapsed,
      etaMs: per * (this.iterations - this.iter),
    };
  }

  /**
   * Runs the remaining iterations synchronously. onProgress is called after every
   * `reportEvery` iterations and after the last; returning false stops early.
   */
  run(onProgress?: (p: TsneProgress) => boolean | void, reportEvery = 10): Float64Array {
    while (!this.done) {
      const p = this.step();
      if (onProgress && (p.iteration % reportEvery === 0 || this.done) && onProgress(p) === false) break;
    }
    return this.embedding;
  }

  /**
   * Like run, but yields to the event loop every `yieldEvery` iterations so a worker can
   * receive a cancel message; stops when `signal.aborted` becomes true.
   */
  async runAsync(
    onProgress?: (p: TsneProgress) => boolean | void,
    opts: { signal?: { readonly aborted: boolean }; reportEvery?: number; yieldEvery?: number } = {},
  ): Promise<Float64Array> {
    const reportEvery = opts.reportEvery ?? 10;
    const yieldEvery = opts.yieldEvery ?? 10;
    while (!this.done && !opts.signal?.aborted) {
      const p = this.step();
      if (onProgress && (p.iteration % reportEvery === 0 || this.done) && onProgress(p) === false) break;
      if (p.iteration % yieldEvery === 0) await new Promise<void>((r) => setTimeout(r, 0));
    }
    return this.embedding;
  }

  /**
   * grad_i = 4 sum_j (exag p_ij - q_ij) w_ij (y_i - y_j), w_ij = 1 / (1 + |y_i - y_j|^2),
   * q_ij = w_ij / Z. Returns KL(P || Q) for the true P when asked, else NaN.
   */
  private exactGradient(exag: number, wantKl: boolean): number {
    const { embedding: y, n, outDim: d, grad } = this;
    const p = this.denseP!;
    // Unnormalised affinities in the upper triangle, reused for the gradient.
    let z = 0;
    const w = new Float64Array((n * (n - 1)) / 2);
    let e = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const v = 1 / (1 + sqDist(y, i, y, j, d));
        w[e++] = v;
        z += 2 * v;
      }
    }
    grad.fill(0);
    let sumPlogQ = 0;
    e = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const wij = w[e++];
        const pij = p[i * n + j];
        const coef = 4 * (exag * pij - wij / z) * wij;
        for (let k = 0; k < d; k++) {
          const f = coef * (y[i * d + k] - y[j * d + k]);
          grad[i * d + k] += f;
          grad[j * d + k] -= f;
        }
        if (wantKl) sumPlogQ += 2 * pij * Math.log(Math.max(wij / z, P_FLOOR));
      }
    }
    return wantKl ? this.pEntropyTerm - sumPlogQ : NaN;
  }

  /** Barnes-Hut: exact attraction over sparse P, tree-approximated repulsion. KL every call (O(nnz)). */
  private bhGradient(exag: number): number {
    const { embedding: y, n, outDim: d, grad, rep } = this;
    const { rowPtr, col, val } = this.sparseP!;
    const z = barnesHutRepulsion(y, n, d, this.theta, rep, this.tree!);
    let sumPlog1pD = 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < d; k++) grad[i * d + k] = 0;
      for (let e = rowPtr[i]; e < rowPtr[i + 1]; e++) {
        const j = col[e];
        const d2 = sqDist(y, i, y, j, d);
        const wij = 1 / (1 + d2);
        const c = exag * val[e] * wij;
        for (let k = 0; k < d; k++) grad[i * d + k] += c * (y[i * d + k] - y[j * d + k]);
        sumPlog1pD += val[e] * Math.log1p(d2);
      }
      for (let k = 0; k < d; k++) grad[i * d + k] = 4 * (grad[i * d + k] - rep[i * d + k] / z);
    }
    // KL = sum p log p - sum p log(w / Z) = sum p log p + sum p log(1 + d^2) + log Z (sum p = 1).
    return this.pEntropyTerm + sumPlog1pD + Math.log(z);
  }
}
