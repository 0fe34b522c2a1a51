/**
 * Grounding labels from the simulator's episode metadata (src/train/grounding-labels.ts).
 * Checked against what the labels mean, not against the code's own arithmetic: on a
 * shared reach scene the six instructions name six different slots, and the named block
 * stands inside the labelled slot.
 */
import { describe, expect, test } from 'vitest';
import { getInitState } from '../../../src/sim/tasks/init';
import { getTask, listTasks } from '../../../src/sim/tasks/suites';
import { groundingLabelOf, groundingLabels } from '../../../src/train/grounding-labels';

const reach = listTasks('reach');

describe('grounding labels', () => {
  test('property, reach training scenes 50-149: the six instructions of one scene get six different slots', () => {
    for (let state = 50; state < 150; state++) {
      const labels = reach.map((t) => groundingLabelOf({ task_id: t.id, init_index: state }));
      expect(new Set(labels).size, `state ${state}`).toBe(6);
      for (const l of labels) expect(l >= 0 && l < 6).toBe(true);
    }
  });

  test('property, every reach task on benchmark states 0-49: the named block stands inside the labelled slot', () => {
    for (const task of reach) {
      const named = task.goal[0].args[0];
      for (let state = 0; state < 50; state++) {
        const label = groundingLabelOf({ task_id: task.id, init_index: state });
        const [x, y] = getInitState(task, state).objects[named].pos;
        const r = task.regions[label];
        // Inside the slot's square, widened by its yaw (a rotated square's half-diagonal).
        expect(Math.hypot(x - r.center[0], y - r.center[1]), `${task.id} state ${state}`).toBeLessThanOrEqual(Math.hypot(r.half[0], r.half[1]) + 1e-9);
      }
    }
  });

  test('episodes the simulator did not write, or tasks without an object goal, get -1; a bad init_index names the episode', () => {
    expect(groundingLabelOf({})).toBe(-1);
    expect(groundingLabelOf({ task_id: 'reach/touch_red' })).toBe(-1);
    expect(groundingLabelOf({ task_id: 'no/such_task', init_index: 3 })).toBe(-1);
    expect(groundingLabelOf({ task_id: 'goal/open_drawer', init_index: 3 })).toBe(-1);
    expect(getTask('goal/open_drawer').goal[0].args[0]).toBe('drawer');
    const summary = groundingLabels([{ meta: { task_id: 'reach/touch_red', init_index: 60 } }, { meta: {} }, { meta: { task_id: 'reach/touch_blue', init_index: 60 } }]);
    expect(summary.labelled).toBe(2);
    expect(summary.byEpisode[1]).toBe(-1);
    expect(summary.classes).toBeGreaterThan(Math.max(summary.byEpisode[0], summary.byEpisode[2]));
    expect(() => groundingLabels([{ meta: {} }, { meta: { task_id: 'reach/touch_red', init_index: -2 } }])).toThrow(/episode 1: meta.init_index: init state index must be an integer/);
  });
});
