import { expect, test } from 'vitest';
import { median } from '../../../bench/timing.ts';

test('median of odd and even counts, order-free, input untouched; empty refused', () => {
  const xs = [5, 1, 4];
  expect(median(xs)).toBe(4);
  expect(xs).toEqual([5, 1, 4]);
  expect(median([3, 1, 4, 2])).toBe(2.5);
  expect(median([7])).toBe(7);
  expect(median([2, 9, 9, 1, 100])).toBe(median([100, 1, 9, 9, 2]));
  expect(() => median([])).toThrow(/no timings/);
});
