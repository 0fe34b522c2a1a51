/**
 * The workbench half of the twin's numerical cross-check (`npm run twin:check`, issue 12):
 * on a small synthetic dataset it writes
 *   init/                   the step-0 checkpoint (the workbench's initial weights)
 *   shard-*.safetensors     the batch stream, shards.json
 *   expected.safetensors    "grad.<param>": every gradient of the step-0 loss, and
 *                           "param1.<param>": every parameter after the first AdamW step
 *   expected.json           the step-0 loss terms, and every step's losses, learning rate
 *                           and gradient norm over `steps` steps
 * and the twin (torch/prts_torch/check.py) recomputes all of it from init/ and the shards.
 */
import { memoryIO, LeRobotReader, type WritableDatasetIO } from '../data/index.ts';
import { backward, zeroGrad } from '../engine/autograd.ts';
import type { Runtime } from '../engine/runtime.ts';
import { Scope, type Tensor } from '../engine/tensor.ts';
import type { PackedBatch } from '../model/batch.ts';
import { PRESETS, type WorkbenchConfig } from '../model/config.ts';
import { saveCheckpoint, type CheckpointIO } from '../train/checkpoint.ts';
import { Pretrainer } from '../train/pretrain.ts';
import { lrAt } from '../train/schedule.ts';
import { encodeSafetensors, type NamedTensor } from '../train/safetensors.ts';
import { writeSyntheticDataset } from '../train/synthetic-dataset.ts';
import { encodeShard, shardName } from './shards.ts';
import { SHARD_INDEX_FORMAT, type ShardIndex } from './export.ts';

export interface TwinCheckOptions {
  steps?: number;
  config?: WorkbenchConfig;
  seed?: number;
}

/** Grounding labels for the synthetic dataset (its episodes name no object): episode e gets e mod classes, every fifth none. */
export function syntheticGroundingLabels(episodes: number, classes: number): Int32Array {
  return Int32Array.from({ length: episodes }, (_, e) => (e % 5 === 4 ? -1 : e % classes));
}

/** The cpu preset with CRL on, run for `steps` steps (a short warmup so the curve moves). */
export function twinCheckConfig(steps: number, seed = 0): WorkbenchConfig {
  const c = PRESETS.cpu;
  return { ...c, name: 'twin-check', train: { ...c.train, steps, warmupSteps: 2, seed, lambdaCrl: 1 } };
}

/** The synthetic dataset both halves of the check train on (6 tasks x 2 episodes, the config's cameras). */
export async function twinCheckReader(config: WorkbenchConfig, seed = 0): Promise<LeRobotReader> {
  const data = memoryIO();
  await writeSyntheticDataset(data, { tasks: 6, episodesPerTask: 2, imageSize: config.model.imageSize, cameras: config.model.cameras, seed });
  return LeRobotReader.open(data);
}

/** "grad.<name>" for every named parameter that has a gradient, read back. */
export async function readGrads(params: Iterable<[string, Tensor]>): Promise<NamedTensor[]> {
  const out: NamedTensor[] = [];
  for (const [name, t] of params) {
    if (t.grad) out.push({ name: `grad.${name}`, shape: [...t.shape], data: Float32Array.from((await t.grad.read()) as Float32Array) });
  }
  return out;
}

export interface TwinCheckExpected {
  step0: { total: number; bc: number; sal: number | null; lsa: number | null; grounding: number | null; gradNorm: number; lr: number };
  curve: { step: number; lr: number; total: number; bc: number; sal: number | null; lsa: number | null; gradNorm: number }[];
  params: number;
}

export async function writeTwinCheck(rt: Runtime, out: WritableDatasetIO, initIO: CheckpointIO, opts: TwinCheckOptions = {}): Promise<TwinCheckExpected> {
  const steps = opts.steps ?? 20;
  const config = opts.config ?? twinCheckConfig(steps, opts.seed ?? 0);
  const reader = await twinCheckReader(config, opts.seed ?? 0);
  const classes = config.model.groundingClasses ?? 0;
  const groundingLabels = (config.train.lambdaGrounding ?? 0) > 0 ? syntheticGroundingLabels(reader.episodes.length, classes) : undefined;
  const trainer = await Pretrainer.create(rt, config, reader, { steps, groundingLabels });
  try {
    await saveCheckpoint(initIO, await trainer.checkpoint());
    const { model } = trainer;
    const tokens: number[] = [];
    const batches: PackedBatch[] = [];
    for (let k = 0; k < steps; k++) {
      const b = await trainer.nextBatch();
      await out.writeFileAtomic(shardName(k), encodeShard(b, { step: k }));
      tokens.push(b.n - b.padTokens);
      batches.push(b);
    }
    const index: ShardIndex = {
      format: SHARD_INDEX_FORMAT,
      batches: steps,
      firstSamplerStep: 0,
      samplerSeed: trainer.options.samplerSeed,
      initStep: 0,
      withCrl: trainer.options.withCrl,
      tile: config.model.attnTile,
      vocabSize: trainer.bundle.vocab.size,
      tokens,
      config,
    };
    await out.writeFileAtomic('shards.json', new TextEncoder().encode(JSON.stringify(index, null, 1) + '\n'));

    // Step 0's loss terms and gradients, taken apart from the optimizer step.
    let grads: NamedTensor[] = [];
    const map = model.blockMap(batches[0]);
    const scope = new Scope();
    let step0: TwinCheckExpected['step0'];
    try {
      const L = scope.run(() => {
        const l = model.losses(batches[0], map);
        backward(l.total);
        return l;
      });
      grads = await readGrads(model.store.tensors);
      step0 = {
        total: await L.total.item(),
        bc: await L.bc.item(),
        sal: L.crl ? await L.crl.lossSaL.item() : null,
        lsa: L.crl ? await L.crl.lossLSa.item() : null,
        grounding: L.grounding ? await L.grounding.loss.item() : null,
        gradNorm: Math.sqrt(grads.reduce((s, g) => s + g.data.reduce((a, x) => a + x * x, 0), 0)),
        lr: lrAt(0, trainer.schedule),
      };
    } finally {
      scope.dispose();
      map.release();
      zeroGrad(trainer.optimizer.params);
    }

    const curve: TwinCheckExpected['curve'] = [];
    const after: NamedTensor[] = [];
    for (let k = 0; k < steps; k++) {
      const m = await trainer.stepOn(batches[k]);
      curve.push({ step: m.step, lr: m.lr, total: m.total, bc: m.bc, sal: m.saL, lsa: m.lSa, gradNorm: m.gradNorm });
      if (k === 0) for (const p of await trainer.parameters()) after.push({ ...p, name: `param1.${p.name}` });
    }
    await out.writeFileAtomic('expected.safetensors', encodeSafetensors([...grads, ...after], { format: 'prts-twin-check' }));
    const expected: TwinCheckExpected = { step0, curve, params: model.store.count };
    await out.writeFileAtomic('expected.json', new TextEncoder().encode(JSON.stringify(expected, null, 1) + '\n'));
    return expected;
  } finally {
    trainer.dispose();
  }
}
