import { describe, expect, test } from 'vitest';
import { Rng } from '../../../src/engine/random';
import { World } from '../../../src/sim/world';
import { getInitState, getTask, Expert } from '../../../src/sim';
import type { TaskSpec } from '../../../src/sim';

async function worldFor(id: string): Promise<{ task: TaskSpec; w: World }> {
  const task = getTask(id);
  return { task, w: await World.create(task, { objects: task.objects, fixtures: task.fixtures }) };
}

describe('physics', () => {
  test('same initial state and actions give the same state hash; other actions do not', async () => {
    const { task, w } = await worldFor('goal/red_on_plate');
    const run = (seed: number) => {
      w.reset(getInitState(task, 4));
      const rng = new Rng(seed);
      for (let i = 0; i < 15; i++) w.step(Array.from({ length: 7 }, () => rng.uniform(-1, 1)));
      return w.physics.stateHash();
    };
    const a = run(1);
    expect(run(1)).toBe(a);
    expect(run(2)).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    w.delete();
  });

  test('a grasped block stays in the gripper while the arm lifts and shakes it; released, it falls', async () => {
    const { task, w } = await worldFor('goal/red_on_plate');
    // Let the expert grasp and lift the block; stop it when it starts to carry it away.
    w.reset(getInitState(task, 0));
    const ex = new Expert(w);
    for (let i = 0; i < 100; i++) {
      const a = ex.nextAction();
      if (a.phase === 'transport') break;
      w.step(a.action);
    }
    const rel = () => {
      const o = w.objectPos('red_block');
      const t = w.physics.tcpPos();
      return [o[0] - t[0], o[1] - t[1], o[2] - t[2]];
    };
    const r0 = rel();
    const z0 = w.objectPos('red_block')[2];
    expect(z0).toBeGreaterThan(0.12);
    let maxSlip = 0;
    for (let i = 0; i < 24; i++) {
      const s = i % 4 < 2 ? 1 : -1;
      // Fast lateral and vertical shakes at full action scale (5 cm per step).
      const axis = Math.floor(i / 8);
      const a = [0, 0, 0, 0, 0, 0, 1];
      a[axis] = s * (axis === 2 ? 0.6 : 1);
      w.step(a);
      const d = rel();
      maxSlip = Math.max(maxSlip, Math.hypot(d[0] - r0[0], d[1] - r0[1], d[2] - r0[2]));
    }
    expect(maxSlip).toBeLessThan(0.005);
    expect(w.physics.gripperOpening()).toBeGreaterThan(0.03); // pads on the block, not closed past it
    expect(w.objectPos('red_block')[2]).toBeGreaterThan(0.08);
    // Open the gripper and hold still: the block must fall back to the table.
    for (let i = 0; i < 20; i++) w.step([0, 0, 0, 0, 0, 0, -1]);
    const zEnd = w.objectPos('red_block')[2];
    expect(zEnd).toBeLessThan(0.05);
    expect(zEnd).toBeLessThan(z0 - 0.05);
    w.delete();
  });

  test('the expert reproduces bit-identical rollouts', async () => {
    const { task, w } = await worldFor('goal/open_drawer');
    const hashes: string[] = [];
    for (let k = 0; k < 2; k++) {
      w.reset(getInitState(task, 1));
      const ex = new Expert(w);
      for (let i = 0; i < 30; i++) w.step(ex.nextAction().action);
      hashes.push(w.physics.stateHash());
    }
    expect(hashes[1]).toBe(hashes[0]);
    w.delete();
  });
});

test('objects placed from the fixed initial states rest still and upright', async () => {
  for (const id of ['spatial/between', 'object/purple_can', 'goal/red_on_plate', 'long/yellow_tray_red_plate']) {
    const { task, w } = await worldFor(id);
    for (const i of [0, 1, 2]) {
      w.reset(getInitState(task, i));
      const start = task.objects.map((o) => w.objectPos(o.name));
      for (let s = 0; s < 20; s++) w.step([0, 0, 0, 0, 0, 0, -1]);
      task.objects.forEach((o, k) => {
        const p = w.objectPos(o.name);
        const q = w.physics.objectQuat(o.name);
        const cosTilt = 1 - 2 * (q[1] * q[1] + q[2] * q[2]);
        expect(cosTilt, `${id}#${i} ${o.name} tipped`).toBeGreaterThan(0.999);
        expect(Math.hypot(p[0] - start[k][0], p[1] - start[k][1], p[2] - start[k][2]), `${id}#${i} ${o.name} moved`).toBeLessThan(0.003);
      });
    }
    w.delete();
  }
});

test('an episode record survives JSON and replays to the same state hash', async () => {
  const { samplePerturbation, SimEnv, createExpert, replayEpisode } = await import('../../../src/sim');
  const task = getTask('goal/blue_in_tray');
  const init = getInitState(task, 5);
  const perturbation = samplePerturbation(task, init, ['robot_init', 'distractors', 'paraphrase'], 3);
  const env = await SimEnv.create({ task, initState: init, perturbation, camera: false });
  await env.reset();
  const expert = createExpert(env);
  for (let i = 0; i < 25; i++) {
    const a = expert.nextAction();
    const r = await env.step(a.action, a);
    expect(r.phase).toBe(a.phase);
  }
  const rec = JSON.parse(JSON.stringify(env.record()));
  expect(rec.steps).toBe(25);
  expect(rec.instruction).toBe(perturbation.paraphrase!.instruction);
  expect(rec.phases[0]).toBe('approach');
  const replay = await replayEpisode(rec);
  expect(replay.stateHash).toBe(rec.finalStateHash);
  env.dispose();
});
