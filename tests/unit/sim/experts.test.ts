import { describe, expect, test } from 'vitest';
import { World } from '../../../src/sim/world';
import { evalPredicate, getInitState, listTasks, runExpert, SUITES, PHASES } from '../../../src/sim';

// Two fixed initial states per task keep CI fast; `npm run sim:experts` runs all 50.
const STATES = [0, 1];

describe.each(SUITES)('scripted experts: %s suite', (suite) => {
  test('succeed from fixed initial states, and the success check agrees with the goal predicates', async () => {
    const tasks = listTasks(suite);
    expect(tasks.length).toBeGreaterThanOrEqual(4); // reach4 has four; every other suite six or more
    for (const task of tasks) {
      const w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
      for (const i of STATES) {
        const init = getInitState(task, i);
        w.reset(init);
        expect(w.success(), `${task.id}#${i} starts already solved`).toBe(false);
        const r = runExpert(w, init);
        expect(r.success, `${task.id}#${i} expert failed`).toBe(true);
        expect(r.steps).toBeLessThanOrEqual(task.maxSteps);
        // The success check is the conjunction of the goal predicates, each true at the end.
        for (const g of task.goal) expect(evalPredicate(task, w.physics, g), `${task.id}#${i} ${g.pred}(${g.args})`).toBe(true);
        // Every step is annotated with a known phase and a description.
        expect(r.phases.every((p) => PHASES.includes(p))).toBe(true);
        expect(r.descriptions.every((d) => d.length > 5)).toBe(true);
        if (task.goal.length === 2) {
          // Two-stage tasks: the first stage is reached before the second is.
          const first = r.successTrace.findIndex(Boolean);
          expect(first).toBeGreaterThan(0);
        }
      }
      w.delete();
    }
  });
});

test('phases of a pick-and-place follow the expected order', async () => {
  const task = listTasks('goal').find((t) => t.id === 'goal/red_on_plate')!;
  const w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
  const r = runExpert(w, getInitState(task, 2));
  const order = r.phases.filter((p, i) => i === 0 || r.phases[i - 1] !== p);
  expect(order).toEqual(['approach', 'descend', 'grasp', 'lift', 'transport', 'place', 'release', 'retreat']);
  expect(r.descriptions).toContain('move down toward the red block');
  w.delete();
});
