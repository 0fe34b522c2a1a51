import { describe, expect, it } from 'vitest';
import { bootstrapMean, newcombeDifference, normalQuantile, pearson, ranks, spearman, spearmanWithTime, wilsonInterval } from '../../../src/analysis/stats';
import { Rng } from '../../../src/engine/random';

describe('rank correlation', () => {
  it('averages tied ranks', () => {
    expect(Array.from(ranks([1, 2, 2, 3, 1]))).toEqual([1.5, 3.5, 3.5, 5, 1.5]);
  });

  it('matches a hand-computed Spearman with ties', () => {
    // ranks y = [1.5, 3.5, 3.5, 5, 1.5]; sxy = 1.5, sxx = 10, syy = 9 -> 1.5 / sqrt(90).
    expect(spearman([1, 2, 3, 4, 5], [1, 2, 2, 3, 1])).toBeCloseTo(1.5 / Math.sqrt(90), 12);
    expect(spearmanWithTime([1, 2, 2, 3, 1])).toBeCloseTo(1.5 / Math.sqrt(90), 12);
  });

  it('is 1 for any increasing sequence, -1 for decreasing, NaN for constant', () => {
    expect(spearmanWithTime([0.1, 5, 6, 100])).toBe(1);
    expect(spearmanWithTime([3, 2, 1])).toBe(-1);
    expect(spearmanWithTime([2, 2, 2])).toBeNaN();
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 15);
  });

  it('names bad input', () => {
    expect(() => spearman([1, 2], [1])).toThrow(/same length/);
    expect(() => spearman([1, 2], [1, NaN])).toThrow(/y\[1\]/);
    expect(() => pearson([1], [1])).toThrow(/at least 2/);
  });
});

describe('binomial intervals', () => {
  it('normal quantile', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 8);
    expect(normalQuantile(0.005)).toBeCloseTo(-2.575829304, 8);
  });

  it('Wilson matches Newcombe (1998) and closed forms', () => {
    const w = wilsonInterval(81, 263);
    expect(w.lo).toBeCloseTo(0.2553, 4);
    expect(w.hi).toBeCloseTo(0.3662, 4);
    const z = wilsonInterval(0, 10);
    const z2 = 1.959963985 ** 2;
    expect(z.lo).toBe(0);
    expect(z.hi).toBeCloseTo(z2 / (10 + z2), 8);
    const all = wilsonInterval(10, 10);
    expect(all.hi).toBe(1);
    expect(all.lo).toBeCloseTo(10 / (10 + z2), 8);
  });

  it('Newcombe hybrid score difference matches the published examples', () => {
    const a = newcombeDifference(56, 70, 48, 80);
    expect(a.estimate).toBeCloseTo(0.2, 12);
    expect(a.lo).toBeCloseTo(0.0524, 4);
    expect(a.hi).toBeCloseTo(0.3339, 4);
    const b = newcombeDifference(9, 10, 3, 10);
    expect(b.lo).toBeCloseTo(0.1705, 4);
    expect(b.hi).toBeCloseTo(0.809, 4);
  });

  it('names bad counts', () => {
    expect(() => wilsonInterval(11, 10)).toThrow(/k must be/);
    expect(() => wilsonInterval(1, 0)).toThrow(/n must be/);
    expect(() => wilsonInterval(1, 10, 1.5)).toThrow(/level/);
  });
});

describe('bootstrapMean', () => {
  it('is seeded, brackets the mean, and covers about 95% of the time', () => {
    const rng = new Rng(1);
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const x = Array.from({ length: 30 }, () => rng.normal());
      const ci = bootstrapMean(x, { seed: t, resamples: 400 });
      expect(ci.lo).toBeLessThanOrEqual(ci.estimate);
      expect(ci.hi).toBeGreaterThanOrEqual(ci.estimate);
      if (ci.lo <= 0 && 0 <= ci.hi) covered++;
    }
    // Percentile bootstrap at n = 30 slightly under-covers; 200 trials -> sd ~1.5%.
    expect(covered / trials).toBeGreaterThan(0.88);
    expect(covered / trials).toBeLessThan(0.99);
    const x = [1, 5, 2, 8, 3];
    expect(bootstrapMean(x, { seed: 4 })).toEqual(bootstrapMean(x, { seed: 4 }));
    expect(bootstrapMean(x, { seed: 4 })).not.toEqual(bootstrapMean(x, { seed: 5 }));
    expect(bootstrapMean([0.5, 0.5, 0.5])).toEqual({ estimate: 0.5, lo: 0.5, hi: 0.5, n: 3 });
    expect(() => bootstrapMean([])).toThrow(/empty/);
  });
});
