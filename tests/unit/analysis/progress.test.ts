import { describe, expect, it } from 'vitest';
import { nearestCentreDistance, progressCurve, srpoFailureRewards, srpoGroupRewards, successCentres } from '../../../src/analysis/progress';
import { Rng } from '../../../src/engine/random';

const DIM = 8;
/** Two success strategies: final-state embeddings scattered around goal A or goal B. */
function successSet(rng: Rng) {
  const goalA = Array.from({ length: DIM }, (_, k) => (k === 0 ? 10 : 0));
  const goalB = Array.from({ length: DIM }, (_, k) => (k === 1 ? 10 : 0));
  const rows: number[] = [];
  for (let i = 0; i < 40; i++) {
    const g = i % 2 ? goalB : goalA;
    for (let k = 0; k < DIM; k++) rows.push(g[k] + 0.2 * rng.normal());
  }
  return { data: Float64Array.from(rows), goalA, goalB };
}

/** A trajectory of T frames moving from `start` toward `goal` with a little noise. */
function trajectory(start: number[], goal: number[], T: number, rng: Rng, reach = 1): Float64Array {
  const out = new Float64Array(T * DIM);
  for (let t = 0; t < T; t++) {
    const a = (reach * t) / (T - 1);
    for (let k = 0; k < DIM; k++) out[t * DIM + k] = start[k] + a * (goal[k] - start[k]) + 0.02 * rng.normal();
  }
  return out;
}

describe('SRPO progress reward', () => {
  const rng = new Rng(11);
  const { data, goalA, goalB } = successSet(rng);
  const C = successCentres(data, 40, DIM);

  it('clusters successes into the two strategies, centres near the goals', () => {
    expect(C.fallback).toBe(false);
    expect(C.nCentres).toBe(2);
    const dA = nearestCentreDistance(Float64Array.from(goalA), 1, C)[0];
    const dB = nearestCentreDistance(Float64Array.from(goalB), 1, C)[0];
    expect(dA).toBeLessThan(0.1);
    expect(dB).toBeLessThan(0.1);
  });

  it('a failed trajectory moving toward either centre has rising progress, ending near 1', () => {
    const start = new Array(DIM).fill(0).map((_, k) => (k === 2 ? 8 : 0));
    for (const goal of [goalA, goalB]) {
      const tr = trajectory(start, goal, 30, rng);
      const r = progressCurve(tr, 30, C, 'zero-anchored');
      expect(r[0]).toBeCloseTo(0, 1);
      expect(r[29]).toBeGreaterThan(0.95);
      for (let t = 1; t < 30; t++) expect(r[t]).toBeGreaterThan(r[t - 1] - 0.02);
    }
  });

  it('min-max curves span exactly [0, 1]; a half-way failure stays near the middle', () => {
    const start = new Array(DIM).fill(0);
    const r = progressCurve(trajectory(start, goalA, 20, rng), 20, C, 'min-max');
    expect(Math.min(...r)).toBe(0);
    expect(Math.max(...r)).toBe(1);
    const half = progressCurve(trajectory([0, 0, 10, 0, 0, 0, 0, 0], goalA, 20, rng, 0.5), 20, C, 'zero-anchored');
    expect(half[19]).toBeGreaterThan(0.3);
    expect(half[19]).toBeLessThan(0.7);
  });

  it('Eq. 5: closer failures earn more, bounded by alpha; successes get 1', () => {
    // Hand-computed: d = [1, 3] -> mean 2, std 1, z = [-1, 1], g = 0.8 * sigmoid(-z).
    const g = srpoFailureRewards([1, 3]);
    expect(g[0]).toBeCloseTo(0.8 / (1 + Math.exp(-1)), 12);
    expect(g[1]).toBeCloseTo(0.8 / (1 + Math.exp(1)), 12);
    expect(Array.from(srpoFailureRewards([2, 2, 2], { alpha: 1 }))).toEqual([0.5, 0.5, 0.5]);

    const near = goalA.map((v) => v * 0.9);
    const far = goalA.map((v) => v * 0.2);
    const emb = Float64Array.from([...goalA, ...near, ...far]);
    const rewards = srpoGroupRewards(emb, [true, false, false], C);
    expect(rewards[0]).toBe(1);
    expect(rewards[1]).toBeGreaterThan(rewards[2]);
    expect(rewards[1]).toBeLessThan(0.8);
  });

  it('falls back to the mean when every success is noise, and names bad input', () => {
    const spread = Float64Array.from([0, 0, 100, 0, 0, 100]);
    const c = successCentres(spread, 3, 2, { eps: 1, minPts: 2 });
    expect(c.fallback).toBe(true);
    expect(Array.from(c.centres)).toEqual([100 / 3, 100 / 3]);
    expect(() => srpoFailureRewards([1, -1])).toThrow(/distances\[1\]/);
    expect(() => srpoFailureRewards([1], { alpha: 2 })).toThrow(/alpha/);
    expect(() => progressCurve(new Float64Array(5), 1, c, 'min-max')).toThrow(/points/);
  });
});
