import { describe, expect, it } from 'vitest';
import {
  jsDivergence,
  medianHeuristicBandwidth,
  mmdRbf,
  progressRewardBenchmark,
  standardizedMeanDifference,
  temporalCorrelation,
  temporalMonotonicity,
} from '../../../src/analysis/reward-metrics';

describe('SRPO Table 3 metrics on hand-computed cases', () => {
  it('monotonicity counts strict increases (Eq. 11)', () => {
    expect(temporalMonotonicity([0, 1, 1, 2, 1])).toBe(0.5);
    expect(temporalMonotonicity([0, 0.1, 0.2])).toBe(1);
    expect(() => temporalMonotonicity([1])).toThrow(/at least 2/);
  });

  it('temporal correlation is Spearman with frame number, 0 for flat curves (Eq. 10)', () => {
    expect(temporalCorrelation([1, 2, 2, 3, 1])).toBeCloseTo(1.5 / Math.sqrt(90), 12);
    expect(temporalCorrelation([0.5, 0.5, 0.5])).toBe(0);
  });

  it('MMD with the median-heuristic RBF kernel (Eq. 12)', () => {
    // One point each at distance 1: sigma = 1, MMD^2 = 2 - 2 exp(-1/2).
    expect(mmdRbf([0], [1]).mmd2).toBeCloseTo(2 - 2 * Math.exp(-0.5), 12);
    // a = {0, 1}, b = {1}: pooled distances {1, 1, 0} -> sigma 1; MMD^2 = (1 - e^-0.5) / 2.
    const r = mmdRbf([0, 1], [1]);
    expect(r.bandwidth).toBe(1);
    expect(r.mmd2).toBeCloseTo((1 - Math.exp(-0.5)) / 2, 12);
    expect(mmdRbf([0.3, 0.3], [0.3]).mmd2).toBe(0);
    // {0, 0, 0, 2}: distances {0, 0, 0, 2, 2, 2}, median 1.
    expect(medianHeuristicBandwidth([0, 0, 0, 2])).toBe(1);
    // {0, 0, 0, 0, 2}: six zeros and four 2s, median 0 -> median of the non-zero ones.
    expect(medianHeuristicBandwidth([0, 0, 0, 0, 2])).toBe(2);
  });

  it('JS divergence of histograms, natural log (Eq. 13)', () => {
    // P = [1, 0, ...], Q = [.5, ..., .5]: 0.5 ln(4/3) + 0.25 ln(2/3) + 0.25 ln 2.
    const expected = 0.5 * Math.log(4 / 3) + 0.25 * Math.log(2 / 3) + 0.25 * Math.log(2);
    expect(jsDivergence([0.05, 0.05], [0.05, 0.95])).toBeCloseTo(expected, 12);
    expect(jsDivergence([0.1, 0.2], [0.9, 1.0])).toBeCloseTo(Math.log(2), 12);
    expect(jsDivergence([0.1, 0.9], [0.9, 0.1])).toBe(0);
    expect(() => jsDivergence([1.2], [0.5])).toThrow(/a\[0\] = 1.2 lies outside/);
  });

  it('SMD with pooled sd (Eq. 14)', () => {
    // means 2 and 0.5; pooled sd = sqrt((2 * 1 + 1 * 0.5) / 3).
    expect(standardizedMeanDifference([1, 2, 3], [0, 1])).toBeCloseTo(1.5 / Math.sqrt(2.5 / 3), 12);
    expect(standardizedMeanDifference([1, 1], [0])).toBe(Infinity);
    expect(() => standardizedMeanDifference([1], [0])).toThrow(/at least 3/);
  });
});

describe('progressRewardBenchmark', () => {
  it('averages per task, skips metrics a task cannot define', () => {
    const lin = (T: number, end: number) => Array.from({ length: T }, (_, t) => (end * t) / (T - 1));
    const res = progressRewardBenchmark([
      { task: 'a', success: true, progress: lin(10, 1) },
      { task: 'a', success: true, progress: [0, 0.5, 0.4, 1] },
      { task: 'a', success: false, progress: lin(10, 0.3) },
      { task: 'b', success: true, progress: lin(5, 1) },
    ]);
    const a = res.tasks.find((t) => t.task === 'a')!;
    const b = res.tasks.find((t) => t.task === 'b')!;
    expect(a.mono).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect(a.sc).toBeCloseTo((1 + 0.8) / 2, 12);
    // finals: success {1, 1}, failure {0.3}: disjoint histograms -> ln 2.
    expect(a.js).toBeCloseTo(Math.log(2), 12);
    expect(a.smd).toBe(Infinity);
    expect(a.mmd).toBeGreaterThan(0);
    expect(b.mmd).toBeUndefined();
    expect(res.sc).toBeCloseTo((0.9 + 1) / 2, 12);
    expect(res.mono).toBeCloseTo(((1 + 2 / 3) / 2 + 1) / 2, 12);
    expect(res.js).toBeCloseTo(Math.log(2), 12);
    expect(() => progressRewardBenchmark([])).toThrow(/empty/);
  });
});
