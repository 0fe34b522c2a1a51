/**
 * A small synthetic LeRobot v3 dataset for the training benchmark and CLI smoke runs:
 * `tasks` tasks, `episodesPerTask` episodes each, one or more RGB cameras whose images
 * show a task-coloured square moving with the end effector, a 4-D state and 7-D
 * end-effector-delta actions that are smooth per-task curves plus noise. It has the
 * structure PRTS needs (actions depend on task and state, several tasks to contrast,
 * progress over an episode) without the physics simulation. Written through any
 * WritableDatasetIO (memoryIO for benchmarks, nodeIO to put it on disk).
 */
import { LeRobotWriter, type ImageFrame, type WritableDatasetIO } from '../data/index.ts';
import { Rng } from '../engine/random.ts';

export interface SyntheticDatasetOptions {
  tasks?: number;
  episodesPerTask?: number;
  /** Episode lengths are drawn uniformly in [minLength, maxLength]. */
  minLength?: number;
  maxLength?: number;
  imageSize?: number;
  cameras?: string[];
  seed?: number;
}

const VERBS = ['pick up', 'push', 'open', 'close', 'lift', 'slide', 'place', 'rotate'];
const OBJECTS = ['the red block', 'the blue bowl', 'the top drawer', 'the green cup', 'the black mug', 'the yellow plate'];

export function syntheticInstruction(k: number): string {
  return `${VERBS[k % VERBS.length]} ${OBJECTS[Math.floor(k / VERBS.length) % OBJECTS.length]}${k >= VERBS.length * OBJECTS.length ? ` ${k}` : ''}`;
}

export async function writeSyntheticDataset(io: WritableDatasetIO, options: SyntheticDatasetOptions = {}): Promise<{ episodes: number; frames: number; tasks: string[] }> {
  const tasks = options.tasks ?? 4;
  const perTask = options.episodesPerTask ?? 3;
  const minLen = options.minLength ?? 24;
  const maxLen = options.maxLength ?? 40;
  const S = options.imageSize ?? 32;
  const cameras = options.cameras ?? ['agentview'];
  const rng = new Rng(options.seed ?? 0);
  const features: Record<string, { dtype: 'float32' | 'image'; shape: number[]; names: string[] }> = {
    'observation.state': { dtype: 'float32', shape: [4], names: ['x', 'y', 'z', 'grip'] },
    action: { dtype: 'float32', shape: [7], names: ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'grip'] },
  };
  for (const c of cameras) features[`observation.images.${c}`] = { dtype: 'image', shape: [S, S, 3], names: ['height', 'width', 'channels'] };
  const w = await LeRobotWriter.create(io, { repoId: 'prts/synthetic', fps: 20, robotType: 'panda', features });
  const names = Array.from({ length: tasks }, (_, k) => syntheticInstruction(k));
  let frames = 0;
  for (let e = 0; e < tasks * perTask; e++) {
    const task = e % tasks;
    const T = minLen + rng.int(maxLen - minLen + 1);
    const phase = (2 * Math.PI * task) / tasks;
    const colour = [(80 + 60 * task) % 256, (200 - 40 * task + 256) % 256, (50 + 90 * task) % 256];
    const pos = [rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), 0.2];
    for (let t = 0; t < T; t++) {
      const u = t / T;
      const a = [
        0.05 * Math.cos(phase + 3 * u) + 0.005 * rng.normal(),
        0.05 * Math.sin(phase + 3 * u) + 0.005 * rng.normal(),
        -0.02 * Math.sin(Math.PI * u),
        0.01 * Math.sin(phase),
        0,
        0.02 * Math.cos(phase + u),
        u > 0.5 ? 1 : -1,
      ];
      const frame: Record<string, number[] | ImageFrame> = { 'observation.state': [pos[0], pos[1], pos[2], u > 0.5 ? 1 : 0], action: a };
      cameras.forEach((c, ci) => {
        const data = new Uint8Array(S * S * 3).fill(30 + 20 * ci);
        const cx = Math.round((S / 2) * (1 + 3 * pos[0]));
        const cy = Math.round((S / 2) * (1 + 3 * pos[1]));
        const r = Math.max(1, Math.round(S / 8));
        for (let y = Math.max(0, cy - r); y < Math.min(S, cy + r); y++) {
          for (let x = Math.max(0, cx - r); x < Math.min(S, cx + r); x++) data.set(colour, (y * S + x) * 3);
        }
        frame[`observation.images.${c}`] = { width: S, height: S, channels: 3, data };
      });
      w.addFrame(frame);
      for (let d = 0; d < 3; d++) pos[d] += a[d];
      frames++;
    }
    await w.saveEpisode({ task: names[task] });
  }
  await w.finalize();
  return { episodes: tasks * perTask, frames, tasks: names };
}
