import { describe, expect, test } from 'vitest';
import { checkSchedule, lrAt } from '../../../src/train/schedule.ts';

describe('learning-rate schedule', () => {
  const s = { lr: 1e-3, warmup: 10, steps: 111, minRatio: 0.1 };

  test('linear warmup reaches the peak at the last warmup step', () => {
    expect(lrAt(0, s)).toBeCloseTo(1e-4, 12);
    expect(lrAt(4, s)).toBeCloseTo(5e-4, 12);
    expect(lrAt(9, s)).toBeCloseTo(1e-3, 12);
  });

  test('cosine decays from the peak to the floor at the last step, monotonically', () => {
    expect(lrAt(10, s)).toBeCloseTo(1e-3, 12);
    // Halfway through the decay the cosine is at the mid point of peak and floor.
    expect(lrAt(60, s)).toBeCloseTo((1e-3 + 1e-4) / 2, 12);
    expect(lrAt(110, s)).toBeCloseTo(1e-4, 12);
    for (let k = 11; k < 111; k++) expect(lrAt(k, s)).toBeLessThanOrEqual(lrAt(k - 1, s));
    // An extended run stays at the floor.
    expect(lrAt(500, s)).toBeCloseTo(1e-4, 12);
  });

  test('no warmup starts at the peak; a floor of 0 decays to 0', () => {
    expect(lrAt(0, { lr: 2, warmup: 0, steps: 5, minRatio: 0 })).toBe(2);
    expect(lrAt(4, { lr: 2, warmup: 0, steps: 5, minRatio: 0 })).toBeCloseTo(0, 12);
    expect(lrAt(0, { lr: 2, warmup: 0, steps: 1 })).toBe(2);
  });

  test('bad schedules name the field', () => {
    expect(() => checkSchedule({ lr: 0, warmup: 0, steps: 1 })).toThrow(/schedule.lr must be a positive number/);
    expect(() => checkSchedule({ lr: 1, warmup: 5, steps: 4 })).toThrow(/schedule.warmup must be an integer in \[0, steps = 4\]/);
    expect(() => checkSchedule({ lr: 1, warmup: 0, steps: 4, minRatio: 2 })).toThrow(/schedule.minRatio/);
    expect(() => lrAt(-1, s)).toThrow(/step must be a non-negative integer/);
  });
});
