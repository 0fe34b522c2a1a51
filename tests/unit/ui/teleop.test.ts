import { expect, test } from 'vitest';
import { deltaFromAxes, teleopAxes } from '../../../src/ui/tabs/robot/teleop.ts';
import { decodeCamera } from '../../../src/ui/tabs/robot/robotClient.ts';

test('keys map to EE axes; opposite keys cancel; gamepad adds with a deadzone', () => {
  expect(teleopAxes(new Set(['KeyW', 'KeyA']), null)).toEqual([1, 1, 0, 0, 0, 0]);
  expect(teleopAxes(new Set(['KeyW', 'KeyS', 'KeyE']), null)).toEqual([0, 0, 0, 0, 0, -1]);
  expect(teleopAxes(new Set(), { axes: [0.1, -0.5, 0, 0.9] })).toEqual([0.5, 0, -0.9, 0, 0, 0]);
  expect(teleopAxes(new Set(['KeyW']), { axes: [0, -1, 0, 0] })).toEqual([1, 0, 0, 0, 0, 0]);
});

test('deltas are fractions of the per-step limits plus the absolute gripper', () => {
  expect(deltaFromAxes([1, -1, 0, 0, 0, 0.5], [0.01, 0.01, 0.01, 0.1, 0.1, 0.1], 0.5, 0.04)).toEqual([0.005, -0.005, 0, 0, 0, 0.025, 0.04]);
});

test('camera frames decode from the PRTC binary layout', () => {
  const buf = new ArrayBuffer(24 + 2 * 1 * 3);
  const dv = new DataView(buf);
  dv.setUint32(0, 0x43545250, true);
  dv.setUint8(4, 1);
  dv.setUint8(5, 1);
  dv.setUint16(8, 2, true);
  dv.setUint16(10, 1, true);
  dv.setUint32(12, 7, true);
  new Uint8Array(buf, 24).set([10, 20, 30, 40, 50, 60]);
  const f = decodeCamera(buf)!;
  expect(f.width).toBe(2);
  expect(f.seq).toBe(7);
  expect([...f.rgba]).toEqual([10, 20, 30, 255, 40, 50, 60, 255]);
  expect(decodeCamera(new ArrayBuffer(30))).toBeNull();
});
