/**
 * Confidence intervals for success rates (k successes of n episodes) and their
 * differences. They live in src/train because evaluation reports them; src/analysis
 * re-exports them next to its other statistics (analysis sits above train).
 */

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

export function checkLevel(level: number): void {
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
