import { beforeAll, describe, expect, it } from 'vitest';
import { actionChunkFrom } from '../../../src/data/index.ts';
import { SampleIndex, TaskBalancedSampler, decodeFrames, startFrameMultiplicity } from '../../../src/model/batch.ts';
import { ACTION_DIM, EPISODES, H, STATE_DIM, TASKS, frameImage, makeFixture, type Fixture } from './batch.dataset.ts';

/** Task of each of `sizes[k]` samples of task k, task-major. */
const tasksOf = (sizes: number[]) => sizes.flatMap((n, k) => Array<number>(n).fill(k));

describe('SampleIndex', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await makeFixture();
  });

  it('indexes every (episode, t) with instruction, t, T, action chunk, state and frame references', async () => {
    const { index, reader } = fx;
    expect(index.size).toBe(EPISODES.reduce((a, [, len]) => a + len, 0));
    expect(index.tasks).toEqual(TASKS);
    expect(index.actionDim).toBe(ACTION_DIM);
    expect(index.stateDim).toBe(STATE_DIM);
    let id = 0;
    for (const [ep, [task, length]] of EPISODES.entries()) {
      const cols = (await reader.readEpisode(ep)).columns;
      for (let t = 0; t < length; t++, id++) {
        const s = index.sample(id);
        expect({ episode: s.episode, t: s.t, T: s.T, task: s.task, instruction: s.instruction }).toEqual({ episode: ep, t, T: length, task, instruction: TASKS[task] });
        const want = actionChunkFrom(cols.action.data as Float32Array, length, ACTION_DIM, t, H);
        expect(Array.from(s.actions)).toEqual(Array.from(want.actions));
        expect(Array.from(s.valid)).toEqual(Array.from(want.valid));
        expect(Array.from(s.state)).toEqual(Array.from((cols['observation.state'].data as Float32Array).slice(t * STATE_DIM, (t + 1) * STATE_DIM)));
        expect(s.frames).toEqual([{ camera: 'agentview', key: 'observation.images.agentview', episode: ep, t }]);
      }
    }
    // Near the end the chunk is padded and masked: the last step of an episode has one valid action.
    expect(Array.from(index.sample(EPISODES[0][1] - 1).valid)).toEqual([1, 0, 0, 0]);
    // Frames decode lazily to the pixels that were written.
    const s = index.sample(20);
    const [img] = await decodeFrames(reader, s.frames);
    expect(Array.from(img.data)).toEqual(Array.from(frameImage(s.episode, s.t).data));
    expect(Array.from(index.samplesOfTask(3))).toEqual([index.size - 3, index.size - 2, index.size - 1]);
  });

  it('strides, selects episodes and cameras, and names the offending field', async () => {
    const { reader } = fx;
    const strided = await SampleIndex.fromReader(reader, { horizon: H, stride: 5, episodes: [0, 6], cameras: ['agentview'] });
    expect(Array.from({ length: strided.size }, (_, i) => [strided.sample(i).episode, strided.sample(i).t])).toEqual([
      [0, 0],
      [0, 5],
      [0, 10],
      [0, 15],
      [6, 0],
    ]);
    await expect(SampleIndex.fromReader(reader, { horizon: H, cameras: ['wrist'] })).rejects.toThrow(/cameras\[0\] "wrist" is not an image feature/);
    await expect(SampleIndex.fromReader(reader, { horizon: H, actionKey: 'act' })).rejects.toThrow(/actionKey "act" is not a feature/);
    await expect(SampleIndex.fromReader(reader, { horizon: 0 })).rejects.toThrow(/horizon must be a positive integer/);
    expect(() => SampleIndex.fromEpisodes([{ episode: 0, length: 2, actions: [0, 0], actionDim: 1, state: [0], stateDim: 1, task: 0 }], ['a'], { horizon: 2 })).toThrow(
      /episode 0: state holds 1 values, expected length \* stateDim = 2/,
    );
    expect(() => SampleIndex.fromEpisodes([{ episode: 0, length: 1, actions: [0], actionDim: 1, state: [0], stateDim: 1, task: 2 }], ['a'], { horizon: 2 })).toThrow(
      /task index 2 is outside the 1 tasks/,
    );
  });
});

describe('TaskBalancedSampler', () => {
  it('every batch holds tasksPerBatch distinct tasks with samplesPerTask distinct samples each', () => {
    const taskOf = tasksOf([30, 9, 17, 5]);
    const s = new TaskBalancedSampler(taskOf, { tasksPerBatch: 3, samplesPerTask: 4, seed: 1 });
    for (let b = 0; b < 50; b++) {
      const batch = s.next();
      expect(batch.step).toBe(b);
      expect(new Set(batch.tasks).size).toBe(3);
      expect(batch.ids.length).toBe(12);
      expect(batch.repeats).toBe(0);
      batch.tasks.forEach((task, k) => {
        const ids = Array.from(batch.ids.slice(k * 4, k * 4 + 4));
        expect(new Set(ids).size).toBe(4);
        for (const i of ids) expect(taskOf[i]).toBe(task);
      });
    }
  });

  it('draws each task without replacement within a pass, and visits tasks equally often', () => {
    const sizes = [30, 9, 17, 5];
    const taskOf = tasksOf(sizes);
    const s = new TaskBalancedSampler(taskOf, { tasksPerBatch: 2, samplesPerTask: 3, seed: 9 });
    const drawn: number[][] = sizes.map(() => []);
    const visits = new Array(sizes.length).fill(0);
    for (let b = 0; b < 120; b++) {
      const batch = s.next();
      batch.tasks.forEach((task, k) => {
        visits[task]++;
        drawn[task].push(...batch.ids.slice(k * 3, k * 3 + 3));
      });
    }
    // Uniform weighting: 240 task slots over 4 tasks, each within one batch of 60.
    for (const v of visits) expect(Math.abs(v - 60)).toBeLessThanOrEqual(2);
    sizes.forEach((n, task) => {
      const seq = drawn[task];
      // Each complete pass is a permutation of the task's samples.
      for (let p = 0; (p + 1) * n <= seq.length; p++) {
        expect(new Set(seq.slice(p * n, (p + 1) * n)).size).toBe(n);
      }
      expect(s.passes[task]).toBe(Math.floor((seq.length - 1) / n));
    });
  });

  it('a task with fewer samples than samplesPerTask gives all of them and repeats the rest', () => {
    const taskOf = tasksOf([20, 3, 2]);
    const s = new TaskBalancedSampler(taskOf, { tasksPerBatch: 3, samplesPerTask: 5, seed: 3 });
    for (let b = 0; b < 10; b++) {
      const batch = s.next();
      const k = Array.from(batch.tasks).indexOf(2);
      const ids = Array.from(batch.ids.slice(k * 5, k * 5 + 5));
      expect(new Set(ids)).toEqual(new Set([23, 24]));
      const k1 = Array.from(batch.tasks).indexOf(1);
      expect(new Set(batch.ids.slice(k1 * 5, k1 * 5 + 5))).toEqual(new Set([20, 21, 22]));
      expect(batch.repeats).toBe(3 + 2);
    }
  });

  it('proportional weighting draws tasks by their sample counts', () => {
    const taskOf = tasksOf([80, 10, 10]);
    const s = new TaskBalancedSampler(taskOf, { tasksPerBatch: 1, samplesPerTask: 2, seed: 4, taskWeighting: 'proportional' });
    const visits = [0, 0, 0];
    for (let b = 0; b < 400; b++) visits[s.next().tasks[0]]++;
    expect(visits[0] / 400).toBeGreaterThan(0.7);
    expect(visits[0] / 400).toBeLessThan(0.9);
  });

  it('is a function of the seed; skip(k) resumes the stream', () => {
    const taskOf = tasksOf([11, 7, 13]);
    const opts = { tasksPerBatch: 2, samplesPerTask: 3, seed: 42 };
    const a = new TaskBalancedSampler(taskOf, opts);
    const b = new TaskBalancedSampler(taskOf, opts);
    const first = Array.from({ length: 20 }, () => Array.from(a.next().ids));
    expect(Array.from({ length: 20 }, () => Array.from(b.next().ids))).toEqual(first);
    const c = new TaskBalancedSampler(taskOf, { ...opts, seed: 43 });
    expect(Array.from({ length: 20 }, () => Array.from(c.next().ids))).not.toEqual(first);
    const d = new TaskBalancedSampler(taskOf, opts);
    d.skip(12);
    expect(Array.from(d.next().ids)).toEqual(first[12]);
  });

  it('rejects impossible settings, naming the field', () => {
    expect(() => new TaskBalancedSampler(tasksOf([3, 3]), { tasksPerBatch: 3, samplesPerTask: 2, seed: 0 })).toThrow(/tasksPerBatch \(3\) exceeds the number of tasks with samples \(2\)/);
    expect(() => new TaskBalancedSampler(tasksOf([3]), { tasksPerBatch: 1, samplesPerTask: 0, seed: 0 })).toThrow(/samplesPerTask must be a positive integer/);
    expect(() => new TaskBalancedSampler([0, -1], { tasksPerBatch: 1, samplesPerTask: 1, seed: 0 })).toThrow(/taskOfSample\[1\] = -1/);
    expect(() => new TaskBalancedSampler([0], { tasksPerBatch: 1, samplesPerTask: 1, seed: 1.5 })).toThrow(/seed must be an integer/);
  });
});

describe('TaskBalancedSampler multiplicity (train.startFrames keyframe weighting)', () => {
  const taskOf = tasksOf([10, 10, 10]);

  it('all-ones multiplicity draws exactly the stream of no multiplicity', () => {
    const a = new TaskBalancedSampler(taskOf, { tasksPerBatch: 2, samplesPerTask: 2, seed: 7 });
    const b = new TaskBalancedSampler(taskOf, { tasksPerBatch: 2, samplesPerTask: 2, seed: 7, multiplicity: new Int32Array(30).fill(1) });
    for (let i = 0; i < 50; i++) expect(Array.from(b.next().ids)).toEqual(Array.from(a.next().ids));
  });

  it('a sample of multiplicity m is drawn m times as often, exactly, over whole passes', () => {
    // Task k's first sample has multiplicity 5: a pass of each task holds 9 + 5 = 14 draws.
    const mult = Int32Array.from(taskOf, (_, i) => (i % 10 === 0 ? 5 : 1));
    const s = new TaskBalancedSampler(taskOf, { tasksPerBatch: 3, samplesPerTask: 2, seed: 3, multiplicity: mult });
    const counts = new Int32Array(30);
    // 3 tasks x 2 per batch; 7 batches = one whole pass (14 draws) of every task; 70 batches = 10 passes.
    for (let i = 0; i < 70; i++) for (const id of s.next().ids) counts[id]++;
    for (let i = 0; i < 30; i++) expect(counts[i]).toBe(i % 10 === 0 ? 50 : 10);
  });

  it('a pass of 10^5 weighted draws neither overflows the stack nor slows to a crawl', () => {
    // 200 samples per task, 100 of them at weight 1000: 100,100 draws per pass.
    const big = tasksOf([200, 200]);
    const mult = Int32Array.from(big, (_, i) => (i % 2 === 0 ? 1000 : 1));
    const s = new TaskBalancedSampler(big, { tasksPerBatch: 2, samplesPerTask: 6, seed: 1, multiplicity: mult });
    let heavy = 0;
    for (let i = 0; i < 2000; i++) for (const id of s.next().ids) heavy += id % 2 === 0 ? 1 : 0;
    // 1000 / 1001 of the draws are the weighted samples.
    expect(heavy / 24_000).toBeGreaterThan(0.99);
  });

  it('refuses multiplicities that are not positive integers or do not match the samples', () => {
    expect(() => new TaskBalancedSampler(taskOf, { tasksPerBatch: 2, samplesPerTask: 2, seed: 0, multiplicity: new Int32Array(29).fill(1) })).toThrow(/multiplicity has 29 entries for 30 samples/);
    const bad = new Float64Array(30).fill(1);
    bad[4] = 0;
    expect(() => new TaskBalancedSampler(taskOf, { tasksPerBatch: 2, samplesPerTask: 2, seed: 0, multiplicity: bad })).toThrow(/multiplicity\[4\] = 0/);
    bad[4] = 1.5;
    expect(() => new TaskBalancedSampler(taskOf, { tasksPerBatch: 2, samplesPerTask: 2, seed: 0, multiplicity: bad })).toThrow(/multiplicity\[4\] = 1.5/);
  });
});

describe('startFrameMultiplicity', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await makeFixture();
  });

  it('weights the chunks that start before `steps` and leaves the rest at 1; off without the option or at weight 1', () => {
    const m = startFrameMultiplicity(fx.index, { steps: 2, weight: 6 })!;
    expect(m.length).toBe(fx.index.size);
    for (let id = 0; id < fx.index.size; id++) expect(m[id]).toBe(fx.index.sample(id).t < 2 ? 6 : 1);
    expect(startFrameMultiplicity(fx.index, undefined)).toBeUndefined();
    expect(startFrameMultiplicity(fx.index, { steps: 3, weight: 1 })).toBeUndefined();
  });
});
