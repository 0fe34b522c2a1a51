/**
 * eval:where (src/train/where.ts): replaying kept actions classifies where an episode came
 * down. Cases with a known answer: the expert (success), a scripted descent onto another
 * block (other_object), standing still (no_object), and a replay that contradicts its
 * recorded outcome (refused).
 */
import { describe, expect, test } from 'vitest';
import { getInitState, getTask, World } from '../../../src/sim/index';
import { evaluate } from '../../../src/train/eval';
import type { EpisodeResult } from '../../../src/train/eval-results';
import { ExpertPolicy } from '../../../src/train/policy';
import { landingCounts, meanGoalOffset, whereEpisodesWent } from '../../../src/train/where';

/**
 * Steers the tool over `name` (or over a point `shift` m beyond it along the line from the
 * tool's start, negative = short of it) and down, with a clipped P-controller on the EE position.
 */
async function descendOnto(taskId: string, state: number, name: string, shift = 0): Promise<number[][]> {
  const task = getTask(taskId);
  const w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
  try {
    w.reset(getInitState(task, state));
    const o = w.objectPos(name);
    const s0 = w.proprio().eePos;
    const n = Math.hypot(o[0] - s0[0], o[1] - s0[1]);
    const q = [o[0] + (shift * (o[0] - s0[0])) / n, o[1] + (shift * (o[1] - s0[1])) / n, o[2]];
    const actions: number[][] = [];
    for (let t = 0; t < 40; t++) {
      const p = w.proprio().eePos;
      const above = Math.hypot(q[0] - p[0], q[1] - p[1]) < 0.01;
      const goal = [q[0], q[1], above ? q[2] + 0.04 : q[2] + 0.12];
      const a = [0, 1, 2].map((i) => Math.max(-1, Math.min(1, 30 * (goal[i] - p[i]))));
      actions.push([...a, 0, 0, 0, 1]);
      w.step(actions[actions.length - 1]);
    }
    return actions;
  } finally {
    w.delete();
  }
}

const episode = (over: Partial<EpisodeResult>): EpisodeResult => ({
  index: 0,
  suite: 'reach',
  taskId: 'reach/touch_red',
  initState: 0,
  perturbation: 'nominal',
  seed: 0,
  instruction: 'touch the red block',
  perturbationRecord: null,
  success: false,
  steps: 0,
  maxSteps: 60,
  finalStateHash: '',
  policyIssues: 0,
  ...over,
});

describe('eval:where', () => {
  test('the expert succeeds in the replay too; another block and no block are told apart', async () => {
    const res = await evaluate(new ExpertPolicy(), { tasks: ['reach/touch_red'], initStates: [0, 1], envsPerBatch: 2, keepActions: true });
    const wrong = await descendOnto('reach/touch_red', 2, 'green_block');
    const still = Array.from({ length: 20 }, () => [0, 0, 0, 0, 0, 0, 1]);
    const landings = await whereEpisodesWent([
      ...res.episodes,
      episode({ index: 2, initState: 2, actions: wrong, steps: wrong.length }),
      episode({ index: 3, initState: 3, actions: still, steps: still.length }),
    ]);
    expect(landings.map((l) => l.kind)).toEqual(['success', 'success', 'other_object', 'no_object']);
    expect(landings[2].nearest).toBe('green_block');
    expect(landings[2].nearestDistance).toBeLessThan(0.02);
    expect(landings[2].goalDistance).toBeGreaterThan(0.04);
    expect(landings[3].lowest[2]).toBeGreaterThan(0.2); // never came down: the touchdown is the lowest point
    expect(landings[3].touchdown).toEqual(landings[3].lowest);
    expect(landings[2].touchdown[2]).toBeLessThan(0.08);
    expect(landingCounts(landings)).toEqual({ success: 2, goal_object: 0, other_object: 1, no_object: 1 });
  });

  test('the offset from the named object, along the approach: short is negative, beyond is positive', async () => {
    const short = await descendOnto('reach/touch_red', 4, 'red_block', -0.06);
    const beyond = await descendOnto('reach/touch_red', 5, 'red_block', 0.06);
    const landings = await whereEpisodesWent([
      episode({ index: 0, initState: 4, actions: short, steps: short.length }),
      episode({ index: 1, initState: 5, actions: beyond, steps: beyond.length }),
    ]);
    expect(landings.map((l) => l.kind)).toEqual(['no_object', 'no_object']);
    const [a, b] = landings.map((l) => l.goalOffset!);
    expect(a.along).toBeLessThan(-0.045);
    expect(a.along).toBeGreaterThan(-0.075);
    expect(b.along).toBeGreaterThan(0.045);
    expect(b.along).toBeLessThan(0.075);
    // along is a component of (dx, dy), and (dx, dy) is as long as goalDistance.
    landings.forEach((l) => {
      expect(Math.abs(l.goalOffset!.along)).toBeLessThanOrEqual(Math.hypot(l.goalOffset!.dx, l.goalOffset!.dy) + 1e-9);
      expect(Math.hypot(l.goalOffset!.dx, l.goalOffset!.dy)).toBeCloseTo(l.goalDistance!, 9);
    });
    const m = meanGoalOffset(landings, 0.09);
    expect(m.n).toBe(2);
    expect(m.along).toBeCloseTo((a.along + b.along) / 2, 12);
    expect(meanGoalOffset(landings, 0.01)).toEqual({ within: 0.01, n: 0, dx: null, dy: null, along: null });
  });

  test('a replay that contradicts the recorded outcome, an episode without actions and a bad radius are refused', async () => {
    const still = Array.from({ length: 5 }, () => [0, 0, 0, 0, 0, 0, 1]);
    await expect(whereEpisodesWent([episode({ success: true, actions: still })])).rejects.toThrow(/replay fails where the evaluation succeeded/);
    await expect(whereEpisodesWent([episode({})])).rejects.toThrow(/no actions: evaluate with --keep-actions/);
    await expect(whereEpisodesWent([], { radius: 0 })).rejects.toThrow(/radius must be a positive distance/);
    await expect(whereEpisodesWent([], { descent: Number.NaN })).rejects.toThrow(/descent must be a height/);
  });
});
