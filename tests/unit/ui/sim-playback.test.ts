import { expect, test } from 'vitest';
import { fitCamera, inView, worldHalf } from '../../../src/ui/tabs/sim/framing.ts';
import { achievedSpeed, frameBadges, speedNote } from '../../../src/ui/tabs/sim/playback.ts';

test('the player reports the speed it reaches and says when it is below the chosen one', () => {
  // 30 steps in 3 s at 20 Hz: half real time.
  expect(achievedSpeed(30, 3000, 20)).toBeCloseTo(0.5);
  expect(achievedSpeed(5, 400, 20)).toBeNull();
  const slow = speedNote(0.5, 8, true)!;
  expect(slow.slow).toBe(true);
  expect(slow.text).toMatch(/^playing at 0\.50× real time, below the chosen 8×/);
  expect(speedNote(1.95, 2, true)).toEqual({ text: 'playing at 1.9× real time', slow: false });
  expect(speedNote(null, 2, true)).toBeNull();
});

test('a failed rollout shows one failure badge, the outcome tag', () => {
  expect(frameBadges({ hasOutcome: true, success: false, done: true, atEnd: true })).toEqual({ success: false, failed: false });
  expect(frameBadges({ hasOutcome: false, success: false, done: true, atEnd: true })).toEqual({ success: false, failed: true });
  expect(frameBadges({ hasOutcome: true, success: true, done: true, atEnd: true }).success).toBe(true);
});

test('the camera frames every point of the scene, the top of the arm included', () => {
  // A table (wide, low) and an arm rising to 0.9 m behind it, in three.js coordinates.
  const pts: [number, number, number][] = [[-0.4, 0, -0.4], [0.4, 0, 0.4], [-0.4, 0.05, 0.4], [0.4, 0.05, -0.4], [-0.6, 0, 0], [-0.6, 0.9, 0], [-0.4, 0.7, 0.1]];
  const back: [number, number, number] = [1.25, 0.75, 0];
  // The viewer's old fixed pose: the arm's top is out of view.
  expect(inView(pts, { position: [1.1, 0.8, 0], target: [-0.15, 0.05, 0] }, 45, 560 / 400)).toBe(false);
  const cam = fitCamera(pts, back, 45, 560 / 400)!;
  expect(inView(pts, cam, 45, 560 / 400)).toBe(true);
  // Not needlessly far: 10% closer loses something.
  const closer = cam.position.map((p, k) => cam.target[k] + 0.9 * (p - cam.target[k])) as [number, number, number];
  expect(inView(pts, { position: closer, target: cam.target }, 45, 560 / 400)).toBe(false);
});

test('a geom\'s world extent follows its rotation, so a flat table stays flat', () => {
  const I = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  // A 0.6 x 0.4 x 0.02 table top (half sizes) lying flat: 2 cm tall, not its 0.72 m bounding sphere.
  expect(worldHalf(6, [0.6, 0.4, 0.02], I, 0.72)).toEqual([0.6, 0.4, 0.02]);
  // A capsule link turned to lie along x: long in x, its radius in y and z.
  const alongX = [0, 0, 1, 0, 1, 0, -1, 0, 0];
  expect(worldHalf(3, [0.05, 0.2, 0], alongX, 0.25)).toEqual([0.25, 0.05, 0.05]);
  // A mesh (unknown shape) falls back to its bounding sphere.
  expect(worldHalf(7, [0, 0, 0], I, 0.3)).toEqual([0.3, 0.3, 0.3]);
});
