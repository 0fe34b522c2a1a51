import { Rng } from '../../../src/engine/random.ts';
import type { CreateDatasetOptions, Frame, ImageFrame } from '../../../src/data/index.ts';

export const OPTS: CreateDatasetOptions = {
  repoId: 'prts/test',
  fps: 20,
  robotType: 'panda',
  features: {
    'observation.state': { dtype: 'float32', shape: [8], names: ['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'gripper'] },
    'observation.images.agentview': { dtype: 'image', shape: [8, 6, 3], names: ['height', 'width', 'channels'] },
    action: { dtype: 'float32', shape: [7], names: ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'grip'] },
    phase: { dtype: 'int64', shape: [1], names: null },
    phase_description: { dtype: 'string', shape: [1], names: null },
    success: { dtype: 'bool', shape: [1], names: null },
  },
};

export function image(rng: Rng, h = 8, w = 6, c: 1 | 3 | 4 = 3): ImageFrame {
  const data = new Uint8Array(h * w * c);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width: w, height: h, channels: c, data };
}

/** Deterministic frames of episode `ep` (values depend only on ep and frame index). */
export function makeFrames(ep: number, length: number): Frame[] {
  const rng = new Rng(1000 + ep);
  return Array.from({ length }, (_, t) => ({
    'observation.state': Float32Array.from({ length: 8 }, () => rng.normal() * (ep + 1)),
    'observation.images.agentview': image(rng),
    action: Array.from({ length: 7 }, () => rng.uniform(-1, 1)),
    phase: Math.floor((t * 3) / length),
    phase_description: ['move down toward the red block', 'close the gripper', 'lift the block'][Math.floor((t * 3) / length)],
    success: t === length - 1,
  }));
}

export const episodeLength = (ep: number) => 5 + ((ep * 7) % 11);
