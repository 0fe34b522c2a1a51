import { describe, expect, it } from 'vitest';
import { valueCurveMetrics, valueCurveSummary } from '../../../src/analysis/value';

describe('value-curve metrics (PRTS Fig. 9)', () => {
  it('fraction above and Spearman with time for one episode', () => {
    const m = valueCurveMetrics([0.1, 0.3, 0.2, 0.5], [0.2, 0.1, 0.2, 0.0]);
    // above at t = 1 and 3; the tie at t = 2 does not count.
    expect(m.fracTrueAbove).toBe(0.5);
    // ranks of vTrue [1, 3, 2, 4] vs [1, 2, 3, 4]: rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    expect(m.spearmanTime).toBeCloseTo(0.8, 12);
    expect(m.frames).toBe(4);
  });

  it('aggregates episodes with a seeded bootstrap CI and skips undefined correlations', () => {
    const episodes = [
      { vTrue: [0, 1, 2, 3], vWrong: [-1, -1, -1, -1] },
      { vTrue: [0, 1, 2, 3], vWrong: [1, 1, 1, 1] },
      { vTrue: [1, 1, 1, 1], vWrong: [0, 0, 0, 0] },
    ];
    const s = valueCurveSummary(episodes, { seed: 3 });
    expect(s.fracTrueAbove.estimate).toBeCloseTo((1 + 0.5 + 1) / 3, 12);
    expect(s.fracTrueAbove.lo).toBeGreaterThanOrEqual(0.5);
    expect(s.fracTrueAbove.hi).toBeLessThanOrEqual(1);
    expect(s.spearmanTime).toEqual({ estimate: 1, lo: 1, hi: 1, n: 2 });
    expect(valueCurveSummary(episodes, { seed: 3 })).toEqual(s);
  });

  it('names the offending episode', () => {
    expect(() => valueCurveSummary([{ vTrue: [1, 2], vWrong: [1, 2] }, { vTrue: [1, 2], vWrong: [1] }])).toThrow(/episodes\[1\]: vTrue and vWrong/);
    expect(() => valueCurveMetrics([1, NaN], [0, 0])).toThrow(/vTrue\[1\]/);
  });
});
