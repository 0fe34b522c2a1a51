/**
 * Recovery demonstrations (src/train/recovery.ts): the plan, the roll-in / roll-out
 * loop against the scripted expert run on its own, what is and is not saved, and where a
 * rerun resumes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LeRobotReader, LeRobotWriter, memoryIO } from '../../../src/data/index.ts';
import { acquireDevice } from '../../../src/engine/device';
import { demoFeatures } from '../../../src/sim/demos.ts';
import { ACTION_DIM, CONTROL_HZ, createExpert, getInitState, getTask, runExpert, World } from '../../../src/sim/index';
import { ExpertPolicy, type Policy } from '../../../src/train/policy';
import { recordRecoveryBatch, recoveryPlan, recoveryResumeIndex, type RecoveryItem } from '../../../src/train/recovery';

const SIZE = 8;
const red = getTask('reach/touch_red');
const blue = getTask('reach/touch_blue');

/** A roll-in policy that never moves: the expert then takes over from (about) the initial pose. */
function holdPolicy(): Policy & { calls: number } {
  const p = {
    name: 'hold',
    chunkSize: 4,
    calls: 0,
    reset: () => {},
    act: async (inputs: unknown[]) => {
      p.calls++;
      return inputs.map(() => new Float32Array(4 * ACTION_DIM));
    },
  };
  return p;
}

let device: GPUDevice;
beforeAll(async () => {
  device = (await acquireDevice()).device;
});
afterAll(() => device?.destroy());

async function newWriter() {
  const io = memoryIO();
  const writer = await LeRobotWriter.create(io, { repoId: 'test/recovery', fps: CONTROL_HZ, robotType: 'panda_like', features: demoFeatures(SIZE) });
  return { io, writer };
}

describe('recoveryPlan', () => {
  test('every task x state in order, takeover steps within the range, a function of the seed', () => {
    const plan = recoveryPlan([red, blue], [50, 51, 52], { min: 3, max: 9 }, 0);
    expect(plan.map((p) => [p.task.id, p.init, p.planIndex])).toEqual([
      ['reach/touch_red', 50, 0],
      ['reach/touch_red', 51, 1],
      ['reach/touch_red', 52, 2],
      ['reach/touch_blue', 50, 3],
      ['reach/touch_blue', 51, 4],
      ['reach/touch_blue', 52, 5],
    ]);
    const many = recoveryPlan([red], Array.from({ length: 200 }, (_, i) => 50 + i), { min: 3, max: 9 }, 0);
    const ks = many.map((p) => p.takeover);
    expect(ks.every((k) => Number.isInteger(k) && k >= 3 && k <= 9)).toBe(true);
    // Uniform over the 7 values: each shows up (200 draws; P(missing one) < 1e-12).
    expect(new Set(ks).size).toBe(7);
    expect(recoveryPlan([red], [50, 51, 52, 53], { min: 3, max: 9 }, 0)).toEqual(many.slice(0, 4));
    expect(recoveryPlan([red], Array.from({ length: 200 }, (_, i) => 50 + i), { min: 3, max: 9 }, 1).map((p) => p.takeover)).not.toEqual(ks);
    expect(recoveryPlan([red], [50], { min: 5, max: 5 }, 3)[0].takeover).toBe(5);
  });

  test('refuses an empty or inverted range, no tasks, no states', () => {
    expect(() => recoveryPlan([red], [50], { min: 9, max: 3 }, 0)).toThrow(/takeover/);
    expect(() => recoveryPlan([red], [50], { min: -1, max: 3 }, 0)).toThrow(/takeover/);
    expect(() => recoveryPlan([], [50], { min: 1, max: 3 }, 0)).toThrow(/tasks/);
    expect(() => recoveryPlan([red], [], { min: 1, max: 3 }, 0)).toThrow(/initStates/);
  });
});

describe('recordRecoveryBatch', () => {
  test('takeover 0 records exactly the scripted expert demonstration of the same scene', async () => {
    const { io, writer } = await newWriter();
    const item: RecoveryItem = { planIndex: 0, task: red, init: 50, takeover: 0 };
    const policy = holdPolicy();
    const [out] = await recordRecoveryBatch(writer, [item], { policy, size: SIZE, device });
    await writer.finalize();
    const w = await World.create(red, { objects: red.objects, fixtures: red.fixtures });
    const demo = runExpert(w, getInitState(red, 50));
    w.delete();
    expect(demo.success).toBe(true);
    expect(out).toMatchObject({ status: 'saved', frames: demo.steps });
    expect(policy.calls).toBe(0);
    const r = await LeRobotReader.open(io);
    expect(r.episodes).toHaveLength(1);
    const ep = await r.readEpisode(0);
    expect(Array.from(ep.columns.action.data as Float32Array)).toEqual(demo.actions.flatMap((a) => Array.from(a)));
    expect(r.episodes[0].meta).toMatchObject({ source: 'recovery', recovery_plan_index: 0, takeover_step: 0, task_id: 'reach/touch_red', init_index: 50, roll_in_policy: 'hold', success: true, steps: demo.steps });
  }, 120_000);

  test('the expert takes over at the planned step, from where the policy left the robot; each episode ends done', async () => {
    const { io, writer } = await newWriter();
    const items: RecoveryItem[] = [
      { planIndex: 0, task: red, init: 51, takeover: 6 },
      { planIndex: 1, task: blue, init: 52, takeover: 11 },
    ];
    const policy = holdPolicy();
    const out = await recordRecoveryBatch(writer, items, { policy, size: SIZE, device });
    await writer.finalize();
    expect(out.map((o) => o.status)).toEqual(['saved', 'saved']);
    // Chunks of 4, run whole: the second slot needs ceil(11 / 4) = 3 re-plans.
    expect(policy.calls).toBe(3);
    const r = await LeRobotReader.open(io);
    for (let e = 0; e < 2; e++) {
      const ep = await r.readEpisode(e);
      expect(ep.length).toBe(out[e].frames);
      expect(ep.length).toBeGreaterThan(3);
      expect(Array.from(ep.columns['next.done'].data as Uint8Array)).toEqual(Array.from({ length: ep.length }, (_, i) => (i === ep.length - 1 ? 1 : 0)));
      expect(Array.from(ep.columns['next.reward'].data as Float32Array).at(-1)).toBe(1);
      expect(r.episodes[e].meta).toMatchObject({ takeover_step: items[e].takeover, task_id: items[e].task.id, init_index: items[e].init });
      expect(r.episodes[e].tasks).toEqual([items[e].task.instruction]);
    }
  }, 120_000);

  test("the first saved frame is the state the policy's roll-in left, and the expert's actions answer that state", async () => {
    const { io, writer } = await newWriter();
    // The policy pushes the tool along +x and down for 7 steps (chunks of 4: the last
    // chunk's tail is dropped at the takeover).
    const push = Float32Array.from([0.6, 0, -0.3, 0, 0, 0, 1]);
    const policy: Policy = { name: 'push', chunkSize: 4, reset: () => {}, act: async (inputs) => inputs.map(() => Float32Array.from({ length: 4 * ACTION_DIM }, (_, i) => push[i % ACTION_DIM])) };
    const [out] = await recordRecoveryBatch(writer, [{ planIndex: 0, task: red, init: 54, takeover: 7 }], { policy, size: SIZE, device });
    await writer.finalize();
    expect(out.status).toBe('saved');
    const w = await World.create(red, { objects: red.objects, fixtures: red.fixtures });
    w.reset(getInitState(red, 54));
    const start = Array.from(w.proprio().state);
    for (let t = 0; t < 7; t++) w.step(push);
    const atTakeover = Array.from(w.proprio().state);
    // The expert run by hand from that state.
    const expert = createExpert(w);
    const expected: number[] = [];
    for (let t = 0; t < red.maxSteps; t++) {
      const a = expert.nextAction();
      if (a.phase === 'done') break;
      expected.push(...a.action);
      w.step(a.action);
    }
    expect(w.success()).toBe(true);
    w.delete();
    const ep = await (await LeRobotReader.open(io)).readEpisode(0);
    const state = ep.columns['observation.state'].data as Float32Array;
    expect(Array.from(state.subarray(0, 8))).toEqual(atTakeover);
    expect(atTakeover[0] - start[0]).toBeGreaterThan(0.01);
    expect(Array.from(ep.columns.action.data as Float32Array)).toEqual(expected);
  }, 120_000);

  test('a roll-in that already succeeds saves nothing; an expert out of budget saves nothing', async () => {
    const { io, writer } = await newWriter();
    const expertRollIn = new ExpertPolicy();
    const done = await recordRecoveryBatch(writer, [{ planIndex: 0, task: red, init: 53, takeover: 55 }], { policy: expertRollIn, size: SIZE, device });
    expect(done).toEqual([expect.objectContaining({ status: 'policy-succeeded', frames: 0 })]);
    const short = await recordRecoveryBatch(writer, [{ planIndex: 1, task: red, init: 53, takeover: 0 }], { policy: holdPolicy(), size: SIZE, device, expertSteps: 2 });
    expect(short).toEqual([expect.objectContaining({ status: 'expert-failed', frames: 0 })]);
    expect(writer.totalEpisodes).toBe(0);
    expect(writer.pendingFrames).toBe(0);
    await writer.finalize();
    expect(await io.exists('meta/info.json')).toBe(true);
  }, 120_000);
});

describe('recoveryResumeIndex', () => {
  const plan = recoveryPlan([red, blue], [50, 51], { min: 2, max: 8 }, 0);
  const metaOf = (p: RecoveryItem) => ({ source: 'recovery', recovery_plan_index: p.planIndex, task_id: p.task.id, init_index: p.init, takeover_step: p.takeover });
  test('after the last recovery episode; demonstrations before it do not count', () => {
    expect(recoveryResumeIndex(plan, [])).toBe(0);
    expect(recoveryResumeIndex(plan, [{ plan_index: 3, task_id: 'reach/touch_red' }])).toBe(0);
    expect(recoveryResumeIndex(plan, [{ plan_index: 0 }, metaOf(plan[0]), metaOf(plan[2])])).toBe(3);
  });
  test('refuses a dataset whose last recovery belongs to another plan, naming it', () => {
    const other = recoveryPlan([red, blue], [50, 51], { min: 2, max: 8 }, 1);
    const stranger = other.find((p, i) => p.takeover !== plan[i].takeover)!;
    expect(() => recoveryResumeIndex(plan, [metaOf(stranger)])).toThrow(/not part of this plan/);
    expect(() => recoveryResumeIndex(plan, [{ ...metaOf(plan[1]), task_id: 'reach/touch_blue' }])).toThrow(/reach\/touch_blue/);
    expect(() => recoveryResumeIndex(plan, [{ ...metaOf(plan[1]), recovery_plan_index: 99 }])).toThrow(/plan index 99/);
  });
});
