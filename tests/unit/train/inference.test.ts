/**
 * Pre-train -> post-train -> policy, end to end at toy size: a tiny in-memory dataset
 * with the simulation's shapes (8-D LIBERO state, 7-D actions, a 4x4 agentview camera),
 * 3 pre-training steps, 3 post-training steps with a fresh DiT, checkpoints with dit.*,
 * then the checkpoint as a policy in both modes on real simulator observations and
 * through the evaluation harness.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LeRobotReader, LeRobotWriter, memoryIO, type ImageFrame } from '../../../src/data/index.ts';
import { Rng } from '../../../src/engine/random.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { ACTION_DIM, BatchEnv, getTask, type Observation } from '../../../src/sim/index.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointData, type CheckpointIO } from '../../../src/train/checkpoint.ts';
import { evaluate } from '../../../src/train/eval.ts';
import { closestToPlan } from '../../../src/train/value-select.ts';
import { loadPrtsPolicy, prtsPolicyFromCheckpoint } from '../../../src/train/inference.ts';
import type { EpisodeStart, PolicyInput } from '../../../src/train/policy.ts';
import { PostTrainRun } from '../../../src/train/posttrain.ts';
import { contextRanges, prefixLayout } from '../../../src/train/posttrain-batch.ts';
import { Pretrainer } from '../../../src/train/pretrain.ts';
import { SPECIAL } from '../../../src/model/tokenizers/vocab.ts';
import { tinyConfig } from './pretrain.helpers.ts';

const TASK_IDS = ['goal/red_on_plate', 'spatial/left'];
const DIT = { dModel: 32, heads: 2, layers: 1, mlpHidden: 64, timeFreqDim: 16 };

/** 2 tasks x 2 episodes of 10 frames with the simulator's observation/action shapes. */
async function simShapedDataset(instructions: string[]): Promise<LeRobotReader> {
  const io = memoryIO();
  const w = await LeRobotWriter.create(io, {
    repoId: 'prts/inference-test',
    fps: 20,
    robotType: 'panda',
    features: {
      'observation.state': { dtype: 'float32', shape: [8], names: ['x', 'y', 'z', 'ax', 'ay', 'az', 'f1', 'f2'] },
      'observation.images.agentview': { dtype: 'image', shape: [4, 4, 3], names: ['height', 'width', 'channels'] },
      action: { dtype: 'float32', shape: [ACTION_DIM], names: ['dx', 'dy', 'dz', 'rx', 'ry', 'rz', 'grip'] },
    },
  });
  const rng = new Rng(11);
  for (let e = 0; e < 4; e++) {
    const task = e % 2;
    for (let t = 0; t < 10; t++) {
      const u = t / 10;
      const img: ImageFrame = { width: 4, height: 4, channels: 3, data: Uint8Array.from({ length: 48 }, () => rng.int(256)) };
      w.addFrame({
        'observation.state': [0.1 * u, task ? -0.1 : 0.1, 0.2, 0, 0, 0, 0.04 * (1 - u), 0.04 * (1 - u)],
        'observation.images.agentview': img,
        action: [0.5 * Math.cos(task + 3 * u), 0.5 * Math.sin(task + 3 * u), -0.2 * u, 0, 0, 0.1 * task, u > 0.5 ? 1 : -1],
      });
    }
    await w.saveEpisode({ task: instructions[task] });
  }
  await w.finalize();
  return LeRobotReader.open(io);
}

let rt: Runtime;
let runIO: CheckpointIO;
let preData: CheckpointData;
let reader: LeRobotReader;
let obs: Observation[];
let instructions: string[];

const episodes = (seeds: number[]): EpisodeStart[] =>
  seeds.map((seed, envId) => ({ envId, taskId: TASK_IDS[envId % 2], instruction: instructions[envId % 2], initState: envId, perturbation: 'nominal', seed }));
const inputs = (): PolicyInput[] => obs.map((o, envId) => ({ envId, obs: o, instruction: instructions[envId % 2], taskId: TASK_IDS[envId % 2] }));

beforeAll(async () => {
  rt = await Runtime.create();
  instructions = TASK_IDS.map((id) => getTask(id).instruction);
  reader = await simShapedDataset(instructions);
  const base = tinyConfig({ steps: 3, batchSize: 4, samplesPerTask: 2, warmupSteps: 1 });
  const cfg = { ...base, model: { ...base.model, stateDim: 8, actionDim: ACTION_DIM, fastTokens: 64 } };
  const pre = await Pretrainer.create(rt, cfg, reader);
  try {
    while (!pre.done) await pre.step();
    runIO = memoryIO();
    preData = await pre.checkpoint();
    await saveCheckpoint(runIO, preData);
  } finally {
    pre.dispose();
  }
  const post = await PostTrainRun.create(rt, await loadCheckpoint(runIO), reader, { steps: 3, dit: DIT });
  try {
    while (!post.done) {
      const m = await post.step();
      expect(Number.isFinite(m.loss) && m.loss > 0).toBe(true);
    }
    await saveCheckpoint(runIO, await post.checkpoint());
  } finally {
    post.dispose();
  }
  const env = await BatchEnv.create(
    TASK_IDS.map((task, i) => ({ task, initState: i })),
    { width: 8, height: 8, device: rt.device },
  );
  try {
    obs = await env.reset();
  } finally {
    env.dispose();
  }
}, 120_000);
afterAll(() => rt?.destroy());

describe('post-training checkpoints', () => {
  test('hold dit.* parameters, dit.json and the post-training history; the DiT context excludes the action span', async () => {
    const data = await loadCheckpoint(runIO);
    expect(data.trainer.kind).toBe('posttrain');
    expect(data.trainer.step).toBe(3);
    expect(data.dit).toMatchObject({ ...DIT, horizon: 4, actionDim: ACTION_DIM, contextDim: 32 });
    expect(data.params.some((t) => t.name.startsWith('dit.'))).toBe(true);
    expect(data.params.some((t) => t.name.startsWith('backbone.'))).toBe(true);
    expect(data.postMetrics?.map((m) => m.step)).toEqual([0, 1, 2]);
    expect(data.metrics).toHaveLength(3); // the pre-training history it started from
    // Context = the prefix minus <|action_start|>: vision, proprio, prompt, instruction.
    const { TokenizerBundle } = await import('../../../src/model/tokenizers/index.ts');
    const bundle = TokenizerBundle.fromJSON(data.tokenizers);
    const layout = prefixLayout(bundle)(
      { state: new Float32Array(8), instruction: instructions[0], actions: new Float32Array(4 * ACTION_DIM) } as never,
      { crl: false, imagePatches: [4] },
    );
    const r = contextRanges({ roles: layout.roles, docStart: [0], docLength: [layout.ids.length] });
    expect(r.end[0]).toBe(layout.ids.length - 1);
    expect(layout.ids[layout.ids.length - 1]).toBe(2); // <|action_start|>
  });

  test('tau-sampling overrides are kept in the checkpoint, resumed with it, and a different one is refused', async () => {
    const tau = { emphasis: 'noise' as const, alpha: 1.2 };
    const post = await PostTrainRun.create(rt, preData, reader, { steps: 2, dit: DIT, tau });
    let data: CheckpointData;
    try {
      await post.step();
      data = await post.checkpoint();
    } finally {
      post.dispose();
    }
    expect((data.trainer as { tau?: unknown }).tau).toEqual(tau);
    const resumed = await PostTrainRun.create(rt, data, reader);
    try {
      expect(resumed.completedSteps).toBe(1);
      expect((await resumed.checkpoint()).trainer).toMatchObject({ tau });
    } finally {
      resumed.dispose();
    }
    await expect(PostTrainRun.create(rt, data, reader, { tau: { emphasis: 'data' } })).rejects.toThrow(/post-trained with tau sampling \{"emphasis":"noise","alpha":1.2\}; resume it the same way/);
    await expect(PostTrainRun.create(rt, preData, reader, { steps: 2, dit: DIT, tau: { alpha: -1 } })).rejects.toThrow(/tau sampling: alpha and beta must be > 0, got -1/);
  });
});

describe('PRTS checkpoint policy', () => {
  test('DiT mode: finite H x 7 chunks in [-1, 1]; same seed -> same chunks; batched = one by one', async () => {
    const policy = await loadPrtsPolicy(runIO, undefined, { mode: 'dit', rt, seed: 7 });
    try {
      expect(policy.chunkSize).toBe(4);
      await policy.reset(episodes([101, 202]));
      const a = await policy.act(inputs());
      expect(a).toHaveLength(2);
      for (const c of a) {
        expect(c.length).toBe(4 * ACTION_DIM);
        expect(c.every((v) => Number.isFinite(v) && v >= -1 && v <= 1)).toBe(true);
      }
      // Different episode seeds draw different noise.
      expect(Array.from(a[0])).not.toEqual(Array.from(a[1]));
      await policy.reset(episodes([101, 202]));
      const again = await policy.act(inputs());
      expect(again.map((c) => Array.from(c))).toEqual(a.map((c) => Array.from(c)));
      // One by one: each env alone gives its chunk of the batched call.
      await policy.reset(episodes([101, 202]));
      const solo = [await policy.act([inputs()[0]]), await policy.act([inputs()[1]])].map((x) => x[0]);
      expect(solo.map((c) => Array.from(c))).toEqual(a.map((c) => Array.from(c)));
      expect(policy.inference.stats).toMatchObject({ calls: 4, chunks: 6 });
      // A rollout calls act() hundreds of times: GPU memory must not grow per call.
      await policy.act(inputs());
      const live = rt.liveBytes;
      for (let i = 0; i < 3; i++) await policy.act(inputs());
      expect(rt.liveBytes).toBe(live);
    } finally {
      policy.dispose();
    }
  });

  test('AR mode: greedy FAST decoding gives H x 7 chunks (lenient, never zero, and counted when undecodable), batched = one by one', async () => {
    const policy = await loadPrtsPolicy(runIO, undefined, { mode: 'ar', rt, maxArTokens: 4, constrainLength: false });
    try {
      await policy.reset(episodes([1, 2]));
      const a = await policy.act(inputs());
      expect(a.map((c) => c.length)).toEqual([28, 28]);
      for (const c of a) expect(c.every((v) => Number.isFinite(v) && v >= -1 && v <= 1)).toBe(true);
      const st = policy.inference.stats;
      expect(st.arTokens).toBeGreaterThan(0);
      expect(st.arTokens).toBeLessThanOrEqual(8);
      // 4 tokens cannot hold 4 x 7 coefficients unless BPE merged them: a failure executes the
      // lenient decode (zero-padded high frequencies), is counted per env, and names the reason.
      if (st.arFailures > 0) {
        expect(st.lastFailure).toMatch(/env \d+: .*lenient decode/);
        expect(Object.values(st.arFailuresByEnv).reduce((x, y) => x + y, 0)).toBe(st.arFailures);
        expect(policy.episodeIssues(0) + policy.episodeIssues(1)).toBe(st.arFailures);
        expect(policy.diagnostics()).toMatchObject({ mode: 'ar', arFailures: st.arFailures });
      }
      const solo = [await policy.act([inputs()[0]]), await policy.act([inputs()[1]])].map((x) => x[0]);
      expect(solo.map((c) => Array.from(c))).toEqual(a.map((c) => Array.from(c)));
      const live = rt.liveBytes;
      for (let i = 0; i < 3; i++) await policy.act(inputs());
      expect(rt.liveBytes).toBe(live);
    } finally {
      policy.dispose();
    }
  });

  test('AR mode keeps every span at exactly H x channels coefficients; the corrections are counted, and an unconstrained pick is the same', async () => {
    const policy = await loadPrtsPolicy(runIO, undefined, { mode: 'ar', rt });
    try {
      expect(policy.inference.opts.constrainLength).toBe(true);
      const { fast, vocab } = policy.inference.bundle;
      const free = await policy.inference.decodeAr(inputs(), { constrainLength: false });
      const kept = await policy.inference.decodeAr(inputs());
      kept.tokens.forEach((g, b) => {
        expect(g.at(-1)).toBe(SPECIAL.actionEndAr);
        const dec = fast.decode(vocab.fastLocalOf(g));
        expect({ valid: dec.valid, n: dec.numCoefficients, reason: dec.reason }).toEqual({ valid: true, n: fast.maxTokens, reason: undefined });
        // Where the constraint never had to step in, the greedy picks are the model's own.
        if (!kept.constrained[b]) expect(g).toEqual(free.tokens[b]);
        else expect(g).not.toEqual(free.tokens[b]);
      });
      await policy.reset(episodes([1, 2]));
      await policy.act(inputs());
      const st = policy.inference.stats;
      expect(st.arFailures).toBe(0);
      expect(st.arConstrained).toBe(kept.constrained.filter(Boolean).length);
      expect(policy.episodeIssues(0) + policy.episodeIssues(1)).toBe(st.arConstrained);
      expect(policy.diagnostics()).toMatchObject({ mode: 'ar', arFailures: 0, arConstrained: st.arConstrained });
    } finally {
      policy.dispose();
    }
    await expect(loadPrtsPolicy(runIO, undefined, { mode: 'ar', rt, constrainLength: 'yes' as never })).rejects.toThrow(/constrainLength must be true or false, got "yes"/);
  });

  test('symbolCounts: every FAST id stands for its BPE expansion, base symbols for one', async () => {
    const data = await loadCheckpoint(runIO);
    const { TokenizerBundle } = await import('../../../src/model/tokenizers/index.ts');
    const fast = TokenizerBundle.fromJSON(data.tokenizers).fast;
    const counts = fast.symbolCounts();
    expect(counts).toHaveLength(fast.vocabSize);
    counts.forEach((n, id) => expect(n).toBe(fast.bpe.expand(id).length));
    expect(Math.min(...counts)).toBe(1);
  });

  test('AR mode caps decoding at the longest valid span (H x valid channels + end), not at config.fastTokens', async () => {
    const data = await loadCheckpoint(runIO);
    const { prtsPolicyFromCheckpoint } = await import('../../../src/train/inference.ts');
    const small = { ...data, config: { ...data.config, model: { ...data.config.model, fastTokens: 3 } } };
    const policy = await prtsPolicyFromCheckpoint(small, { mode: 'ar', rt });
    try {
      const fast = policy.inference.bundle.fast;
      expect(fast.maxTokens).toBe(fast.horizon * fast.numValidChannels);
      expect(policy.inference.opts.maxArTokens).toBe(fast.maxTokens + 1);
    } finally {
      policy.dispose();
    }
    await expect(prtsPolicyFromCheckpoint(data, { mode: 'ar', rt, maxArTokens: 0 })).rejects.toThrow(/maxArTokens must be a positive integer, got 0/);
  });

  test('value-guided selection, AR: candidate 0 is the greedy chunk, the executed one has the highest CRL value, batched = one by one', async () => {
    const plain = await loadPrtsPolicy(runIO, undefined, { mode: 'ar', rt });
    const policy = await loadPrtsPolicy(runIO, undefined, { mode: 'ar', rt, candidates: 4, temperature: 1.5 });
    try {
      await plain.reset(episodes([3, 4]));
      const greedy = await plain.act(inputs());
      await policy.reset(episodes([3, 4]));
      const p = await policy.inference.propose(inputs());
      expect(p.candidates).toBe(4);
      expect(p.chunks).toHaveLength(8);
      expect(p.values).toHaveLength(8);
      // Cosines of unit vectors.
      expect(Array.from(p.values!).every((v) => Number.isFinite(v) && Math.abs(v) <= 1 + 1e-5)).toBe(true);
      [0, 1].forEach((b) => {
        expect(Array.from(p.chunks[b * 4])).toEqual(Array.from(greedy[b]));
        const vals = Array.from(p.values!.subarray(b * 4, b * 4 + 4));
        expect(vals[p.chosen[b]]).toBe(Math.max(...vals));
      });
      // The samples differ from the greedy chunk somewhere (temperature 1.5 over an untrained head).
      expect(p.chunks.some((c, r) => r % 4 !== 0 && Array.from(c).join() !== Array.from(p.chunks[r - (r % 4)]).join())).toBe(true);
      // Same episode seeds -> the same proposals and values; each env alone gives its rows of the batched call.
      await policy.reset(episodes([3, 4]));
      const again = await policy.inference.propose(inputs());
      expect(again.chunks.map((c) => Array.from(c))).toEqual(p.chunks.map((c) => Array.from(c)));
      await policy.reset(episodes([3, 4]));
      const solo = [await policy.inference.propose([inputs()[0]]), await policy.inference.propose([inputs()[1]])];
      expect(solo.flatMap((x) => x.chunks.map((c) => Array.from(c)))).toEqual(p.chunks.map((c) => Array.from(c)));
      const soloValues = solo.flatMap((x) => Array.from(x.values!));
      soloValues.forEach((v, r) => expect(v).toBeCloseTo(p.values![r], 5));
      // act() executes the chosen candidate, and the choices are counted.
      await policy.reset(episodes([3, 4]));
      const acted = await policy.act(inputs());
      expect(acted.map((c) => Array.from(c))).toEqual(p.chosen.map((k, b) => Array.from(p.chunks[b * 4 + k])));
      const st = policy.inference.stats;
      expect(st.valueSelected).toBe(8);
      expect(st.valueOverrode).toBe(4 * p.chosen.filter((k) => k !== 0).length);
      expect(policy.diagnostics()).toMatchObject({ valueSelected: 8 });
      const live = rt.liveBytes;
      for (let i = 0; i < 2; i++) await policy.act(inputs());
      expect(rt.liveBytes).toBe(live);
    } finally {
      plain.dispose();
      policy.dispose();
    }
  });

  test('selectCalls: value selection on the first N calls of each episode, then the plain policy; a reset episode selects again', async () => {
    const plain = await loadPrtsPolicy(runIO, undefined, { mode: 'ar', rt });
    const always = await loadPrtsPolicy(runIO, undefined, { mode: 'ar', rt, candidates: 4, temperature: 1.5 });
    const once = await loadPrtsPolicy(runIO, undefined, { mode: 'ar', rt, candidates: 4, temperature: 1.5, selectCalls: 1 });
    try {
      await plain.reset(episodes([3, 4]));
      const greedy = (await plain.act(inputs())).map((c) => Array.from(c));
      for (const x of [always, once]) await x.reset(episodes([3, 4]));
      const first = [await always.inference.propose(inputs()), await once.inference.propose(inputs())];
      // The first call is the selecting policy's, exactly.
      expect(first[1].chunks.map((c) => Array.from(c))).toEqual(first[0].chunks.map((c) => Array.from(c)));
      expect(first[1].chosen).toEqual(first[0].chosen);
      // The second is the plain policy's greedy chunk in every row, with NaN values, and is not counted as a selection.
      const second = await once.inference.propose(inputs());
      expect(second.candidates).toBe(4);
      expect(second.chosen).toEqual([0, 0]);
      expect(second.chunks.map((c) => Array.from(c))).toEqual([0, 0, 0, 0, 1, 1, 1, 1].map((b) => greedy[b]));
      expect(Array.from(second.values!).every((v) => Number.isNaN(v))).toBe(true);
      expect(once.inference.stats.valueSelected).toBe(2);
      // Mixed: env 3 starts a new episode (selects), env 4 is on its third call (plain); rows equal the selecting and plain policies' own rows.
      await once.reset(episodes([3]));
      await always.reset(episodes([3, 4]));
      const sel = await always.inference.propose(inputs());
      const mixed = await once.inference.propose(inputs());
      expect(mixed.chunks.slice(0, 4).map((c) => Array.from(c))).toEqual(sel.chunks.slice(0, 4).map((c) => Array.from(c)));
      expect(mixed.chosen[0]).toBe(sel.chosen[0]);
      Array.from(mixed.values!.subarray(0, 4)).forEach((v, k) => expect(v).toBeCloseTo(sel.values![k], 5));
      expect(mixed.chunks.slice(4).map((c) => Array.from(c))).toEqual([greedy[1], greedy[1], greedy[1], greedy[1]]);
      expect(Array.from(mixed.values!.subarray(4)).every((v) => Number.isNaN(v))).toBe(true);
      expect(mixed.chosen[1]).toBe(0);
      const acted = await once.act(inputs());
      expect(acted.map((c) => Array.from(c))).toEqual(greedy);
      // Two plain episodes beside a selecting one: each plain row holds its own episode's chunk.
      const three = [...inputs(), { ...inputs()[0], envId: 2 }];
      await once.reset(episodes([3, 4, 5]));
      await once.inference.propose(three);
      await once.reset(episodes([3]));
      const m3 = await once.inference.propose(three);
      expect(m3.chunks.slice(4, 8).map((c) => Array.from(c))).toEqual([greedy[1], greedy[1], greedy[1], greedy[1]]);
      expect(m3.chunks.slice(8, 12).map((c) => Array.from(c))).toEqual([greedy[0], greedy[0], greedy[0], greedy[0]]);
      expect(m3.chosen.slice(1)).toEqual([0, 0]);
    } finally {
      plain.dispose();
      always.dispose();
      once.dispose();
    }
  });

  test('coherent: after the value-selected re-plans, the proposal that best continues the previous plan; a reset episode selects by value again', async () => {
    const sel = { mode: 'ar' as const, rt, candidates: 4, temperature: 1.5, executeSteps: 2 };
    const always = await loadPrtsPolicy(runIO, undefined, sel);
    const coherent = await loadPrtsPolicy(runIO, undefined, { ...sel, selectCalls: 1, coherent: true });
    try {
      expect(coherent.executeSteps).toBe(2);
      for (const x of [always, coherent]) await x.reset(episodes([3, 4]));
      const first = [await always.inference.propose(inputs()), await coherent.inference.propose(inputs())];
      expect(first[1].chosen).toEqual(first[0].chosen);
      const plans = first[1].chosen.map((k, b) => first[1].chunks[b * 4 + k]);
      // The second call proposes what the always-selecting policy proposes (same sampling
      // stream) and picks by agreement with the first chunks' steps 2.., not by value.
      const byValue = await always.inference.propose(inputs());
      const second = await coherent.inference.propose(inputs());
      expect(second.chunks.map((c) => Array.from(c))).toEqual(byValue.chunks.map((c) => Array.from(c)));
      expect(second.chosen).toEqual(closestToPlan(second.chunks, 4, plans, 2, ACTION_DIM));
      expect(Array.from(second.values!).every((v) => Number.isNaN(v))).toBe(true);
      expect(coherent.inference.stats).toMatchObject({ valueSelected: 2, coherentSelected: 2, coherentOverrode: second.chosen.filter((k) => k !== 0).length });
      // The third call continues the second call's choice.
      const third = await coherent.inference.propose(inputs());
      expect(third.chosen).toEqual(closestToPlan(third.chunks, 4, second.chosen.map((k, b) => second.chunks[b * 4 + k]), 2, ACTION_DIM));
      // Env 3 starts over: value selection again; env 4 stays coherent.
      await coherent.reset(episodes([3]));
      const mixed = await coherent.inference.propose(inputs());
      expect(Number.isNaN(mixed.values![0])).toBe(false);
      expect(Array.from(mixed.values!.subarray(4)).every((v) => Number.isNaN(v))).toBe(true);
      expect(coherent.inference.stats.valueSelected).toBe(3);
    } finally {
      always.dispose();
      coherent.dispose();
    }
  });

  test('coherent alone (selectCalls 0): the greedy first chunk, then the proposal that best continues the plan; no critic, so a BC-only checkpoint may use it', async () => {
    const noCrl = { ...preData, trainer: { ...preData.trainer, withCrl: false } };
    const sel = { mode: 'ar' as const, rt, candidates: 4, temperature: 1.5, executeSteps: 2 };
    const plain = await prtsPolicyFromCheckpoint(noCrl, { mode: 'ar', rt });
    const alone = await prtsPolicyFromCheckpoint(noCrl, { ...sel, selectCalls: 0, coherent: true });
    try {
      await plain.reset(episodes([3, 4]));
      await alone.reset(episodes([3, 4]));
      const greedy = (await plain.act(inputs())).map((c) => Array.from(c));
      const first = await alone.inference.propose(inputs());
      // No plan yet: the plain policy's greedy chunk, no values asked for.
      expect(first.chosen).toEqual([0, 0]);
      expect(first.chunks.map((c) => Array.from(c))).toEqual([0, 0, 0, 0, 1, 1, 1, 1].map((b) => greedy[b]));
      expect(Array.from(first.values!).every((v) => Number.isNaN(v))).toBe(true);
      const second = await alone.inference.propose(inputs());
      expect(second.chosen).toEqual(closestToPlan(second.chunks, 4, greedy, 2, ACTION_DIM));
      expect(alone.inference.stats).toMatchObject({ valueSelected: 0, coherentSelected: 2 });
      // A reset episode starts from the greedy chunk again.
      await alone.reset(episodes([3]));
      const mixed = await alone.inference.propose(inputs());
      expect(mixed.chosen[0]).toBe(0);
      expect(new Set(mixed.chunks.slice(0, 4).map((c) => Array.from(c).join(','))).size).toBe(1);
      expect(alone.inference.stats.valueSelected).toBe(0);
    } finally {
      plain.dispose();
      alone.dispose();
    }
    // A critic would never be asked; selectCalls 0 without coherent chooses nothing.
    await expect(prtsPolicyFromCheckpoint(noCrl, { ...sel, selectCalls: 0, coherent: true, critic: preData })).rejects.toThrow(/critic: with selectCalls 0 .* a critic would never be asked/);
    await expect(prtsPolicyFromCheckpoint(noCrl, { ...sel, selectCalls: 0 })).rejects.toThrow(/selectCalls 0 chooses nothing by value/);
  });

  test('coherent is refused where it cannot apply, naming the field', async () => {
    const sel = { mode: 'ar' as const, rt, candidates: 4 };
    await expect(prtsPolicyFromCheckpoint(preData, { ...sel, coherent: true })).rejects.toThrow(/coherent: .* needs selectCalls/);
    await expect(prtsPolicyFromCheckpoint(preData, { ...sel, selectCalls: 1, coherent: true, executeSteps: preData.config.model.chunkLength })).rejects.toThrow(/coherent: the policy executes whole chunks \(executeSteps 4 of chunkLength 4\)/);
    await expect(prtsPolicyFromCheckpoint(preData, { mode: 'ar', rt, executeSteps: 9 })).rejects.toThrow(/executeSteps must be an integer in \[1, chunkLength = 4\], got 9/);
  });

  test('value-guided selection, DiT: candidate 0 is the plain policy\'s sample; one candidate is the plain policy', async () => {
    const plain = await loadPrtsPolicy(runIO, undefined, { mode: 'dit', rt, seed: 9 });
    const one = await loadPrtsPolicy(runIO, undefined, { mode: 'dit', rt, seed: 9, candidates: 1 });
    const policy = await loadPrtsPolicy(runIO, undefined, { mode: 'dit', rt, seed: 9, candidates: 3 });
    try {
      for (const x of [plain, one, policy]) await x.reset(episodes([5, 6]));
      const base = await plain.act(inputs());
      const single = await one.inference.propose(inputs());
      expect(single.values).toBeNull();
      expect(single.chosen).toEqual([0, 0]);
      expect(single.chunks.map((c) => Array.from(c))).toEqual(base.map((c) => Array.from(c)));
      const p = await policy.inference.propose(inputs());
      expect(p.chunks).toHaveLength(6);
      [0, 1].forEach((b) => {
        expect(Array.from(p.chunks[b * 3])).toEqual(Array.from(base[b]));
        expect(Array.from(p.chunks[b * 3 + 1])).not.toEqual(Array.from(base[b]));
        const vals = Array.from(p.values!.subarray(b * 3, b * 3 + 3));
        expect(vals[p.chosen[b]]).toBe(Math.max(...vals));
      });
    } finally {
      plain.dispose();
      one.dispose();
      policy.dispose();
    }
  });

  test('value-guided selection is refused without a CRL critic and with bad settings, naming the field', async () => {
    const noCrl = { ...preData, trainer: { ...preData.trainer, withCrl: false } };
    await expect(prtsPolicyFromCheckpoint(noCrl, { mode: 'ar', rt, candidates: 2 })).rejects.toThrow(/value-guided selection needs the CRL critic/);
    await expect(prtsPolicyFromCheckpoint(preData, { mode: 'ar', rt, candidates: 0 })).rejects.toThrow(/candidates must be an integer in 1..64, got 0/);
    await expect(prtsPolicyFromCheckpoint(preData, { mode: 'ar', rt, candidates: 2, temperature: -1 })).rejects.toThrow(/temperature must be a positive number, got -1/);
    await expect(prtsPolicyFromCheckpoint(preData, { mode: 'ar', rt, candidates: 2, selectCalls: 0 })).rejects.toThrow(/selectCalls 0 chooses nothing by value/);
    await expect(prtsPolicyFromCheckpoint(preData, { mode: 'ar', rt, candidates: 2, selectCalls: -1 })).rejects.toThrow(/selectCalls must be a non-negative integer \(or absent: every call\), got -1/);
    // One candidate needs no critic: it is the plain policy.
    const p = await prtsPolicyFromCheckpoint(noCrl, { mode: 'ar', rt, candidates: 1 });
    p.dispose();
  });

  test("critic: another checkpoint's CRL critic scores the policy's own proposals; a BC-only policy can use one; mismatches are refused", async () => {
    // A second critic: the same backbone, its phi MLP redrawn, so it scores the same proposals differently.
    const rng = new Rng(5);
    const other: CheckpointData = { ...preData, params: preData.params.map((t) => (t.name.includes('.phi.') ? { ...t, data: Float32Array.from(t.data, () => rng.normal() * 0.5) } : t)) };
    expect(other.params.filter((t) => t.name.includes('.phi.')).length).toBeGreaterThan(0);
    const noCrl = { ...preData, trainer: { ...preData.trainer, withCrl: false } };
    const sel = { mode: 'ar' as const, rt, candidates: 4, temperature: 1.5 };
    const live = rt.liveBytes;
    const self = await prtsPolicyFromCheckpoint(preData, sel);
    const sameCritic = await prtsPolicyFromCheckpoint(preData, { ...sel, critic: preData });
    const otherCritic = await prtsPolicyFromCheckpoint(preData, { ...sel, critic: other });
    const otherAlone = await prtsPolicyFromCheckpoint(other, sel);
    const bcOnly = await prtsPolicyFromCheckpoint(noCrl, { ...sel, critic: other });
    try {
      const all = [self, sameCritic, otherCritic, otherAlone, bcOnly];
      for (const x of all) await x.reset(episodes([3, 4]));
      const [a, b, c, d, e] = await Promise.all(all.map((x) => x.inference.propose(inputs())));
      const rows = (p: typeof a) => p.chunks.map((ch) => Array.from(ch));
      // The proposals are always the policy's own (the phi MLP plays no part in decoding).
      for (const p of [b, c, d, e]) expect(rows(p)).toEqual(rows(a));
      // Its own checkpoint as the critic is self-selection.
      Array.from(b.values!).forEach((v, r) => expect(v).toBeCloseTo(a.values![r], 5));
      expect(b.chosen).toEqual(a.chosen);
      // Another critic's values are that checkpoint's own values of the same chunks, and decide the choice.
      Array.from(c.values!).forEach((v, r) => expect(v).toBeCloseTo(d.values![r], 5));
      expect(Array.from(c.values!).some((v, r) => Math.abs(v - a.values![r]) > 1e-3)).toBe(true);
      [0, 1].forEach((k) => {
        const vals = Array.from(c.values!.subarray(k * 4, k * 4 + 4));
        expect(vals[c.chosen[k]]).toBe(Math.max(...vals));
      });
      // A policy trained without CRL selects with the critic exactly as the CRL one does.
      expect(e.chosen).toEqual(c.chosen);
      Array.from(e.values!).forEach((v, r) => expect(v).toBeCloseTo(c.values![r], 5));
      expect(otherCritic.name).toMatch(/critic pretrain step 3/);
    } finally {
      for (const x of [self, sameCritic, otherCritic, otherAlone, bcOnly]) x.dispose();
    }
    // The critic's weights go with the policy.
    expect(rt.liveBytes).toBe(live);
    await expect(prtsPolicyFromCheckpoint(preData, { mode: 'ar', rt, critic: other })).rejects.toThrow(/critic: it scores proposals, so it needs candidates of 2 or more, got 1/);
    await expect(prtsPolicyFromCheckpoint(preData, { ...sel, critic: noCrl })).rejects.toThrow(/critic: that checkpoint's backbone \(pretrain, step 3\) was trained without CRL/);
    const otherTokens = { ...other, tokenizers: JSON.parse(JSON.stringify(other.tokenizers)) };
    otherTokens.tokenizers.fast.scale = (otherTokens.tokenizers.fast.scale ?? 10) + 1;
    await expect(prtsPolicyFromCheckpoint(preData, { ...sel, critic: otherTokens })).rejects.toThrow(/critic: its tokenizers.json differs/);
    const otherPatch = { ...other, config: { ...other.config, model: { ...other.config.model, patchSize: other.config.model.patchSize * 2 } } };
    await expect(prtsPolicyFromCheckpoint(preData, { ...sel, critic: otherPatch })).rejects.toThrow(/critic: model.patchSize is \d+, the policy's \d+/);
    expect(rt.liveBytes).toBe(live);
  });

  test('a pre-training checkpoint has no DiT: dit mode says so', async () => {
    const data = await loadCheckpoint(runIO);
    const { prtsPolicyFromCheckpoint } = await import('../../../src/train/inference.ts');
    const { dit: _d, ...pre } = data;
    void _d;
    await expect(prtsPolicyFromCheckpoint({ ...pre, trainer: { ...data.trainer, kind: 'pretrain' } as never }, { mode: 'dit', rt })).rejects.toThrow(/has no DiT action expert \(dit.json\); post-train it first/);
  });

  test('the evaluation harness runs the checkpoint policy end to end', async () => {
    const policy = await loadPrtsPolicy(runIO, undefined, { rt, seed: 3 });
    try {
      expect(policy.inference.mode).toBe('dit');
      const res = await evaluate(policy, { tasks: [TASK_IDS[0]], initStates: [0], maxSteps: 6, camera: { width: 8, height: 8, device: rt.device } });
      expect(res.episodes).toHaveLength(1);
      expect(res.episodes[0].steps).toBe(6);
      expect(res.episodes[0].policyIssues).toBe(0);
      expect(res.policyDiagnostics).toMatchObject({ mode: 'dit', calls: 2, arFailures: 0 });
      expect(policy.inference.stats.calls).toBe(2); // 6 steps / chunks of 4
    } finally {
      policy.dispose();
    }
  });
});
