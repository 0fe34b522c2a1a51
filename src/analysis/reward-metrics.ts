/**
 * Progress-reward quality metrics of SRPO's Progress Reward Benchmark (SRPO Table 3,
 * App. A.1, Eqs. 10-14): temporal correlation (SC) and monotonicity (Mono) on success
 * trajectories; MMD, Jensen-Shannon divergence (JS) and standardized mean difference
 * (SMD) between the final progress values of success and failure trajectories.
 *
 * Choices where the paper is vague (documented in docs/analysis.md):
 *  - Eq. 10/11 index by "task k" with one trajectory length T_k; we compute each metric
 *    per trajectory, average within a task, then average over tasks, so every task
 *    weighs the same as in Eqs. 12-14. A constant progress curve has an undefined
 *    correlation (0/0); it counts as 0 (no relationship with time).
 *  - MMD: biased (V-statistic) estimate, which is exactly the squared RKHS norm of
 *    Eq. 12, with the Gaussian kernel exp(-(x - y)^2 / (2 sigma^2)) and sigma the median
 *    pairwise distance of the pooled values (median heuristic).
 *  - JS: P_success and P_failure are histograms of final progress values over
 *    `bins` equal bins of `range` (default 10 bins of [0, 1]); natural logarithm, so the
 *    maximum is ln 2 as the paper's A.2 says.
 *  - SMD: pooled standard deviation with n - 1 denominators (Eq. 14); if it is zero the
 *    SMD is +-Infinity (or 0 for equal means).
 */
import { spearmanWithTime } from './stats';

function checkSeries(x: ArrayLike<number>, name: string, minLength: number): void {
  if (x.length < minLength) throw new RangeError(`${name} needs at least ${minLength} values, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`${name}[${i}] is not finite: ${x[i]}`);
  }
}

/** SRPO Eq. 11 for one trajectory: fraction of steps t with r_{t+1} > r_t (strict). */
export function temporalMonotonicity(progress: ArrayLike<number>): number {
  checkSeries(progress, 'progress', 2);
  let inc = 0;
  for (let t = 0; t + 1 < progress.length; t++) if (progress[t + 1] > progress[t]) inc++;
  return inc / (progress.length - 1);
}

/** SRPO Eq. 10 for one trajectory: Spearman of progress with frame number; 0 if constant. */
export function temporalCorrelation(progress: ArrayLike<number>): number {
  checkSeries(progress, 'progress', 2);
  const r = spearmanWithTime(progress);
  return Number.isNaN(r) ? 0 : r;
}

/** Median pairwise |x_i - x_j| of the pooled sample (i < j), skipping zeros if the median is 0. */
export function medianHeuristicBandwidth(pooled: ArrayLike<number>): number {
  const d: number[] = [];
  for (let i = 0; i < pooled.length; i++) for (let j = i + 1; j < pooled.length; j++) d.push(Math.abs(pooled[i] - pooled[j]));
  d.sort((a, b) => a - b);
  if (d.length === 0) return 0;
  const mid = d.length >> 1;
  let med = d.length % 2 ? d[mid] : (d[mid - 1] + d[mid]) / 2;
  // Heavy ties (many identical progress values) make the median 0; the kernel would then
  // be an indicator. Fall back to the median of the non-zero distances.
  if (med === 0) {
    const nz = d.filter((v) => v > 0);
    if (nz.length === 0) return 0;
    const m2 = nz.length >> 1;
    med = nz.length % 2 ? nz[m2] : (nz[m2 - 1] + nz[m2]) / 2;
  }
  return med;
}

/**
 * SRPO Eq. 12 for one task: squared MMD between samples a (success) and b (failure) with
 * a Gaussian kernel, mean k(a, a') + mean k(b, b') - 2 mean k(a, b). `bandwidth` defaults
 * to the median heuristic; identical pooled values give 0.
 */
export function mmdRbf(a: ArrayLike<number>, b: ArrayLike<number>, bandwidth?: number): { mmd2: number; bandwidth: number } {
  checkSeries(a, 'a', 1);
  checkSeries(b, 'b', 1);
  const sigma = bandwidth ?? medianHeuristicBandwidth([...Array.from(a), ...Array.from(b)]);
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new RangeError(`bandwidth must be a non-negative finite number, got ${bandwidth}`);
  if (sigma === 0) return { mmd2: 0, bandwidth: 0 };
  const g = 1 / (2 * sigma * sigma);
  const meanK = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) s += Math.exp(-g * (x[i] - y[j]) ** 2);
    return s / (x.length * y.length);
  };
  return { mmd2: Math.max(0, meanK(a, a) + meanK(b, b) - 2 * meanK(a, b)), bandwidth: sigma };
}

/** Normalised histogram over `bins` equal bins of [lo, hi]; the top edge belongs to the last bin. */
export function histogram(x: ArrayLike<number>, bins: number, lo: number, hi: number, name = 'x'): Float64Array {
  const h = new Float64Array(bins);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!(v >= lo && v <= hi)) throw new RangeError(`${name}[${i}] = ${v} lies outside the histogram range [${lo}, ${hi}]`);
    h[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))] += 1 / x.length;
  }
  return h;
}

/**
 * SRPO Eq. 13 for one task: JS divergence (natural log, in [0, ln 2]) between histograms
 * of a and b over `bins` bins of `range`.
 */
export function jsDivergence(a: ArrayLike<number>, b: ArrayLike<number>, opts: { bins?: number; range?: [number, number] } = {}): number {
  checkSeries(a, 'a', 1);
  checkSeries(b, 'b', 1);
  const bins = opts.bins ?? 10;
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`opts.bins must be a positive integer, got ${opts.bins}`);
  const [lo, hi] = opts.range ?? [0, 1];
  if (!(hi > lo)) throw new RangeError(`opts.range must be [lo, hi] with hi > lo, got [${lo}, ${hi}]`);
  const p = histogram(a, bins, lo, hi, 'a');
  const q = histogram(b, bins, lo, hi, 'b');
  let js = 0;
  for (let i = 0; i < bins; i++) {
    const m = (p[i] + q[i]) / 2;
    // 0 log 0 = 0; m > 0 wherever p or q is.
    if (p[i] > 0) js += 0.5 * p[i] * Math.log(p[i] / m);
    if (q[i] > 0) js += 0.5 * q[i] * Math.log(q[i] / m);
  }
  return js;
}

/** SRPO Eq. 14 for one task: (mean a - mean b) / pooled sd (n - 1 denominators). */
export function standardizedMeanDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSeries(a, 'a', 1);
  checkSeries(b, 'b', 1);
  const n = a.length;
  const m = b.length;
  if (n + m < 3) throw new RangeError(`a and b together need at least 3 values for a pooled sd, got ${n + m}`);
  const mean = (x: ArrayLike<number>) => Array.from(x).reduce((s, v) => s + v, 0) / x.length;
  const ss = (x: ArrayLike<number>, mu: number) => Array.from(x).reduce((s, v) => s + (v - mu) ** 2, 0);
  const ma = mean(a);
  const mb = mean(b);
  const pooled = Math.sqrt((ss(a, ma) + ss(b, mb)) / (n + m - 2));
  const diff = ma - mb;
  if (pooled === 0) return diff === 0 ? 0 : diff > 0 ? Infinity : -Infinity;
  return diff / pooled;
}

export interface ProgressTrajectory {
  task: string;
  success: boolean;
  /** Per-frame progress values r_t; the last one is the trajectory's final progress. */
  progress: ArrayLike<number>;
}

export interface TaskBenchmark {
  task: string;
  nSuccess: number;
  nFailure: number;
  /** Undefined when the task has no success trajectory. */
  sc?: number;
  mono?: number;
  /** Undefined unless the task has both success and failure trajectories. */
  mmd?: number;
  js?: number;
  smd?: number;
}

export interface BenchmarkResult {
  /** Means over the tasks where each metric is defined. */
  sc: number;
  mono: number;
  mmd: number;
  js: number;
  smd: number;
  tasks: TaskBenchmark[];
}

/** The five metrics of SRPO Table 3 over a set of trajectories grouped by task. */
export function progressRewardBenchmark(trajectories: readonly ProgressTrajectory[], opts: { bins?: number; range?: [number, number] } = {}): BenchmarkResult {
  if (trajectories.length === 0) throw new RangeError('trajectories must not be empty');
  const byTask = new Map<string, ProgressTrajectory[]>();
  trajectories.forEach((t, i) => {
    checkSeries(t.progress, `trajectories[${i}].progress`, 1);
    const list = byTask.get(t.task) ?? [];
    list.push(t);
    byTask.set(t.task, list);
  });
  const tasks: TaskBenchmark[] = [];
  for (const [task, list] of byTask) {
    const succ = list.filter((t) => t.success);
    const fail = list.filter((t) => !t.success);
    const row: TaskBenchmark = { task, nSuccess: succ.length, nFailure: fail.length };
    if (succ.length > 0) {
      row.sc = succ.reduce((s, t) => s + temporalCorrelation(t.progress), 0) / succ.length;
      row.mono = succ.reduce((s, t) => s + temporalMonotonicity(t.progress), 0) / succ.length;
    }
    if (succ.length > 0 && fail.length > 0) {
      const fs = succ.map((t) => t.progress[t.progress.length - 1]);
      const ff = fail.map((t) => t.progress[t.progress.length - 1]);
      row.mmd = mmdRbf(fs, ff).mmd2;
      row.js = jsDivergence(fs, ff, opts);
      if (fs.length + ff.length >= 3) row.smd = standardizedMeanDifference(fs, ff);
    }
    tasks.push(row);
  }
  const avg = (key: 'sc' | 'mono' | 'mmd' | 'js' | 'smd') => {
    const v = tasks.map((t) => t[key]).filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
  };
  return { sc: avg('sc'), mono: avg('mono'), mmd: avg('mmd'), js: avg('js'), smd: avg('smd'), tasks };
}
