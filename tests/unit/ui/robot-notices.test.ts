import { expect, test } from 'vitest';
import { appendNotice, bannerError, disconnectedHint, noticeLine, type Notice } from '../../../src/ui/tabs/robot/notices.ts';
import { teleopTick } from '../../../src/ui/tabs/robot/teleop.ts';

const refusal = 'estopped (ee_delta): the e-stop is latched; commands are refused until reset_estop';

test('identical consecutive events collapse into one line with a count', () => {
  let list: Notice[] = [];
  for (let i = 0; i < 40; i++) list = appendNotice(list, { at: 1000 + i, level: 'error', text: refusal });
  expect(list).toHaveLength(1);
  expect(list[0].at).toBe(1039);
  expect(noticeLine(list[0])).toBe(`${refusal} (×40)`);
  list = appendNotice(list, { at: 2000, level: 'warn', text: 'safety: estop_reset by c1' });
  list = appendNotice(list, { at: 2001, level: 'error', text: refusal });
  expect(list.map((n) => n.count ?? 1)).toEqual([40, 1, 1]);
  expect(noticeLine(list[2])).toBe(refusal);
});

test('the e-stop refusal leaves the banner once the e-stop or the scene is reset', () => {
  const at = 10_000;
  const estop: Notice[] = [{ at, level: 'error', text: refusal }];
  expect(bannerError(estop, at + 100, true)?.text).toBe(refusal);
  // Reset e-stop: telemetry says not latched before the refusal has aged out.
  expect(bannerError(estop, at + 100, false)).toBeNull();
  const other: Notice[] = [{ at, level: 'error', text: 'not_controller (ee_delta): request the lease' }];
  expect(bannerError(other, at + 100, false)?.text).toMatch(/not_controller/);
  expect(bannerError([...other, { at: at + 50, level: 'warn', text: 'safety: estop_reset by c1' }], at + 100, false)).toBeNull();
  expect(bannerError([...other, { at: at + 50, level: 'info', text: 'scene reset' }], at + 100, false)).toBeNull();
  expect(bannerError(other, at + 10_000, false)).toBeNull();
});

test('no teleop command is sent while the e-stop is latched', () => {
  const base = { axes: [1, 0, 0, 0, 0, 0], gripper: 0.02, closing: true, opening: false, gripperRange: [0, 0.04] as [number, number], hz: 20 };
  expect(teleopTick({ ...base, estopped: true })).toEqual({ gripper: 0.02, send: false });
  const live = teleopTick({ ...base, estopped: false });
  expect(live.send).toBe(true);
  expect(live.gripper).toBeCloseTo(0.022);
  expect(teleopTick({ ...base, axes: [0, 0, 0, 0, 0, 0], closing: false, estopped: false }).send).toBe(false);
});

test('the hint before Connect does not call an online server missing', () => {
  expect(disconnectedHint('online')).not.toMatch(/needs the workbench server/);
  expect(disconnectedHint('online')).toMatch(/Connect/);
  expect(disconnectedHint('offline')).toMatch(/npm start/);
});
