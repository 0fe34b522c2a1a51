/**
 * A tiny LeRobot dataset in tinyConfig's shapes (tests/unit/train/pretrain.helpers.ts):
 * 4x4 camera, 4-D state, 3-D actions, 3 tasks; episode k is task k % 3. With `phases`,
 * frames carry a phase column and episodes the phase names (for t-SNE and value tests).
 */
import { LeRobotWriter } from '../../../src/data/index.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import { Rng } from '../../../src/engine/random.ts';

export const TINY_TASKS = ['pick up the red block', 'open the top drawer', 'push the cup left'];

export interface TinyDatasetOptions {
  repoId: string;
  /** Frames of each episode. */
  lengths: readonly number[];
  seed: number;
  /** Phase names; frame t gets phase min(last, floor(t / 3)). */
  phases?: readonly string[];
}

export async function writeTinyDataset(root: string, o: TinyDatasetOptions): Promise<void> {
  const w = await LeRobotWriter.create(nodeIO(root), {
    repoId: o.repoId,
    fps: 20,
    robotType: 'panda',
    features: {
      'observation.state': { dtype: 'float32', shape: [4], names: ['x', 'y', 'z', 'grip'] },
      'observation.images.agentview': { dtype: 'image', shape: [4, 4, 3], names: ['height', 'width', 'channels'] },
      action: { dtype: 'float32', shape: [3], names: ['dx', 'dy', 'grip'] },
      ...(o.phases ? { phase: { dtype: 'int64', shape: [1], names: null } } : {}),
    },
  });
  const rng = new Rng(o.seed);
  for (const [ep, length] of o.lengths.entries()) {
    const task = ep % 3;
    for (let t = 0; t < length; t++) {
      const s = t / 10 + task;
      w.addFrame({
        'observation.state': [Math.sin(s), Math.cos(s), 0.1 * t, t > length / 2 ? 1 : 0],
        'observation.images.agentview': { width: 4, height: 4, channels: 3, data: Uint8Array.from({ length: 48 }, () => rng.int(256)) },
        action: [0.3 * Math.sin(2 * s), 0.2 * Math.cos(3 * s), t > length / 2 ? 1 : -1],
        ...(o.phases ? { phase: Math.min(o.phases.length - 1, Math.floor(t / 3)) } : {}),
      });
    }
    await w.saveEpisode(o.phases ? { task: TINY_TASKS[task], meta: { phases: [...o.phases], init_index: ep } } : { task: TINY_TASKS[task] });
  }
  await w.finalize();
}
