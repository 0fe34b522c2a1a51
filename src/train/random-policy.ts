/**
 * A PRTS checkpoint with random (untrained) weights over a synthetic dataset's tokenizers,
 * and synthetic policy inputs for it: enough to exercise and time the inference paths
 * (AR decoding with and without the KV cache) without a training run. Used by the
 * inference tests and `npm run bench:decode`; the numbers it decodes mean nothing.
 */
import { LeRobotReader, memoryIO } from '../data/index.ts';
import { Rng } from '../engine/random.ts';
import type { Runtime } from '../engine/runtime.ts';
import type { WorkbenchConfig } from '../model/config.ts';
import type { Observation } from '../sim/index.ts';
import type { CheckpointData } from './checkpoint.ts';
import type { PolicyInput } from './policy.ts';
import { Pretrainer } from './pretrain.ts';
import { syntheticInstruction, writeSyntheticDataset } from './synthetic-dataset.ts';

export interface RandomCheckpointOptions {
  dModel?: number;
  layers?: number;
  /** heads = dModel / headDim. */
  headDim?: 32 | 64;
  imageSize?: number;
  patchSize?: number;
  /** Distinct instructions (tasks) of the synthetic dataset. */
  tasks?: number;
  fastTokens?: number;
  /** Seeds the dataset and the weights. */
  seed?: number;
}

/** The checkpoint (step 0 of pre-training: initial weights, fitted tokenizers) and its task instructions. */
export async function randomCheckpoint(rt: Runtime, o: RandomCheckpointOptions = {}): Promise<{ data: CheckpointData; instructions: string[] }> {
  const d = o.dModel ?? 64;
  const headDim = o.headDim ?? 32;
  const tasks = o.tasks ?? 3;
  const imageSize = o.imageSize ?? 8;
  if (!Number.isInteger(d / headDim)) throw new RangeError(`randomCheckpoint: dModel ${d} must be a multiple of headDim ${headDim}`);
  const config: WorkbenchConfig = {
    name: 'random-policy',
    model: {
      textVocab: 256,
      actionVocab: 64,
      dModel: d,
      layers: o.layers ?? 2,
      heads: d / headDim,
      headDim,
      mlpRatio: 2,
      patchSize: o.patchSize ?? 2,
      imageSize,
      cameras: ['agentview'],
      stateDim: 4,
      stateDigits: 1,
      instructionTokens: 16,
      chunkLength: 4,
      actionDim: 7,
      fastScale: 10,
      fastTokens: o.fastTokens ?? 16,
      crlHidden: 32,
      crlDim: 16,
      attnTile: 32,
    },
    train: {
      batchSize: tasks,
      samplesPerTask: 1,
      lr: 1e-3,
      warmupSteps: 1,
      steps: 1,
      weightDecay: 0.01,
      gradClip: 1,
      gamma: 0.99,
      lambdaCrl: 1,
      temperatureInit: 0.2,
      maxScale: 100,
      seed: o.seed ?? 0,
    },
  };
  const io = memoryIO();
  await writeSyntheticDataset(io, { tasks, episodesPerTask: 2, minLength: 12, maxLength: 16, imageSize, seed: o.seed ?? 0 });
  const pre = await Pretrainer.create(rt, config, await LeRobotReader.open(io));
  try {
    return { data: await pre.checkpoint(), instructions: Array.from({ length: tasks }, (_, k) => syntheticInstruction(k)) };
  } finally {
    pre.dispose();
  }
}

/** `n` inputs cycling through `instructions`, with random 4-D states and random square RGB images. */
export function randomPolicyInputs(n: number, instructions: readonly string[], imageSize: number, seed = 0): PolicyInput[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, envId) => {
    const instruction = instructions[envId % instructions.length];
    const obs = {
      proprio: { state: Float32Array.from({ length: 4 }, () => rng.uniform(-0.2, 0.2)) },
      images: { agentview: Uint8Array.from({ length: imageSize * imageSize * 3 }, () => rng.int(256)) },
      instruction,
      step: 0,
    } as unknown as Observation;
    return { envId, obs, instruction, taskId: `synthetic/${envId % instructions.length}` };
  });
}
