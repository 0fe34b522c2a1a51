import { describe, expect, test } from 'vitest';
import { Rng } from '../../../src/engine/random';
import { fans, initArray } from '../../../src/engine/init';

function stats(a: Float32Array) {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
  return { mean, std: Math.sqrt(variance), min: Math.min(...a), max: Math.max(...a) };
}

describe('init', () => {
  test('the same seed gives the same values; another seed does not', () => {
    const a = initArray(new Rng(5), [16, 8], { kind: 'xavierUniform' });
    const b = initArray(new Rng(5), [16, 8], { kind: 'xavierUniform' });
    const c = initArray(new Rng(6), [16, 8], { kind: 'xavierUniform' });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  test('distributions have the documented moments and bounds', () => {
    const rng = new Rng(1);
    const n = stats(initArray(rng, [200, 100], { kind: 'normal', std: 0.02, mean: 0.5 }));
    expect(n.mean).toBeCloseTo(0.5, 3);
    expect(n.std).toBeCloseTo(0.02, 3);
    const u = stats(initArray(rng, [20000], { kind: 'uniform', low: -2, high: 1 }));
    expect(u.min).toBeGreaterThanOrEqual(-2);
    expect(u.max).toBeLessThan(1);
    expect(u.mean).toBeCloseTo(-0.5, 1);
    const limit = Math.sqrt(6 / (300 + 100));
    const xu = stats(initArray(rng, [300, 100], { kind: 'xavierUniform' }));
    expect(xu.max).toBeLessThanOrEqual(limit);
    expect(xu.min).toBeGreaterThanOrEqual(-limit);
    expect(xu.std).toBeCloseTo(limit / Math.sqrt(3), 2);
    const xn = stats(initArray(rng, [300, 100], { kind: 'xavierNormal', gain: 2 }));
    expect(xn.std).toBeCloseTo(2 * Math.sqrt(2 / 400), 2);
    expect(Array.from(initArray(rng, [3], { kind: 'ones' }))).toEqual([1, 1, 1]);
  });

  test('fans follow the [in, out] weight layout', () => {
    expect(fans([64, 32])).toEqual({ fanIn: 64, fanOut: 32 });
    expect(fans([2, 3, 5])).toEqual({ fanIn: 6, fanOut: 5 });
    expect(() => fans([7])).toThrow(/needs a matrix, got shape \[7\]/);
  });
});
