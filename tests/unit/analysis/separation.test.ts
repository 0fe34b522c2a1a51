import { describe, expect, it } from 'vitest';
import { knnAccuracyLeaveGroupOut, separationMetrics, silhouetteScore } from '../../../src/analysis/separation';
import { Rng } from '../../../src/engine/random';
import { blobs } from './helpers';

// 1-D points: label 0 at 0, 0.1 (episode 0) and 1.0 (episode 1); label 1 at 5 (episode 2),
// 5.2 and 0.3 (episode 3).
const X = [0, 0.1, 1.0, 5, 5.2, 0.3];
const Y = [0, 0, 0, 1, 1, 1];
const G = [0, 0, 1, 2, 3, 3];

describe('k-NN accuracy, leave one group out', () => {
  it('matches a hand-computed case (k = 1)', () => {
    // Nearest point of another episode: 0 -> 0.3 (1, wrong), 0.1 -> 0.3 (wrong), 1.0 -> 0.3
    // (wrong), 5 -> 5.2 (right), 5.2 -> 5 (right), 0.3 -> 0.1 (0, wrong).
    const r = knnAccuracyLeaveGroupOut(X, 6, 1, Y, G, { k: 1 });
    expect(r.accuracy).toBeCloseTo(2 / 6, 12);
    expect(r.n).toBe(6);
    expect(r.excluded).toBe(0);
    // Same-label share of the other episodes' points: 1/4, 1/4, 2/5, 2/5, 1/4, 1/4.
    expect(r.chance).toBeCloseTo((0.25 * 4 + 0.4 * 2) / 6, 12);
  });

  it('breaks a vote tie towards the nearest voter', () => {
    // k = 2 gives every point one vote per label, so the nearest voter decides: 0 -> 0.3,
    // 0.1 -> 0.3, 1.0 -> 0.3 (d 0.7 < 0.9), 0.3 -> 0.1 are wrong; 5 -> 5.2 and 5.2 -> 5 are right.
    const r = knnAccuracyLeaveGroupOut(X, 6, 1, Y, G, { k: 2 });
    expect(r.accuracy).toBeCloseTo(2 / 6, 12);
  });

  it('never lets a point\'s own episode vote', () => {
    // Each episode is a tight clump; the other episode of its task is far away and an
    // episode of the other task is close by. Plain k-NN (every point its own group) is
    // perfect, leave-one-episode-out gets every point wrong.
    const centres = [0, 1, 10, 11]; // episodes 0..3, tasks 0, 1, 0, 1
    const x: number[] = [];
    const y: number[] = [];
    const g: number[] = [];
    centres.forEach((c, e) => {
      for (let i = 0; i < 5; i++) {
        x.push(c + 0.01 * i);
        y.push(e % 2);
        g.push(e);
      }
    });
    const n = x.length;
    expect(knnAccuracyLeaveGroupOut(x, n, 1, y, g, { k: 3 }).accuracy).toBe(0);
    expect(knnAccuracyLeaveGroupOut(x, n, 1, y, Array.from({ length: n }, (_, i) => i), { k: 3 }).accuracy).toBe(1);
  });

  it('leaves out points whose label lives in one episode only', () => {
    const r = knnAccuracyLeaveGroupOut([0, 1, 2, 10], 4, 1, [0, 0, 1, 1], [0, 1, 2, 2], { k: 1 });
    expect(r.excluded).toBe(2);
    expect(r.n).toBe(2);
    expect(r.accuracy).toBe(1);
  });

  it('rejects bad input with the field named', () => {
    expect(() => knnAccuracyLeaveGroupOut(X, 6, 1, Y.slice(1), G)).toThrow(/labels: expected 6/);
    expect(() => knnAccuracyLeaveGroupOut(X, 6, 1, Y, G, { k: 0 })).toThrow(/opts\.k/);
    expect(() => knnAccuracyLeaveGroupOut(X, 6, 1, [0, 0.5, 0, 1, 1, 1], G)).toThrow(/labels: value 1 is not an integer/);
  });
});

describe('silhouette', () => {
  it('matches hand-computed values', () => {
    // a = 1 for every point; b = 4.5, 3.5, 3.5, 4.5 -> s = 7/9, 5/7, 5/7, 7/9.
    expect(silhouetteScore([0, 1, 4, 5], 4, 1, [0, 0, 1, 1])).toBeCloseTo((7 / 9 + 5 / 7) / 2, 12);
    // A singleton cluster contributes 0: (3/4 + 2/3 + 0) / 3.
    expect(silhouetteScore([0, 1, 4], 3, 1, [0, 0, 1])).toBeCloseTo(17 / 36, 12);
  });

  it('uses 1 - cos for the cosine metric', () => {
    // Unit vectors at 0, 90, 180 degrees and 0 again: distances 1 - cos.
    const pts = [1, 0, 0, 1, -1, 0, 2, 0];
    // label 0: rows 0 and 3 (same direction, d = 0); label 1: rows 1, 2 (d = 1).
    // row 0: a = 0, b = mean(1, 2) = 1.5 -> 1; row 3 same; row 1: a = 1, b = mean(1, 1) = 1 -> 0;
    // row 2: a = 1, b = mean(2, 2) = 2 -> 0.5.
    expect(silhouetteScore(pts, 4, 2, [0, 1, 1, 0], 'cosine')).toBeCloseTo((1 + 0 + 0.5 + 1) / 4, 12);
  });

  it('needs at least two labels', () => {
    expect(() => silhouetteScore([0, 1, 2], 3, 1, [4, 4, 4])).toThrow(/between 2 and n - 1/);
  });
});

describe('separation metrics: properties', () => {
  it('perfectly separated clusters give accuracy 1 and silhouette near 1', () => {
    const b = blobs(3, 20, 8, 200, 1);
    const groups = Array.from({ length: b.n }, (_, i) => Math.floor(i / 6)); // 2 points per label per episode
    for (const metric of ['euclidean', 'cosine'] as const) {
      const m = separationMetrics(b.data, b.n, 8, Array.from(b.labels), groups, { k: 5, metric });
      expect(m.knn.accuracy).toBe(1);
      expect(m.silhouette).toBeGreaterThan(0.9);
      expect(m.labels).toBe(3);
    }
  });

  it('is unchanged by renaming labels or groups', () => {
    // Overlapping clusters, so the numbers are neither 0 nor 1 and ties happen.
    const b = blobs(4, 15, 5, 1.2, 7);
    const groups = Array.from({ length: b.n }, (_, i) => Math.floor(i / 8));
    const base = separationMetrics(b.data, b.n, 5, Array.from(b.labels), groups, { k: 4 });
    expect(base.knn.accuracy).toBeGreaterThan(0);
    expect(base.knn.accuracy).toBeLessThan(1);
    const perm = [3, 0, 1, 2].map((v) => 10 * v + 7);
    const renamed = separationMetrics(b.data, b.n, 5, Array.from(b.labels, (l) => perm[l]), groups.map((g) => 100 - 3 * g), { k: 4 });
    expect(renamed.knn).toEqual(base.knn);
    expect(renamed.silhouette).toBeCloseTo(base.silhouette, 12);
  });

  it('cosine metrics ignore the length of each row', () => {
    const b = blobs(3, 10, 6, 3, 11);
    const rng = new Rng(2);
    const scaled = Float64Array.from(b.data);
    for (let i = 0; i < b.n; i++) {
      const s = rng.uniform(0.1, 10);
      for (let j = 0; j < 6; j++) scaled[i * 6 + j] *= s;
    }
    const groups = Array.from({ length: b.n }, (_, i) => i % 5);
    const a = separationMetrics(b.data, b.n, 6, Array.from(b.labels), groups, { metric: 'cosine' });
    const c = separationMetrics(scaled, b.n, 6, Array.from(b.labels), groups, { metric: 'cosine' });
    expect(c.knn).toEqual(a.knn);
    expect(c.silhouette).toBeCloseTo(a.silhouette, 10);
  });

  it('drops unlabelled (null) points before computing', () => {
    const m = separationMetrics([0, 1, 4, 5, 100], 5, 1, [0, 0, 1, 1, null], [0, 1, 0, 1, 2], { k: 1 });
    expect(m.n).toBe(4);
    expect(m.silhouette).toBeCloseTo((7 / 9 + 5 / 7) / 2, 12);
    expect(m.knn.accuracy).toBe(1);
    const none = separationMetrics([0, 1], 2, 1, [null, null], [0, 1]);
    expect(none.n).toBe(0);
    expect(Number.isNaN(none.silhouette)).toBe(true);
  });
});
