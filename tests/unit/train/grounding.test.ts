/**
 * eval:grounding (src/train/grounding.ts): which object a chunk's horizontal displacement
 * points at, on hand-made geometry (zero displacement, ties, an object right under the
 * tool, random scenes), and the probe itself: the expert points at the named block on
 * reach from the initial state and after expert steps, a random policy gives well-formed
 * rows, and bad options are refused naming the field.
 */
import { describe, expect, test } from 'vitest';
import { Rng } from '../../../src/engine/random';
import { pointedObject, probeGrounding } from '../../../src/train/grounding';
import { ExpertPolicy, RandomPolicy, type Policy } from '../../../src/train/policy';

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

  test('refusals name the field', async () => {
    const expert = new ExpertPolicy();
    const base = { tasks: ['reach/touch_red'], states: [0] };
    await expect(probeGrounding(expert, { ...base, tasks: [] })).rejects.toThrow(/^tasks: give at least one task id/);
    await expect(probeGrounding(expert, { ...base, states: [] })).rejects.toThrow(/^states: give at least one initial-state index/);
    await expect(probeGrounding(expert, { ...base, states: [50] })).rejects.toThrow(/^states: 50 is not an index in \[0, 49\]/);
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
