/**
 * A small LeRobot v3.0 dataset in memory for the batch-builder tests: 7 episodes of 4
 * tasks with smooth per-task actions (sinusoids whose phase depends on the task, plus a
 * gripper step), a 4-D state, one 4x4 camera; the last task has a single 3-frame
 * episode, fewer samples than a batch wants of it. A TokenizerBundle is fitted on it.
 */
import { Rng } from '../../../src/engine/random.ts';
import { LeRobotReader, LeRobotWriter, memoryIO, type ImageFrame } from '../../../src/data/index.ts';
import { SampleIndex } from '../../../src/model/batch.ts';
import { TokenizerBundle, type EmbodimentDescriptor } from '../../../src/model/tokenizers/index.ts';

export const TASKS = ['pick up the red block', 'open the top drawer', 'put the red block in the top drawer', 'push the cup left'];
/** [task, length] per episode; episode 6 is the short single episode of task 3. */
export const EPISODES: [number, number][] = [
  [0, 16],
  [1, 14],
  [0, 13],
  [2, 15],
  [1, 12],
  [2, 11],
  [3, 3],
];
export const H = 4;
export const ACTION_DIM = 3;
export const STATE_DIM = 4;
export const PATCHES = [4];

export const EMBODIMENT: EmbodimentDescriptor = { robot: 'panda', arms: 1, control: 'ee-delta', rateHz: 20, chunk: H, actionDims: ACTION_DIM };

export function frameImage(ep: number, t: number): ImageFrame {
  const rng = new Rng(7919 * ep + t);
  return { width: 4, height: 4, channels: 3, data: Uint8Array.from({ length: 48 }, () => rng.int(256)) };
}

export interface Fixture {
  reader: LeRobotReader;
  index: SampleIndex;
  bundle: TokenizerBundle;
}

export async function makeFixture(): Promise<Fixture> {
  const io = memoryIO();
  const w = await LeRobotWriter.create(io, {
    repoId: 'prts/batch-test',
    fps: 20,
    robotType: 'panda',
    features: {
      'observation.state': { dtype: 'float32', shape: [STATE_DIM], names: ['x', 'y', 'z', 'grip'] },
      'observation.images.agentview': { dtype: 'image', shape: [4, 4, 3], names: ['height', 'width', 'channels'] },
      action: { dtype: 'float32', shape: [ACTION_DIM], names: ['dx', 'dy', 'grip'] },
    },
  });
  const rng = new Rng(5);
  for (const [ep, [task, length]] of EPISODES.entries()) {
    const phase = rng.uniform(0, 1) + task;
    for (let t = 0; t < length; t++) {
      const s = t / 20;
      w.addFrame({
        'observation.state': [Math.sin(s + phase), Math.cos(s + phase), 0.1 * t, t > length / 2 ? 1 : 0],
        'observation.images.agentview': frameImage(ep, t),
        action: [0.3 * Math.sin(2 * s + phase), 0.2 * Math.cos(3 * s + phase), t > length / 2 ? 1 : -1],
      });
    }
    await w.saveEpisode({ task: TASKS[task] });
  }
  await w.finalize();
  const reader = await LeRobotReader.open(io);
  const index = await SampleIndex.fromReader(reader, { horizon: H });
  const st = reader.stats['observation.state'];
  const bundle = TokenizerBundle.fit(
    { instructions: reader.tasks, chunks: index.chunks(), stateStats: { q01: st.q01, q99: st.q99 }, embodiment: EMBODIMENT },
    { fast: { horizon: H, actionDim: ACTION_DIM, vocabSize: 64 }, proprioBins: 32 },
  );
  return { reader, index, bundle };
}
