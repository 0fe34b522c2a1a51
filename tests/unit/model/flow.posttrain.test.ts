import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Rng, Runtime, noGrad, tidy } from '../../../src/engine/index';
import type { DitConfig } from '../../../src/model/dit';
import { PrtsModel, type ModelBatch } from '../../../src/model/prts';
import type { PostTrainBatch } from '../../../src/train/posttrain-batch';
import { sampleActions } from '../../../src/train/posttrain-sampling';
import { PostTrainer, prtsBackbone } from '../../../src/train/posttrain-trainer';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

const D = 32;
const H = 2;
const K = 4;

function tinyModel(): PrtsModel {
  return new PrtsModel(rt, {
    backbone: { vocabSize: 16, dModel: D, layers: 1, heads: 1, headDim: 32, mlpHidden: 32, ropeBase: 10000, normEps: 1e-6, patchFeatures: 0 },
    crl: { hidden: 16, embedDim: 8, temperatureInit: 0.2, maxScale: 100 },
    gamma: 0.9,
    lambdaCrl: 0,
    tile: 32,
    seed: 1,
  });
}

const ditCfg: DitConfig = {
  dModel: 32,
  heads: 2,
  layers: 1,
  horizon: H,
  actionDim: K,
  contextDim: D,
  mlpHidden: 32,
  timeFreqDim: 8,
  timeScale: 1000,
  normEps: 1e-6,
};

/** Two documents of 12 tokens (6 vision/state, 6 instruction) with different ids; sample 0
 * wants +2 on channels 0-2, sample 1 wants -2 on channels 0-2 of step 0 only. */
function batch(): PostTrainBatch {
  const n = 24;
  const ids = new Int32Array(n);
  const roles = new Uint8Array(n);
  const docs = new Int32Array(n);
  const positions = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const doc = i < 12 ? 0 : 1;
    ids[i] = doc === 0 ? i % 5 : 8 + (i % 7);
    roles[i] = i % 12 < 6 ? 0 : 1;
    docs[i] = doc;
    positions[i] = i % 12;
  }
  const empty = new Int32Array(0);
  const model: ModelBatch = {
    n,
    ids,
    roles,
    docs,
    positions,
    targetIndices: empty,
    targets: empty,
    actionEndIndex: empty,
    goalEndIndex: empty,
    goalOf: empty,
    t: empty,
    T: empty,
  };
  const mask = Float32Array.from([1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
  const actions = Float32Array.from([2, 2, 2, 0, 2, 2, 2, 0, -2, -2, -2, 0, 0, 0, 0, 0]);
  return { model, contextStart: Int32Array.from([0, 12]), contextEnd: Int32Array.from([12, 24]), actions, mask };
}

async function snapshot(ts: { toFloat32(): Promise<Float32Array> }[]): Promise<Float32Array[]> {
  return Promise.all(ts.map((t) => t.toFloat32()));
}

function changed(a: Float32Array[], b: Float32Array[]): boolean {
  return a.some((x, i) => x.some((v, j) => v !== b[i][j]));
}

describe('post-training', () => {
  test('validation names the field', () => {
    const model = tinyModel();
    expect(() => new PostTrainer(prtsBackbone(model), { dit: { ...ditCfg, contextDim: 16 }, seed: 1 })).toThrow(
      /dit.contextDim \(16\) must equal the backbone's dModel \(32\)/,
    );
    model.store.dispose();
  });

  test('frozen backbone stays bitwise fixed; unfrozen receives gradients; DiT learns the context-conditioned chunks', async () => {
    const b = batch();
    // Frozen: only the DiT moves.
    const frozenModel = tinyModel();
    const frozen = new PostTrainer(prtsBackbone(frozenModel), { dit: ditCfg, seed: 3, freezeBackbone: true, weightDecay: 0 });
    const bbFrozen = prtsBackbone(frozenModel).params();
    expect(bbFrozen.length).toBeGreaterThan(0);
    const before = await snapshot(bbFrozen);
    const ditBefore = await snapshot(frozen.dit.params(frozen.store));
    for (let s = 0; s < 3; s++) await frozen.step(b, 3e-3);
    expect(changed(before, await snapshot(bbFrozen))).toBe(false);
    expect(changed(ditBefore, await snapshot(frozen.dit.params(frozen.store)))).toBe(true);
    frozen.dispose();
    frozenModel.store.dispose();

    // Default: gradients flow into the backbone (from the second step on: at init the
    // zero gates and output layer of adaLN-Zero block every path to the context).
    const model = tinyModel();
    // pi0's noise-leaning time: which sign to move to is decided at small tau, where only
    // the context tells the samples apart (near tau = 1, a_tau itself reveals the chunk).
    const trainer = new PostTrainer(prtsBackbone(model), { dit: ditCfg, seed: 3, weightDecay: 0, tau: { emphasis: 'noise' } });
    const bb = prtsBackbone(model).params();
    const bbBefore = await snapshot(bb);
    const losses: number[] = [];
    for (let s = 0; s < 150; s++) losses.push(await trainer.step(b, 5e-3));
    expect(changed(bbBefore, await snapshot(bb))).toBe(true);
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    const first = mean(losses.slice(0, 5));
    const last = mean(losses.slice(-5));
    console.log(JSON.stringify({ firstLoss: +first.toFixed(3), lastLoss: +last.toFixed(3) }));
    // E|a - eps|^2 = 4 + 1 = 5 per valid entry at init; the conditional optimum is far lower.
    expect(first).toBeGreaterThan(3);
    expect(last).toBeLessThan(0.6 * first);

    // The policy sampler: deterministic per seed, padded entries 0, and conditioned on
    // the context (sample 0 moves to +2, sample 1 to -2 on its valid entries).
    const map = model.blockMap(b.model);
    const hidden = noGrad(() => tidy(() => model.hidden(b.model, map)));
    map.release();
    const ctx = { hidden, start: b.contextStart, end: b.contextEnd };
    const a1 = await sampleActions(trainer.dit, ctx, 5, new Rng(4), { mask: b.mask });
    const a2 = await sampleActions(trainer.dit, ctx, 5, new Rng(4), { mask: b.mask });
    expect(Array.from(a1)).toEqual(Array.from(a2));
    expect(a1.length).toBe(2 * H * K);
    b.mask.forEach((m, i) => {
      if (!m) expect(a1[i]).toBe(0);
    });
    let s0 = 0;
    let s1 = 0;
    for (let i = 0; i < 8; i++) if (b.mask[i]) s0 += a1[i] / 6;
    for (let i = 8; i < 16; i++) if (b.mask[i]) s1 += a1[i] / 3;
    console.log(JSON.stringify({ sample0Mean: +s0.toFixed(3), sample1Mean: +s1.toFixed(3) }));
    expect(s0).toBeGreaterThan(0.5);
    expect(s1).toBeLessThan(-0.5);
    await expect(sampleActions(trainer.dit, null, 5, new Rng(1))).rejects.toThrow(/opts.batch/);
    hidden.dispose();
    trainer.dispose();
    model.store.dispose();
  }, 600_000);
});
