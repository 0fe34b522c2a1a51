/** Helpers the model's batch builder uses on decoded episode columns. */
import { DatasetError } from './types.ts';

export interface ActionChunk {
  /** H * dim values, frame-major. */
  actions: Float32Array;
  /** valid[h] = 1 where step t + h is inside the episode; padded steps repeat the last action. */
  valid: Uint8Array;
  dim: number;
}

/**
 * Actions t .. t+H-1 of an episode whose `length` actions (each `dim` wide) are in
 * `actions`. Past the end the last action is repeated and marked invalid, so a chunk
 * near the end is still a plausible trajectory (the robot holds) and losses can mask it.
 */
export function actionChunkFrom(actions: ArrayLike<number>, length: number, dim: number, t: number, H: number): ActionChunk {
  if (!Number.isInteger(t) || t < 0 || t >= length) throw new DatasetError(`actionChunk: t = ${t} is outside the episode (length ${length})`);
  if (!Number.isInteger(H) || H < 1) throw new DatasetError(`actionChunk: horizon H must be a positive integer, got ${H}`);
  const out = new Float32Array(H * dim);
  const valid = new Uint8Array(H);
  for (let h = 0; h < H; h++) {
    const src = Math.min(t + h, length - 1);
    valid[h] = t + h < length ? 1 : 0;
    for (let d = 0; d < dim; d++) out[h * dim + d] = actions[src * dim + d];
  }
  return { actions: out, valid, dim };
}
