/**
 * A tiny PRTS checkpoint with the simulation's shapes (8-D state, 7-D actions, 8x8
 * agentview), trained for a few steps on a synthetic in-memory dataset: enough for a
 * rollout to run, not to succeed. Shared by tests/unit/train/rollout.test.ts and the Sim
 * tab's e2e test (which writes the files into the page's IndexedDB).
 */
import { LeRobotReader, LeRobotWriter, memoryIO, type ImageFrame } from '../../../src/data/index.ts';
import { Rng } from '../../../src/engine/random.ts';
import type { Runtime } from '../../../src/engine/runtime.ts';
import type { WorkbenchConfig } from '../../../src/model/config.ts';
import { ACTION_DIM, getTask } from '../../../src/sim/index.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointData } from '../../../src/train/checkpoint.ts';
import { PostTrainRun } from '../../../src/train/posttrain.ts';
import { Pretrainer } from '../../../src/train/pretrain.ts';
import { tinyConfig } from './pretrain.helpers.ts';

export const ROLLOUT_TASKS = ['goal/red_on_plate', 'spatial/left'];
const SIZE = 8;

export async function simShapedDataset(): Promise<LeRobotReader> {
  const io = memoryIO();
  const w = await LeRobotWriter.create(io, {
    repoId: 'prts/rollout-test',
    fps: 20,
    robotType: 'panda',
    features: {
      'observation.state': { dtype: 'float32', shape: [8], names: ['x', 'y', 'z', 'ax', 'ay', 'az', 'f1', 'f2'] },
      'observation.images.agentview': { dtype: 'image', shape: [SIZE, SIZE, 3], names: ['height', 'width', 'channels'] },
      action: { dtype: 'float32', shape: [ACTION_DIM], names: ['dx', 'dy', 'dz', 'rx', 'ry', 'rz', 'grip'] },
    },
  });
  const rng = new Rng(5);
  for (let e = 0; e < 4; e++) {
    const task = e % 2;
    for (let t = 0; t < 8; t++) {
      const u = t / 8;
      const img: ImageFrame = { width: SIZE, height: SIZE, channels: 3, data: Uint8Array.from({ length: SIZE * SIZE * 3 }, () => rng.int(256)) };
      w.addFrame({
        'observation.state': [0.1 * u, task ? -0.1 : 0.1, 0.2, 0, 0, 0, 0.04 * (1 - u), 0.04 * (1 - u)],
        'observation.images.agentview': img,
        action: [0.5 * Math.cos(task + 3 * u), 0.5 * Math.sin(task + 3 * u), -0.2 * u, 0, 0, 0.1 * task, u > 0.5 ? 1 : -1],
      });
    }
    await w.saveEpisode({ task: getTask(ROLLOUT_TASKS[task]).instruction });
  }
  await w.finalize();
  return LeRobotReader.open(io);
}

/**
 * The checkpoint directory's files (latest.json + step folder), pre-trained `steps`
 * steps and, with `dit`, post-trained 1 step with a fresh DiT.
 */
/** The tiny config that fits simShapedDataset and the simulator's cameras, state and actions. */
export function tinySimConfig(steps: number): WorkbenchConfig {
  const base = tinyConfig({ steps, batchSize: 4, samplesPerTask: 2, warmupSteps: 1 });
  return { ...base, model: { ...base.model, imageSize: SIZE, patchSize: 4, stateDim: 8, actionDim: ACTION_DIM, fastTokens: 40 } };
}

export async function tinySimCheckpoint(rt: Runtime, opts: { steps?: number; dit?: boolean } = {}): Promise<{ files: Record<string, Uint8Array>; data: CheckpointData }> {
  const reader = await simShapedDataset();
  const cfg = tinySimConfig(opts.steps ?? 2);
  const io = memoryIO();
  const pre = await Pretrainer.create(rt, cfg, reader);
  try {
    while (!pre.done) await pre.step();
    await saveCheckpoint(io, await pre.checkpoint());
  } finally {
    pre.dispose();
  }
  if (opts.dit) {
    const post = await PostTrainRun.create(rt, await loadCheckpoint(io), reader, { steps: 1, dit: { dModel: 32, heads: 2, layers: 1, mlpHidden: 64, timeFreqDim: 16 } });
    try {
      while (!post.done) await post.step();
      await saveCheckpoint(io, await post.checkpoint());
    } finally {
      post.dispose();
    }
  }
  const files = Object.fromEntries([...io.files].filter(([p]) => !p.includes('.tmp-')));
  return { files, data: await loadCheckpoint(io) };
}
