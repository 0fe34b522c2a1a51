import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { World } from '../../../src/sim/world';
import { evalPredicate, getInitState, getTask, THRESHOLDS, type Predicate, type TaskSpec } from '../../../src/sim';
import { DRAWER } from '../../../src/sim/fixtures';
import { yawQuat } from '../../../src/sim/math';

// The goal scene has everything: a block, a can, a plate, a tray and a drawer.
let task: TaskSpec;
let w: World;
beforeAll(async () => {
  task = getTask('goal/red_on_plate');
  w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
});
afterAll(() => w?.delete());

const P = (pred: Predicate['pred'], ...args: string[]): Predicate => ({ pred, args });
const holds = (p: Predicate) => evalPredicate(task, w.physics, p);

/** Puts the world in the initial state, then moves one object to a pose (no physics step). */
function place(name: string, pos: [number, number, number], yaw = 0, tilt = 0): void {
  w.reset(getInitState(task, 0));
  const q = yawQuat(yaw);
  if (tilt) {
    const c = Math.cos(tilt / 2);
    const s = Math.sin(tilt / 2);
    q.splice(0, 4, c * q[0], s * q[0], 0, c * q[3]);
  }
  w.physics.setObjectPose(name, pos, q);
  w.physics.forward();
}

describe('predicates', () => {
  test('On: resting over the plate holds; beside it, hovering, or tipped over does not', () => {
    const plate = () => w.objectPos('plate');
    w.reset(getInitState(task, 0));
    const [px, py, pz] = plate();
    const top = pz + 0.006;
    place('red_block', [px + 0.03, py - 0.02, top + 0.02 + 0.002]);
    expect(holds(P('On', 'red_block', 'plate'))).toBe(true);
    place('red_block', [px + 0.1, py, 0.02]);
    expect(holds(P('On', 'red_block', 'plate'))).toBe(false);
    place('red_block', [px, py, top + 0.02 + THRESHOLDS.onVertical + 0.01]);
    expect(holds(P('On', 'red_block', 'plate'))).toBe(false);
    place('red_block', [px, py, top + 0.02], 0, 1.2);
    expect(holds(P('On', 'red_block', 'plate'))).toBe(false);
  });

  test('In: inside the tray holds; on its rim or outside does not', () => {
    w.reset(getInitState(task, 0));
    const [tx, ty, tz] = w.objectPos('tray');
    const floor = tz - 0.02 + 0.005;
    place('blue_can', [tx + 0.02, ty + 0.02, floor + 0.03 + 0.001]);
    expect(holds(P('In', 'blue_can', 'tray'))).toBe(true);
    place('blue_can', [tx + 0.075, ty, tz + 0.02 + 0.03]);
    expect(holds(P('In', 'blue_can', 'tray'))).toBe(false);
    place('blue_can', [tx + 0.2, ty, 0.03]);
    expect(holds(P('In', 'blue_can', 'tray'))).toBe(false);
  });

  test('In(drawer): inside the open drawer holds; on the cabinet top does not', () => {
    const f = task.fixtures[0];
    place('red_block', [f.pos[0] - 0.12, f.pos[1], DRAWER.floorZ + 0.021]);
    w.physics.setDrawerOpening('drawer', 0.15);
    w.physics.forward();
    expect(holds(P('In', 'red_block', 'drawer'))).toBe(true);
    place('red_block', [f.pos[0], f.pos[1], DRAWER.height + 0.021]);
    expect(holds(P('In', 'red_block', 'drawer'))).toBe(false);
  });

  test('Open / Close follow the drawer travel thresholds', () => {
    w.reset(getInitState(task, 0));
    const set = (v: number) => {
      w.physics.setDrawerOpening('drawer', v);
      w.physics.forward();
    };
    set(0);
    expect(holds(P('Close', 'drawer'))).toBe(true);
    expect(holds(P('Open', 'drawer'))).toBe(false);
    set(DRAWER.travel * 0.5);
    expect(holds(P('Close', 'drawer'))).toBe(false);
    expect(holds(P('Open', 'drawer'))).toBe(false);
    set(DRAWER.travel * 0.9);
    expect(holds(P('Open', 'drawer'))).toBe(true);
    expect(holds(P('Close', 'drawer'))).toBe(false);
  });

  test('Up: lifted 5 cm above the table holds; resting does not', () => {
    place('blue_can', [0, 0, 0.03 + THRESHOLDS.upHeight + 0.01]);
    expect(holds(P('Up', 'blue_can'))).toBe(true);
    place('blue_can', [0, 0, 0.03]);
    expect(holds(P('Up', 'blue_can'))).toBe(false);
  });

  test('unknown names fail with a message naming them', () => {
    expect(() => holds(P('Up', 'green_thing'))).toThrow(/green_thing/);
  });
});
