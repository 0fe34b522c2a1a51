/**
 * The training config the training benchmarks share (bench:train, bench:twin): a model
 * body from a preset or from explicit sizes, on the synthetic dataset's vocabularies and
 * state/action shapes, so the engine and its peers time the same model on the same data.
 */
import { PRESETS, type WorkbenchConfig } from '../src/model/config.ts';

export type BenchPreset = 'tiny' | 'small' | 'base' | 'cpu';

export interface BenchTrainSizes {
  preset?: BenchPreset | null;
  d: number;
  layers: number;
  image: number;
  patch: number;
  batch: number;
  tasks: number;
  /** Steps of the run (only the learning-rate schedule reads it). */
  steps: number;
}

/** The config, or the reason the sizes do not fit. */
export function benchTrainConfig(s: BenchTrainSizes): { config: WorkbenchConfig } | { error: string } {
  const preset = s.preset ? PRESETS[s.preset].model : null;
  const d = preset?.dModel ?? s.d;
  const layers = preset?.layers ?? s.layers;
  const image = preset?.imageSize ?? s.image;
  const patch = preset?.patchSize ?? s.patch;
  // A preset's batch, rounded up to whole tasks (the sampler draws the same count per task).
  const batch = s.preset ? Math.ceil(PRESETS[s.preset].train.batchSize / s.tasks) * s.tasks : s.batch;
  const samplesPerTask = batch / s.tasks;
  if (!Number.isInteger(samplesPerTask)) return { error: `--batch (${batch}) must be a multiple of --tasks (${s.tasks})` };
  if (!preset && d % 32 !== 0) return { error: `--d must be a multiple of 32 (head_dim 32), got ${d}` };
  return {
    config: {
      name: 'bench-train',
      model: {
        textVocab: 512,
        actionVocab: 256,
        dModel: d,
        layers,
        heads: preset?.heads ?? d / 32,
        headDim: preset?.headDim ?? 32,
        mlpRatio: preset?.mlpRatio ?? 4,
        patchSize: patch,
        imageSize: image,
        cameras: preset?.cameras ?? ['agentview'],
        stateDim: 4,
        stateDigits: 2,
        instructionTokens: 16,
        chunkLength: 8,
        actionDim: 7,
        fastScale: 10,
        fastTokens: 32,
        crlHidden: preset?.crlHidden ?? d,
        crlDim: preset?.crlDim ?? 32,
        attnTile: 32,
      },
      train: {
        batchSize: batch,
        samplesPerTask,
        lr: 1e-3,
        warmupSteps: 1,
        steps: s.steps,
        weightDecay: 0.01,
        gradClip: 1,
        gamma: 0.99,
        lambdaCrl: 1,
        temperatureInit: 0.2,
        maxScale: 100,
        seed: 0,
      },
    },
  };
}
