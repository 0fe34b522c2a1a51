import { expect, test } from 'vitest';
import { channelSeries, dimNames, episodeCountLabel, SERIES_MARGIN, seriesAxes, unwrapAngle, unwrapNote } from '../../../src/ui/tabs/data/series.ts';

test('an angle that wraps from +pi to -pi is unwrapped into a continuous line', () => {
  const raw = [3.0, 3.1, -3.13, -3.03, 3.1];
  const un = unwrapAngle(raw)!;
  expect(un).not.toBeNull();
  for (let i = 1; i < un.length; i++) expect(Math.abs(un[i] - un[i - 1])).toBeLessThan(0.3);
  expect(un[2]).toBeCloseTo(-3.13 + 2 * Math.PI, 9);
  expect(un[4]).toBeCloseTo(3.1, 9);
  // Smooth channels and values outside [-pi, pi] (positions, gripper) are left alone.
  expect(unwrapAngle([0.1, 0.2, 0.3])).toBeNull();
  expect(unwrapAngle([5, -5, 5])).toBeNull();
});

test('channels are split, unwrapped where needed, and the UI says which', () => {
  // Two channels, [rz, x] per frame.
  const data = new Float32Array([3.1, 0.5, -3.1, 0.6, -3.0, 0.7]);
  const s = channelSeries(data, 3, ['rz', 'x']);
  expect(s.map((c) => c.unwrapped)).toEqual([true, false]);
  expect(s[1].y.map((v) => Number(v.toFixed(2)))).toEqual([0.5, 0.6, 0.7]);
  expect(unwrapNote(s)).toMatch(/^rz: angle unwrapped/);
  expect(unwrapNote([s[1]])).toBeNull();
});

test('every stacked plot gets the same margins and x range, so the time axes line up', () => {
  const a = seriesAxes(50);
  const b = seriesAxes(50);
  expect(a.margin).toEqual(SERIES_MARGIN);
  expect(a.margin.autoexpand).toBe(false);
  expect(a.xaxis.range).toEqual([-0.5, 49.5]);
  expect(b.xaxis).toEqual(a.xaxis);
});

test('the episode heading counts what the filter shows', () => {
  expect(episodeCountLabel(3, 60, true)).toBe('Episodes (3 of 60)');
  expect(episodeCountLabel(60, 60, false)).toBe('Episodes (60)');
});

test('statistics rows are named after the feature\'s channels', () => {
  expect(dimNames({ dtype: 'float32', shape: [3], names: ['x', 'y', 'z'] }, 'observation.state', 3)).toEqual(['x', 'y', 'z']);
  expect(dimNames({ dtype: 'float32', shape: [2], names: { motors: ['a', 'b'] } }, 'action', 2)).toEqual(['a', 'b']);
  expect(dimNames({ dtype: 'float32', shape: [2], names: null }, 'action', 2)).toEqual(['action[0]', 'action[1]']);
});
