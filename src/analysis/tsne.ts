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
 *
 * This file holds the options, the step-wise optimiser and its gradients; the pieces it
 * builds on are in their own modules: tsne-affinities.ts (P from the input rows),
 * tsne-init.ts (PCA / random start), tsne-repulsion.ts (exact and Barnes-Hut repulsion).
 */
import { Rng } from '../engine/random';
import { denseAffinities, P_FLOOR, sparseAffinities, type SparseP } from './tsne-affinities';
import { initialEmbedding } from './tsne-init';
import { barnesHutRepulsion, SpaceTree } from './tsne-repulsion';
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

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
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
  /** The exact method's pairwise affinities (upper triangle), allocated once and reused every iteration. */
  private pairW: Float64Array | null = null;
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
    if (this.method === 'exact') {
      const { p, entropyTerm } = denseAffinities(x, n, dim, metric, perplexity);
      this.denseP = p;
      this.pEntropyTerm = entropyTerm;
    } else {
      const { p, entropyTerm } = sparseAffinities(x, n, dim, metric, perplexity);
      this.sparseP = p;
      this.pEntropyTerm = entropyTerm;
      this.tree = new SpaceTree(n, this.outDim);
    }

    const rng = new Rng(opts.seed ?? 0);
    const d = this.outDim;
    this.embedding = initialEmbedding(x, n, dim, d, init, rng);
    this.update = new Float64Array(n * d);
    this.gains = new Float64Array(n * d).fill(1);
    this.grad = new Float64Array(n * d);
    this.rep = new Float64Array(n * d);
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
    const w = (this.pairW ??= new Float64Array((n * (n - 1)) / 2));
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
