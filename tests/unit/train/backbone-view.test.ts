/**
 * A post-trained run (or a weights-only one) read through its backbone (backboneCheckpoint, used by CrlProbe for
 * the Value and Embeddings tabs): with the backbone frozen during post-training, phi and
 * psi of the post-trained checkpoint equal those of the pre-training checkpoint it
 * started from, so the DiT neither breaks nor leaks into the value read-out.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { memoryIO } from '../../../src/data/index.ts';
import { CrlProbe } from '../../../src/analysis/value-curves.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointData } from '../../../src/train/checkpoint.ts';
import { backboneCheckpoint, PostTrainRun } from '../../../src/train/posttrain.ts';
import { Pretrainer, resolveTrainOptions } from '../../../src/train/pretrain.ts';
import { makeFixture, type Fixture } from '../model/batch.dataset.ts';
import { tinyConfig } from './pretrain.helpers.ts';

let rt: Runtime;
let fx: Fixture;
let pre: CheckpointData;
let post: CheckpointData;

beforeAll(async () => {
  rt = await Runtime.create();
  fx = await makeFixture();
  const cfg = tinyConfig({ steps: 1, warmupSteps: 0 });
  const tr = await Pretrainer.create(rt, cfg, fx.reader);
  try {
    await tr.step();
    pre = await tr.checkpoint();
  } finally {
    tr.dispose();
  }
  const run = await PostTrainRun.create(rt, pre, fx.reader, { steps: 1, freezeBackbone: true, dit: { dModel: 32, heads: 2, layers: 1, mlpHidden: 64, timeFreqDim: 16 } });
  try {
    await run.step();
    // Through the checkpoint format, as a browser run is.
    const io = memoryIO();
    await saveCheckpoint(io, await run.checkpoint());
    post = await loadCheckpoint(io);
  } finally {
    run.dispose();
  }
}, 120_000);
afterAll(() => rt?.destroy());

test('the backbone view of a post-training checkpoint: no DiT, zero moments, a pre-training state', () => {
  expect(backboneCheckpoint(pre)).toBe(pre);
  const v = backboneCheckpoint(post);
  expect(post.params.some((t) => t.name.startsWith('dit.'))).toBe(true);
  expect(v.params.some((t) => t.name.startsWith('dit.'))).toBe(false);
  expect(v.params.map((t) => t.name).sort()).toEqual(pre.params.map((t) => t.name).sort());
  expect(v.optimizer.length).toBe(2 * v.params.length);
  expect(v.optimizer.every((t) => t.data.every((x) => x === 0))).toBe(true);
  expect(v.trainer).toMatchObject({ kind: 'pretrain', step: 1, samplerSeed: resolveTrainOptions(pre.config).samplerSeed, withCrl: true });
  expect(v.dit).toBeUndefined();
});

/** phi, psi and V of the first four samples of episode 0, read through CrlProbe. */
async function embed(ck: CheckpointData) {
  const probe = await CrlProbe.create(rt, ck, fx.reader);
  try {
    return await probe.embed(probe.episodeSamples(0).slice(0, 4));
  } finally {
    probe.dispose();
  }
}

test('CrlProbe reads a post-trained run; a frozen backbone gives the pre-training phi and psi', async () => {
  const a = await embed(pre);
  const b = await embed(post);
  expect(Array.from(b.phi)).toEqual(Array.from(a.phi));
  expect(Array.from(b.psi)).toEqual(Array.from(a.psi));
  expect(b.value.every(Number.isFinite)).toBe(true);
});

test('a weights-only pre-training checkpoint (a shipped archive) reads like the full one', async () => {
  const light = { ...pre, optimizer: [], optimizerSteps: {} };
  const v = backboneCheckpoint(light);
  expect(v.optimizer.length).toBe(2 * v.params.length);
  expect(v.optimizer.every((t) => t.data.every((x) => x === 0))).toBe(true);
  expect(Object.values(v.optimizerSteps).every((k) => k === 0)).toBe(true);
  expect(v.params).toBe(pre.params);
  const [a, b] = [await embed(pre), await embed(light)];
  expect(Array.from(b.phi)).toEqual(Array.from(a.phi));
  expect(Array.from(b.psi)).toEqual(Array.from(a.psi));
});
