import { describe, expect, it } from 'vitest';
import { dbscan } from '../../../src/analysis/dbscan';
import { Rng } from '../../../src/engine/random';

/** Three tight 2-D blobs (std 0.3) at known centres plus uniform background noise. */
function blobsWithNoise(seed: number) {
  const rng = new Rng(seed);
  const centres = [
    [0, 0],
    [10, 0],
    [0, 10],
  ];
  const pts: number[] = [];
  const truth: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 60; i++) {
      pts.push(centres[c][0] + 0.3 * rng.normal(), centres[c][1] + 0.3 * rng.normal());
      truth.push(c);
    }
  }
  // Noise far from each other and from the blobs: a 5 x 5 grid offset into the gaps.
  for (let a = 0; a < 5; a++) {
    for (let b = 0; b < 5; b++) {
      pts.push(-20 + 4 * a + 20 * 2, -20 + 4 * b + 20 * 2);
      truth.push(-1);
    }
  }
  return { data: Float64Array.from(pts), truth, centres };
}

describe('dbscan', () => {
  it('finds the three blobs, marks the scattered points as noise, and centres them', () => {
    const { data, truth, centres } = blobsWithNoise(1);
    const n = truth.length;
    const r = dbscan(data, n, 2, { eps: 1, minPts: 5 });
    expect(r.nClusters).toBe(3);
    expect(r.sizes).toEqual([60, 60, 60]);
    // Blob c is discovered c-th because its points come first in index order.
    for (let i = 0; i < n; i++) expect(r.labels[i]).toBe(truth[i]);
    for (let c = 0; c < 3; c++) {
      expect(r.centres[c * 2]).toBeCloseTo(centres[c][0], 0);
      expect(r.centres[c * 2 + 1]).toBeCloseTo(centres[c][1], 0);
    }
  });

  it('follows the core/border/noise definitions on a hand-made line', () => {
    // Points at 0, 1, 2, 3 and 10 with eps 1.5, minPts 3 (self included):
    // 0 has {0,1} -> border; 1 {0,1,2} core; 2 {1,2,3} core; 3 {2,3} border; 10 noise.
    const data = Float64Array.from([0, 1, 2, 3, 10]);
    const r = dbscan(data, 5, 1, { eps: 1.5, minPts: 3 });
    expect(Array.from(r.core)).toEqual([0, 1, 1, 0, 0]);
    expect(Array.from(r.labels)).toEqual([0, 0, 0, 0, -1]);
    expect(r.centres[0]).toBeCloseTo(1.5, 12);
  });

  it('clusters by angle with the cosine metric and returns unit centres', () => {
    // Two directions, different lengths: euclidean would split by length, cosine by angle.
    const data: number[] = [];
    for (let i = 1; i <= 6; i++) data.push(i, 0.01 * i * (i % 2 ? 1 : -1));
    for (let i = 1; i <= 6; i++) data.push(0.01 * i, i);
    const r = dbscan(Float64Array.from(data), 12, 2, { eps: 0.01, minPts: 3, metric: 'cosine' });
    expect(r.nClusters).toBe(2);
    expect(Array.from(r.labels)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    expect(Math.hypot(r.centres[0], r.centres[1])).toBeCloseTo(1, 12);
  });

  it('names bad arguments', () => {
    expect(() => dbscan([0, 1], 2, 1, { eps: 0, minPts: 2 })).toThrow(/opts.eps/);
    expect(() => dbscan([0, 1], 2, 1, { eps: 1, minPts: 0 })).toThrow(/opts.minPts/);
    expect(() => dbscan([0, NaN], 2, 1, { eps: 1, minPts: 1 })).toThrow(/not finite/);
  });
});
