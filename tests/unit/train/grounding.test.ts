/**
 * eval:grounding (src/train/grounding.ts): which object a chunk's horizontal displacement
 * points at, on hand-made geometry (zero displacement, ties, an object right under the
 * tool, random scenes), and the probe itself: the expert points at the named block on
 * reach from the initial state and after expert steps, a random policy gives well-formed
 * rows, and bad options are refused naming the field. allInstructions: which instructions
 * a scene is given, a policy that ignores the instruction (one target per scene), one that
 * follows it (six), the same result however the pairs are batched, and the refusal.
 */
import { describe, expect, test } from 'vitest';
import { Rng } from '../../../src/engine/random';
import { getTask, type World } from '../../../src/sim/index';
import { pointedObject, probeGrounding, sceneInstructions } from '../../../src/train/grounding';
import { ExpertPolicy, RandomPolicy, type EpisodeStart, type Policy, type PolicyInput } from '../../../src/train/policy';

const ee: [number, number, number] = [0, 0, 0.2];
const blocks = [
  { name: 'east', pos: [0.1, 0, 0.02] as [number, number, number] },
  { name: 'north', pos: [0, 0.1, 0.02] as [number, number, number] },
  { name: 'west', pos: [-0.2, 0, 0.02] as [number, number, number] },
];

describe('pointedObject', () => {
  test('the object in the direction of the displacement, with every cosine', () => {
    const p = pointedObject(ee, [1, 0.1], blocks);
    expect(p.name).toBe('east');
    expect(p.cos).toBeCloseTo(1 / Math.hypot(1, 0.1), 12);
    expect(p.cosByObject.north).toBeCloseTo(0.1 / Math.hypot(1, 0.1), 12);
    expect(p.cosByObject.west).toBeCloseTo(-1 / Math.hypot(1, 0.1), 12);
    expect(pointedObject(ee, [0, -3], blocks).name).toBe('east'); // all point away; east and west tie at 0 and east comes first
    expect(pointedObject(ee, [-0.001, 0], blocks)).toMatchObject({ name: 'west', cos: 1 });
    // Only the horizontal direction counts: the height of tool and objects does not.
    expect(pointedObject([0, 0, 5], [0, 1], blocks).name).toBe('north');
  });

  test('a zero displacement points nowhere', () => {
    const p = pointedObject(ee, [0, 0], blocks);
    expect(p.name).toBe('');
    expect(p.cos).toBeNaN();
    expect(Object.keys(p.cosByObject)).toEqual(['east', 'north', 'west']);
    for (const c of Object.values(p.cosByObject)) expect(c).toBeNaN();
    expect(pointedObject(ee, [1, 1], [])).toMatchObject({ name: '', cos: NaN });
  });

  test('ties go to the object listed first', () => {
    const twins = [
      { name: 'a', pos: [0.1, 0, 0] as [number, number, number] },
      { name: 'b', pos: [0, 0.1, 0] as [number, number, number] },
    ];
    const { a, b } = pointedObject(ee, [1, 1], twins).cosByObject;
    expect(a).toBe(b); // an exact tie
    expect(a).toBeCloseTo(Math.SQRT1_2, 12);
    expect(pointedObject(ee, [1, 1], twins).name).toBe('a');
    expect(pointedObject(ee, [1, 1], [...twins].reverse()).name).toBe('b');
  });

  test('an object right under the tool has no direction and is not chosen', () => {
    const under = [{ name: 'under', pos: [0, 0, 0] as [number, number, number] }, ...blocks];
    const p = pointedObject(ee, [0, 1], under);
    expect(p.cosByObject.under).toBeNaN();
    expect(p.name).toBe('north');
    expect(pointedObject(ee, [0, 1], [under[0]])).toMatchObject({ name: '', cos: NaN });
  });

  test('random scenes: the chosen object has the largest cosine', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 500; trial++) {
      const tool: [number, number, number] = [rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(0, 0.3)];
      const objects = Array.from({ length: 1 + Math.floor(rng.uniform(0, 8)) }, (_, i) => ({ name: `o${i}`, pos: [rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(0, 0.1)] as [number, number, number] }));
      const d: [number, number] = [rng.uniform(-1, 1), rng.uniform(-1, 1)];
      const p = pointedObject(tool, d, objects);
      const cosines = objects.map((o) => {
        const v = [o.pos[0] - tool[0], o.pos[1] - tool[1]];
        return (d[0] * v[0] + d[1] * v[1]) / (Math.hypot(...d) * Math.hypot(v[0], v[1]));
      });
      const best = Math.max(...cosines);
      expect(p.cos).toBeCloseTo(best, 12);
      expect(p.name).toBe(objects[cosines.indexOf(best)].name);
      expect(p.cos).toBeGreaterThanOrEqual(-1 - 1e-12);
      expect(p.cos).toBeLessThanOrEqual(1 + 1e-12);
      objects.forEach((o, i) => expect(p.cosByObject[o.name]).toBeCloseTo(cosines[i], 12));
    }
  });
});

const TASKS = ['reach/touch_red', 'reach/touch_blue', 'reach/touch_white'];

describe('probeGrounding', () => {
  test.each([0, 3])('the expert points at the named block (after %i expert steps), batched or not', async (after) => {
    const { rows, summary } = await probeGrounding(new ExpertPolicy(), { tasks: TASKS, states: [0, 1, 2], after, envsPerBatch: 4 });
    expect(rows).toHaveLength(9);
    expect(rows.map((r) => `${r.taskId}#${r.initState}`)).toEqual(TASKS.flatMap((t) => [0, 1, 2].map((s) => `${t}#${s}`)));
    for (const r of rows) {
      expect(r.target).toBe(`${r.taskId.split('_')[1]}_block`);
      expect(r.instruction).toBe(`touch the ${r.taskId.split('_')[1]} block`);
      expect(r.pointed).toBe(r.target);
      expect(r.expertPointed).toBe(r.target);
      expect(r.cosTarget).toBeGreaterThan(0.9);
    }
    expect(summary).toMatchObject({ n: 9, pointsAtTarget: 9, rate: 1, hi: 1, expertRate: 1 });
    expect(summary.lo).toBeGreaterThan(0.6);
    expect(summary.chance).toBeCloseTo(1 / 6, 12);
    expect(summary.perTask).toEqual(TASKS.map((taskId) => ({ taskId, n: 3, hits: 3 })));
  });

  test('a random policy: well-formed rows, a rate in [0, 1], the same however it is batched', async () => {
    const progress: number[] = [];
    const run = (envsPerBatch: number) => probeGrounding(new RandomPolicy({ seed: 3, chunkSize: 4 }), { tasks: TASKS.slice(0, 2), states: [4, 5, 6], envsPerBatch, seed: 1, onProgress: (p) => progress.push(p.done) });
    const a = await run(6);
    const b = await run(2);
    expect(progress).toEqual([6, 2, 4, 6]);
    expect(b).toEqual(a);
    const blockNames = ['red', 'green', 'blue', 'yellow', 'purple', 'white'].map((c) => `${c}_block`);
    for (const r of a.rows) {
      expect(blockNames).toContain(r.pointed);
      expect(r.cosTarget).toBeGreaterThanOrEqual(-1);
      expect(r.cosTarget).toBeLessThanOrEqual(1);
      expect(r.expertPointed).toBe(r.target);
    }
    const s = a.summary;
    expect(s.n).toBe(6);
    expect(s.rate).toBe(s.pointsAtTarget / 6);
    expect(s.rate).toBeGreaterThanOrEqual(0);
    expect(s.rate).toBeLessThanOrEqual(1);
    expect(s.lo).toBeLessThanOrEqual(s.rate);
    expect(s.hi).toBeGreaterThanOrEqual(s.rate);
    expect(s.expertRate).toBe(1);
    expect(s.perTask.reduce((n, t) => n + t.hits, 0)).toBe(s.pointsAtTarget);
  });

  test('the chunk is summed over the steps the harness executes, and freezeProprio shows the step-0 state', async () => {
    // Step 0 of every chunk heads +x, the rest -x: with executeSteps 1 only +x counts.
    const seen: Float32Array[] = [];
    const policy: Policy = {
      name: 'scripted',
      chunkSize: 3,
      executeSteps: 1,
      reset: () => {},
      act: async (inputs) =>
        inputs.map((x) => {
          seen.push(x.obs.proprio.state);
          return Float32Array.from([1, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0]);
        }),
    };
    const probe = (o: { freezeProprio?: boolean; executeSteps?: number }) =>
      probeGrounding({ ...policy, executeSteps: o.executeSteps }, { tasks: ['reach/touch_red'], states: [0], after: 4, freezeProprio: o.freezeProprio });
    const [one] = (await probe({ executeSteps: 1 })).rows;
    const [all] = (await probe({ executeSteps: undefined, freezeProprio: true })).rows;
    expect(one.cosTarget).toBeCloseTo(-all.cosTarget, 12);
    const [step0] = (await probeGrounding(policy, { tasks: ['reach/touch_red'], states: [0] })).rows;
    expect(step0).toBeDefined();
    expect(seen).toHaveLength(3);
    // seen: step 4 as it is, step 4 frozen, step 0.
    expect(Array.from(seen[1])).toEqual(Array.from(seen[2]));
    expect(Array.from(seen[0])).not.toEqual(Array.from(seen[2]));
  });

  test('training-only states (50-999) are probed too', async () => {
    const { rows, summary } = await probeGrounding(new ExpertPolicy(), { tasks: ['reach/touch_red', 'reach/touch_white'], states: [50, 999], envsPerBatch: 4 });
    expect(rows.map((r) => `${r.taskId}#${r.initState}`)).toEqual(['reach/touch_red#50', 'reach/touch_red#999', 'reach/touch_white#50', 'reach/touch_white#999']);
    for (const r of rows) expect(r.pointed).toBe(r.target);
    expect(summary).toMatchObject({ n: 4, pointsAtTarget: 4, expertRate: 1 });
  });

  test('refusals name the field', async () => {
    const expert = new ExpertPolicy();
    const base = { tasks: ['reach/touch_red'], states: [0] };
    await expect(probeGrounding(expert, { ...base, tasks: [] })).rejects.toThrow(/^tasks: give at least one task id/);
    await expect(probeGrounding(expert, { ...base, states: [] })).rejects.toThrow(/^states: give at least one initial-state index/);
    await expect(probeGrounding(expert, { ...base, states: [1000] })).rejects.toThrow(/^states: 1000 is not an index in \[0, 999\]/);
    await expect(probeGrounding(expert, { ...base, tasks: ['reach/touch_pink'] })).rejects.toThrow(/^tasks: unknown task 'reach\/touch_pink'; known tasks: /);
    await expect(probeGrounding(expert, { ...base, after: -1 })).rejects.toThrow(/^after must be a non-negative integer .*got -1/);
    await expect(probeGrounding(expert, { ...base, after: 1.5 })).rejects.toThrow(/^after must be a non-negative integer .*got 1\.5/);
    await expect(probeGrounding(expert, { ...base, after: 60 })).rejects.toThrow(/^after \(60\) must be below task reach\/touch_red's step limit \(60\)/);
    await expect(probeGrounding(expert, { ...base, tasks: ['reach/touch_red', 'goal/open_drawer'] })).rejects.toThrow("task goal/open_drawer's goal names no object; grounding needs one");
    await expect(probeGrounding(expert, { ...base, envsPerBatch: 0 })).rejects.toThrow(/^envsPerBatch must be a positive integer, got 0/);
    const seeing: Policy = { name: 'seeing', chunkSize: 1, needsImages: true, reset: () => {}, act: async (x) => x.map(() => new Float32Array(7)) };
    await expect(probeGrounding(seeing, base)).rejects.toThrow(/^camera: policy 'seeing' needs camera images/);
  });
});

const REACH = ['red', 'green', 'blue', 'yellow', 'purple', 'white'];

/** Every act() input moves +x, +0.3y, whatever the instruction says. */
function deafPolicy(): Policy & { actSizes: number[] } {
  const actSizes: number[] = [];
  return {
    name: 'deaf',
    chunkSize: 2,
    actSizes,
    reset: () => {},
    act: async (inputs) => {
      actSizes.push(inputs.length);
      return inputs.map(() => Float32Array.from([0.5, 0.15, 0, 0, 0, 0, 0, 0.5, 0.15, 0, 0, 0, 0, 0]));
    },
  };
}

/**
 * Heads for the block its instruction names. It finds where that block stands in the
 * simulator state, which the probe passes to privileged policies as eval does; which
 * block it heads for comes from the instruction text alone.
 */
class FollowerPolicy implements Policy {
  readonly name = 'follower';
  readonly chunkSize = 1;
  readonly privileged = true;
  readonly starts: EpisodeStart[] = [];
  private reset_ = new Set<number>();

  reset(episodes: EpisodeStart[]): void {
    for (const ep of episodes) {
      if (!ep.world) throw new Error(`follower: slot ${ep.envId} was reset without a world`);
      this.reset_.add(ep.envId);
      this.starts.push(ep);
    }
  }

  async act(inputs: PolicyInput[]): Promise<Float32Array[]> {
    return inputs.map((x) => {
      if (!this.reset_.has(x.envId)) throw new Error(`follower: slot ${x.envId} was not reset`);
      const colour = /^touch the (\w+) block$/.exec(x.instruction)?.[1];
      if (!colour || !x.world) throw new Error(`follower: cannot follow '${x.instruction}'${x.world ? '' : ' without a world'}`);
      const w: World = x.world;
      const ee = w.proprio().eePos;
      const at = w.objectPos(`${colour}_block`);
      const [vx, vy] = [at[0] - ee[0], at[1] - ee[1]];
      const n = Math.hypot(vx, vy);
      return Float32Array.from([vx / n, vy / n, 0, 0, 0, 0, 0]);
    });
  }
}

describe('allInstructions', () => {
  test("sceneInstructions: every task of the suite whose goal object the scene tells apart, the task's own included", () => {
    const reach = sceneInstructions(getTask('reach/touch_blue'));
    expect(reach).toEqual(REACH.map((c) => ({ taskId: `reach/touch_${c}`, instruction: `touch the ${c} block`, target: `${c}_block` })));
    expect(sceneInstructions(getTask('object/blue_can')).map((x) => x.target)).toEqual(['red_block', 'blue_can', 'yellow_block', 'green_can', 'orange_block', 'purple_can']);
    // goal: the drawer tasks name no object; the rest name the red block or the blue can.
    expect(sceneInstructions(getTask('goal/red_on_plate')).map((x) => x.taskId)).toEqual(['goal/red_on_plate', 'goal/blue_in_tray', 'goal/pick_up_blue', 'goal/red_in_drawer', 'goal/blue_on_plate']);
    // long: the yellow block is only in one task's scene.
    expect(sceneInstructions(getTask('long/red_plate_blue_tray')).map((x) => x.target)).not.toContain('yellow_block');
    expect(sceneInstructions(getTask('long/yellow_tray_red_plate')).map((x) => x.target)).toContain('yellow_block');
  });

  test('a policy that ignores the instruction points at one object per scene, and the rate is 1 in 6', async () => {
    const policy = deafPolicy();
    const { rows, summary } = await probeGrounding(policy, { tasks: TASKS, states: [0, 1], allInstructions: true, envsPerBatch: 4 });
    // 4 probes, then 2; their 20 and 10 other pairs in act() calls of at most 4.
    expect(policy.actSizes).toEqual([4, 4, 4, 4, 4, 4, 2, 4, 4, 2]);
    for (const r of rows) {
      expect(r.instructions!.map((x) => x.taskId)).toEqual(REACH.map((c) => `reach/touch_${c}`));
      expect(r.instructions!.find((x) => x.taskId === r.taskId)).toMatchObject({ instruction: r.instruction, target: r.target, pointed: r.pointed });
      for (const x of r.instructions!) expect(x.pointed).toBe(r.pointed);
    }
    // Each block is the goal of one instruction: one hit per scene.
    expect(summary.instructionSensitivity).toEqual({ scenes: 6, meanDistinctTargets: 1, maxDistinct: 6, pairs: 36, hits: 6, rate: 1 / 6, lo: expect.any(Number), hi: expect.any(Number) });
    expect(summary.instructionSensitivity!.lo).toBeLessThan(1 / 6);
    expect(summary.instructionSensitivity!.hi).toBeGreaterThan(1 / 6);
    // Without the option: no instructions, no summary field.
    const plain = await probeGrounding(deafPolicy(), { tasks: TASKS.slice(0, 1), states: [0] });
    expect(plain.rows[0].instructions).toBeUndefined();
    expect('instructionSensitivity' in plain.summary).toBe(false);
  });

  test('a policy that follows the instruction points at six objects per scene, every one named', async () => {
    const policy = new FollowerPolicy();
    const { rows, summary } = await probeGrounding(policy, { tasks: TASKS, states: [2, 3], after: 2, allInstructions: true, envsPerBatch: 12, seed: 5 });
    expect(summary.instructionSensitivity).toMatchObject({ scenes: 6, meanDistinctTargets: 6, maxDistinct: 6, pairs: 36, hits: 36, rate: 1, hi: 1 });
    expect(summary.pointsAtTarget).toBe(6);
    for (const r of rows) for (const x of r.instructions!) expect(x.cosTarget).toBeGreaterThan(0.999);
    // 6 probes and 30 other pairs, each an episode of the instruction's task in the probe's state with a seed of its own.
    expect(policy.starts).toHaveLength(36);
    expect(new Set(policy.starts.map((s) => s.seed)).size).toBe(36);
    for (const st of policy.starts) expect(st.instruction).toBe(getTask(st.taskId).instruction);
    expect(policy.starts.filter((st) => st.initState === 2)).toHaveLength(18);
  });

  test('a stochastic policy: the same pairs however they are batched', async () => {
    const run = (envsPerBatch: number) => probeGrounding(new RandomPolicy({ seed: 2, chunkSize: 3 }), { tasks: TASKS.slice(1), states: [7, 8], allInstructions: true, envsPerBatch, seed: 4 });
    const a = await run(12);
    const b = await run(3);
    expect(b).toEqual(a);
    const s = a.summary.instructionSensitivity!;
    expect(s.pairs).toBe(24);
    expect(s.meanDistinctTargets).toBeGreaterThan(1); // random chunks do not all point at one block
    expect(s.hits).toBe(a.rows.flatMap((r) => r.instructions!).filter((x) => x.pointed === x.target).length);
  });

  test('a suite with no other instruction for the scene is refused naming the task', async () => {
    // spatial: block_1 has a twin (block_2), and which black block an instruction means depends on the layout.
    await expect(probeGrounding(new ExpertPolicy(), { tasks: ['reach/touch_red', 'spatial/left'], states: [0], allInstructions: true })).rejects.toThrow(
      "allInstructions: task spatial/left: no other task of suite 'spatial' has a goal object in this scene that looks unlike the scene's other objects",
    );
    expect(() => sceneInstructions(getTask('spatial/right'))).toThrow(/^allInstructions: task spatial\/right: /);
  });
});
