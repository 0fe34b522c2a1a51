/**
 * The post-training half of the twin's cross-check (`npm run twin:check`, issue 12): the
 * DiT flow-matching action expert on top of the backbone, through the engine's own
 * PostTrainRun / PostTrainer code path. On the synthetic dataset of check-data.ts (with
 * K = 8 padded action channels for its 7) it writes, under `out`:
 *   init/                   the post-training checkpoint the checked step starts from
 *                           (saveCheckpoint): backbone, `dit.*` parameters, dit.json and
 *                           the AdamW moments and step counts
 *   shard-000000.safetensors  the packed batch of the checked step (encodeShard: ids, roles,
 *                           doc_start, doc_length, the raw actions, action_valid, ...)
 *   expected.safetensors    the flow draw and what the engine computed from it:
 *                             tau [B], eps, actions (the NORMALISED targets a), mask,
 *                             weights, weights_global, noisy, target, velocity [B, H, K];
 *                             context_start, context_end [B] (I32);
 *                             sample_noise, sample [B, H, K] (an Euler sample);
 *                             "grad.<param>" every gradient of the loss (the DiT's, and the
 *                             backbone's unless frozen), "after.<param>" every optimised
 *                             parameter after the AdamW step
 *   expected.json           the step index, loss, learning rate, gradient norm, shapes and
 *                           the cross-attention layout the engine used
 * and torch/prts_torch/check_dit.py recomputes all of it in float64.
 *
 * Who computes what: the engine side turns the batch's raw dataset actions into DiT
 * targets (postTrainBatch: FAST's quantile normalisation and clip, padding to K channels,
 * the per-step, per-channel validity mask) and draws tau and eps (flowBatch on the step's
 * seeded Rng); the twin reads those rather than re-implementing the tokenizers or the
 * generator. The twin computes everything else itself: the context ranges (from roles,
 * doc_start, doc_length), a_tau and v, the loss weights, the backbone's hidden states,
 * the velocity, the loss, the gradients, the AdamW step and the Euler sampler, and compares
 * the engine's intermediate values with its own where both exist.
 *
 * The checked step is the run's second: one ordinary PostTrainRun.step() comes first, so
 * the AdamW moments are not zero (a first Adam step is lr * sign(g) whatever the betas,
 * the gradient's scale and the clip). The DiT is adaLN-Zero, so its modulations and
 * output layer are ~lr after that step, the velocity ~0 and most gradients tiny; every DiT
 * parameter that starts at zero (the modulations, the output layer, the biases) therefore
 * gets seeded random values added before the checkpoint is written (matrices
 * N(0, 0.25 / fan-in), vectors N(0, 0.01)), so every path carries signal.
 */
import type { WritableDatasetIO } from '../data/index.ts';
import { backward, noGrad, zeroGrad } from '../engine/autograd.ts';
import { Rng } from '../engine/random.ts';
import type { Runtime } from '../engine/runtime.ts';
import { Scope, fromArray, type Tensor } from '../engine/tensor.ts';
import type { DitConfig } from '../model/dit.ts';
import { flowBatch, lossWeights, sampleNoise, type LossNormalization } from '../model/flow.ts';
import type { WorkbenchConfig } from '../model/config.ts';
import { saveCheckpoint, type CheckpointData, type CheckpointIO } from '../train/checkpoint.ts';
import { PostTrainRun, stepSeed } from '../train/posttrain.ts';
import { sampleActions } from '../train/posttrain-sampling.ts';
import { Pretrainer } from '../train/pretrain.ts';
import { encodeSafetensors, type NamedTensor, type TypedTensor } from '../train/safetensors.ts';
import { lrAt } from '../train/schedule.ts';
import { readGrads, twinCheckConfig, twinCheckReader } from './check-data.ts';
import { encodeShard, shardName } from './shards.ts';

export interface DitCheckOptions {
  /** train.seed, the dataset seed and the post-training seed (default 0). */
  seed?: number;
  /** Train the DiT only (default false: the gradient flows into the backbone). */
  freezeBackbone?: boolean;
  /** Overrides of the DiT sizes (DEFAULT_DIT), e.g. { attention: 'dense' }. */
  dit?: Partial<DitConfig>;
  /** The padded channel count K (model.actionDim; default 8, one more than the dataset's 7). */
  actionDim?: number;
  /** Euler steps of the sampling check (default 5). */
  samplingSteps?: number;
  config?: WorkbenchConfig;
}

export interface DitCheckExpected {
  /** The run's step index of the checked step (1: one ordinary step came first). */
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  freezeBackbone: boolean;
  normalization: LossNormalization;
  shape: [number, number, number];
  /** Longest context L and whether cross-attention ran the dense layout. */
  contextLength: number;
  crossDense: boolean;
  samplingSteps: number;
  ditParams: number;
  validEntries: number;
}

/** The config of the DiT check: twinCheckConfig with K padded channels. */
export function ditCheckConfig(seed = 0, actionDim = 8): WorkbenchConfig {
  const c = twinCheckConfig(20, seed);
  return { ...c, name: 'twin-check-dit', model: { ...c.model, actionDim } };
}

const f32 = async (t: Tensor): Promise<Float32Array> => Float32Array.from((await t.read()) as Float32Array);

/** Adds seeded N(0, std^2) values to `params` (see the module comment). */
function perturb(rt: Runtime, params: { t: Tensor; data: Float32Array }[], seed: number): void {
  const rng = new Rng(seed ^ 0xd17);
  for (const { t, data } of params) {
    const std = t.rank >= 2 ? 0.5 / Math.sqrt(t.shape[0]) : 0.1;
    for (let i = 0; i < data.length; i++) data[i] += rng.normal() * std;
    rt.write(t.buffer, data);
  }
}

export async function writeDitCheck(rt: Runtime, out: WritableDatasetIO, initIO: CheckpointIO, opts: DitCheckOptions = {}): Promise<DitCheckExpected> {
  const seed = opts.seed ?? 0;
  const config = opts.config ?? ditCheckConfig(seed, opts.actionDim ?? 8);
  const samplingSteps = opts.samplingSteps ?? 5;
  const reader = await twinCheckReader(config, seed);
  const pre = await Pretrainer.create(rt, config, reader, { steps: config.train.steps });
  let source: CheckpointData;
  try {
    source = await pre.checkpoint();
  } finally {
    pre.dispose();
  }
  const run = await PostTrainRun.create(rt, source, reader, { steps: config.train.steps, freezeBackbone: opts.freezeBackbone ?? false, seed, dit: opts.dit });
  try {
    const { trainer } = run;
    const ditParams = trainer.dit.params(trainer.store);
    const zeroInit: Tensor[] = [];
    for (const p of ditParams) if (!(await f32(p)).some((x) => x !== 0)) zeroInit.push(p);
    // One ordinary step of the run, so the checked step starts from non-zero AdamW moments.
    await run.step();
    perturb(rt, await Promise.all(zeroInit.map(async (t) => ({ t, data: await f32(t) }))), seed);
    await saveCheckpoint(initIO, await run.checkpoint());

    // The run's next batch, laid out and normalised by the run itself (without state jitter).
    const step = run.completedSteps;
    const drawn = run.sampler.next();
    const { packed, batch } = await run.assemble(Array.from(drawn.ids, (id) => run.index.sample(id)));
    await out.writeFileAtomic(shardName(0), encodeShard(packed, { step }));
    const { horizon: H, actionDim: K } = trainer.cfg.dit;
    const B = batch.contextStart.length;
    const shape: [number, number, number] = [B, H, K];
    const drawSeed = stepSeed(seed, step);
    // The draw PostTrainer.loss makes from Rng(drawSeed), made again on the CPU to save it.
    const fb = flowBatch(new Rng(drawSeed), batch.actions, shape, trainer.cfg.tau);
    const weights = lossWeights(batch.mask, shape, trainer.cfg.normalization);
    const sampleNoiseData = sampleNoise(new Rng(drawSeed ^ 0x5a3), B * H * K);

    // The loss and every gradient, through PostTrainer.loss (the training step's own code).
    const grads: NamedTensor[] = [];
    let loss: number;
    const scope = new Scope();
    try {
      const l = scope.run(() => {
        const r = trainer.loss(batch, new Rng(drawSeed));
        try {
          backward(r.loss);
        } finally {
          r.release();
        }
        return r.loss;
      });
      loss = await l.item();
      grads.push(...(await readGrads(run.model.store.tensors)), ...(await readGrads(trainer.store.tensors)));
    } finally {
      scope.dispose();
      zeroGrad(trainer.optimizer.params);
    }

    // The velocity of the same draw and the Euler sampler, without recording.
    let velocity: Float32Array;
    let sample: Float32Array;
    let contextLength: number;
    let crossDense: boolean;
    const vscope = new Scope();
    let release = () => {};
    try {
      const { hidden, ctx, v } = vscope.run(() =>
        noGrad(() => {
          const bb = trainer.backbone.hidden(batch.model);
          release = bb.release;
          const prepared = trainer.dit.prepareContext({ hidden: bb.hidden, start: batch.contextStart, end: batch.contextEnd });
          const mask = fromArray(rt, batch.mask, shape);
          const vel = trainer.dit.forward({ noisy: fromArray(rt, fb.noisy, shape), tau: fb.tau, mask, context: prepared }).velocity;
          return { hidden: bb.hidden, ctx: prepared, v: vel };
        }),
      );
      velocity = await f32(v);
      contextLength = ctx.L;
      crossDense = ctx.dense;
      sample = await sampleActions(trainer.dit, { hidden, start: batch.contextStart, end: batch.contextEnd }, samplingSteps, new Rng(0), {
        mask: batch.mask,
        noise: sampleNoiseData,
      });
    } finally {
      release();
      vscope.dispose();
    }

    // The AdamW step on the same batch and draw, as PostTrainRun.step takes it.
    const lr = lrAt(step, run.schedule);
    await trainer.step(batch, lr, new Rng(drawSeed));
    const gradNorm = await trainer.optimizer.lastGradNorm();
    const after: NamedTensor[] = [];
    for (const p of trainer.optimizer.params) after.push({ name: `after.${p.name!}`, shape: [...p.shape], data: await f32(p) });

    const t3 = (name: string, data: Float32Array): TypedTensor => ({ name, shape: [B, H, K], data });
    await out.writeFileAtomic(
      'expected.safetensors',
      encodeSafetensors(
        [
          { name: 'tau', shape: [B], data: fb.tau },
          t3('eps', fb.eps),
          t3('actions', batch.actions),
          t3('mask', batch.mask),
          t3('weights', weights),
          t3('weights_global', lossWeights(batch.mask, shape, 'global')),
          t3('noisy', fb.noisy),
          t3('target', fb.target),
          t3('velocity', velocity),
          t3('sample_noise', sampleNoiseData),
          t3('sample', sample),
          { name: 'context_start', shape: [B], data: batch.contextStart },
          { name: 'context_end', shape: [B], data: batch.contextEnd },
          ...grads,
          ...after,
        ],
        { format: 'prts-twin-check-dit' },
      ),
    );
    const expected: DitCheckExpected = {
      step,
      loss,
      lr,
      gradNorm,
      freezeBackbone: trainer.cfg.freezeBackbone ?? false,
      normalization: trainer.cfg.normalization ?? 'perChannel',
      shape,
      contextLength,
      crossDense,
      samplingSteps,
      ditParams: ditParams.reduce((a, p) => a + p.size, 0),
      validEntries: batch.mask.reduce((a, x) => a + x, 0),
    };
    await out.writeFileAtomic('expected.json', new TextEncoder().encode(JSON.stringify(expected, null, 1) + '\n'));
    return expected;
  } finally {
    run.dispose();
  }
}
