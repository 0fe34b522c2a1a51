/**
 * Small statistics used by the Value, Embeddings and evaluation views: rank correlation,
 * bootstrap intervals, and binomial intervals for success rates. Plain numbers in and
 * out so the same code runs in a worker and in the Node CLI.
 */
import { Rng } from '../engine/random';
import { checkLevel, type Interval } from '../train/intervals';

export { newcombeDifference, normalQuantile, wilsonInterval, type Interval } from '../train/intervals';

function checkFinite(x: ArrayLike<number>, name: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`${name}[${i}] is not finite: ${x[i]}`);
  }
}

/** 1-based ranks with ties given their average rank (the "fractional" ranking Spearman needs). */
export function ranks(x: ArrayLike<number>): Float64Array {
  checkFinite(x, 'x');
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  for (let s = 0; s < n; ) {
    let e = s + 1;
    while (e < n && x[order[e]] === x[order[s]]) e++;
    const avg = (s + 1 + e) / 2; // mean of ranks s+1..e
    for (let t = s; t < e; t++) r[order[t]] = avg;
    s = e;
  }
  return r;
}

/** Pearson correlation; NaN when either side has zero variance (the coefficient is 0/0). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`x and y must have the same length, got ${x.length} and ${y.length}`);
  const n = x.length;
  if (n < 2) throw new RangeError(`correlation needs at least 2 pairs, got ${n}`);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Spearman's rho: Pearson correlation of the tie-averaged ranks (SRPO Eq. 10 applied to
 * ranks). NaN when either sequence is constant.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`x and y must have the same length, got ${x.length} and ${y.length}`);
  checkFinite(y, 'y');
  return pearson(ranks(x), ranks(y));
}

/** Spearman correlation of a series with its time index 0..T-1. */
export function spearmanWithTime(y: ArrayLike<number>): number {
  return spearman(Float64Array.from({ length: y.length }, (_, i) => i), y);
}

export interface BootstrapOptions {
  /** Default 2000. */
  resamples?: number;
  /** Default 0.95. */
  level?: number;
  /** Default 0. */
  seed?: number;
}

/**
 * Mean with a percentile bootstrap interval: resample the values with replacement
 * `resamples` times (seeded), take the (1-level)/2 and (1+level)/2 quantiles of the
 * resampled means (linear interpolation). One value gives a zero-width interval.
 */
export function bootstrapMean(values: ArrayLike<number>, opts: BootstrapOptions = {}): Interval & { n: number } {
  const n = values.length;
  if (n < 1) throw new RangeError('values must not be empty');
  checkFinite(values, 'values');
  const resamples = opts.resamples ?? 2000;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`opts.resamples must be a positive integer, got ${opts.resamples}`);
  const level = opts.level ?? 0.95;
  checkLevel(level);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i] / n;
  const rng = new Rng(opts.seed ?? 0);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[rng.int(n)];
    means[b] = s / n;
  }
  means.sort();
  const q = (p: number) => {
    const pos = (resamples - 1) * p;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return means[lo] + (means[hi] - means[lo]) * (pos - lo);
  };
  return { estimate: mean, lo: q((1 - level) / 2), hi: q((1 + level) / 2), n };
}
