/**
 * Small statistics used by the Value, Embeddings and evaluation views: rank correlation,
 * bootstrap intervals, and binomial intervals for success rates. Plain numbers in and
 * out so the same code runs in a worker and in the Node CLI.
 */
import { Rng } from '../engine/random';

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

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, relative error
 * below 1.2e-9), for z at arbitrary confidence levels.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const plow = 0.02425;
  if (p < plow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - plow) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

function checkLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
}

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
}

/**
 * Wilson score interval for a proportion k/n (Wilson 1927):
 * (k + z^2/2) / (n + z^2) ± z / (n + z^2) * sqrt(k (n - k) / n + z^2 / 4).
 * Unlike the Wald interval it stays inside [0, 1] and is sensible at k = 0 or k = n,
 * which evaluation runs with a few dozen episodes hit often.
 */
export function wilsonInterval(k: number, n: number, level = 0.95): Interval {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`k must be an integer in [0, n = ${n}], got ${k}`);
  checkLevel(level);
  const z = normalQuantile(1 - (1 - level) / 2);
  const z2 = z * z;
  const centre = (k + z2 / 2) / (n + z2);
  const half = (z / (n + z2)) * Math.sqrt((k * (n - k)) / n + z2 / 4);
  // At k = 0 (k = n) the bound is exactly 0 (1); floating point leaves ~1e-17 otherwise.
  return { estimate: k / n, lo: k === 0 ? 0 : Math.max(0, centre - half), hi: k === n ? 1 : Math.min(1, centre + half) };
}

/**
 * Interval for p1 - p2 from two independent proportions, Newcombe's hybrid score method
 * (Newcombe 1998, method 10), built from the two Wilson intervals [l1, u1], [l2, u2]:
 * lo = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), hi = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
 * Used to compare success rates of CRL vs no-CRL checkpoints.
 */
export function newcombeDifference(k1: number, n1: number, k2: number, n2: number, level = 0.95): Interval {
  const a = wilsonInterval(k1, n1, level);
  const b = wilsonInterval(k2, n2, level);
  const d = a.estimate - b.estimate;
  return {
    estimate: d,
    lo: d - Math.sqrt((a.estimate - a.lo) ** 2 + (b.hi - b.estimate) ** 2),
    hi: d + Math.sqrt((a.hi - a.estimate) ** 2 + (b.estimate - b.lo) ** 2),
  };
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
