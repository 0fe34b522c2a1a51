/**
 * The DiT's action space (posttrain.ts). The flow's noise is N(0, 1), so the DiT regresses
 * actions in FAST's quantile-normalised units ([-1, 1] spans q01..q99 per channel, clipped
 * to [-clip, clip] with the tokenizer's fitted clip, so no training target is cut; see
 * fast.ts) rather than raw dataset units; inference maps its samples back with the same
 * stats. Dataset chunks go to the DiT's normalised, padded [B, H, K] tensor and validity
 * mask, and samples come back. Separate from the trainer because inference
 * (src/train/inference.ts) uses the same functions and needs none of the training code.
 */

import { RANGE_EPS } from '../model/tokenizers/fast.ts';

export interface ActionSpace {
  /** Per-channel quantiles of the dataset's actions (length D). */
  q01: ArrayLike<number>;
  q99: ArrayLike<number>;
  /** 1 for channels that carry signal (length D); the others are masked and output 0. */
  channelMask: ArrayLike<number>;
  /** Normalised values are clipped to [-clip, clip] (default 1: the reference FAST). */
  clip?: number;
}

/** The action space of a checkpoint's FAST tokenizer. */
export function actionSpaceOf(fast: { q01: ArrayLike<number>; q99: ArrayLike<number>; channelMask: ArrayLike<number>; clip?: number }): ActionSpace {
  return { q01: fast.q01, q99: fast.q99, channelMask: fast.channelMask, clip: fast.clip ?? 1 };
}

/**
 * Dataset chunks [B * H * D] -> the DiT's normalised, padded tensor [B * H * K] and its
 * validity mask: a (step, channel) entry is valid when the step lies inside the episode
 * (stepValid, [B * H]; all valid when omitted) and the channel is one of the D real,
 * signal-carrying channels (Qwen-VLA's per-channel, per-step mask).
 */
export function toDitActions(space: ActionSpace, chunks: ArrayLike<number>, B: number, H: number, K: number, stepValid?: ArrayLike<number>): { actions: Float32Array; mask: Float32Array } {
  const D = space.q01.length;
  if (D > K) throw new RangeError(`toDitActions: the dataset has ${D} action channels, more than the DiT's K = ${K}`);
  if (chunks.length !== B * H * D) throw new RangeError(`toDitActions: chunks hold ${chunks.length} values, expected B * H * D = ${B} * ${H} * ${D}`);
  if (stepValid && stepValid.length !== B * H) throw new RangeError(`toDitActions: stepValid holds ${stepValid.length} values, expected B * H = ${B * H}`);
  const actions = new Float32Array(B * H * K);
  const mask = new Float32Array(B * H * K);
  const clip = space.clip ?? 1;
  for (let bh = 0; bh < B * H; bh++) {
    if (stepValid && !stepValid[bh]) continue;
    for (let d = 0; d < D; d++) {
      if (!space.channelMask[d]) continue;
      const v = chunks[bh * D + d];
      const x = ((v - space.q01[d]) / (space.q99[d] - space.q01[d] + RANGE_EPS)) * 2 - 1;
      actions[bh * K + d] = x < -clip ? -clip : x > clip ? clip : x;
      mask[bh * K + d] = 1;
    }
  }
  return { actions, mask };
}

/** The validity mask of inference (every step valid, the signal-carrying channels). */
export function ditChannelMask(space: ActionSpace, B: number, H: number, K: number): Float32Array {
  const mask = new Float32Array(B * H * K);
  for (let bh = 0; bh < B * H; bh++) for (let d = 0; d < space.q01.length; d++) if (space.channelMask[d]) mask[bh * K + d] = 1;
  return mask;
}

/** DiT samples [B * H * K] (normalised) -> dataset units [B * H * D]; masked channels are 0. */
export function fromDitActions(space: ActionSpace, out: ArrayLike<number>, B: number, H: number, K: number): Float32Array {
  const D = space.q01.length;
  if (out.length !== B * H * K) throw new RangeError(`fromDitActions: ${out.length} values, expected B * H * K = ${B} * ${H} * ${K}`);
  const res = new Float32Array(B * H * D);
  const clip = space.clip ?? 1;
  for (let bh = 0; bh < B * H; bh++) {
    for (let d = 0; d < D; d++) {
      if (!space.channelMask[d]) continue;
      // Clip like the training targets: the flow may overshoot them slightly.
      const x = Math.max(-clip, Math.min(clip, out[bh * K + d]));
      res[bh * D + d] = ((x + 1) / 2) * (space.q99[d] - space.q01[d] + RANGE_EPS) + space.q01[d];
    }
  }
  return res;
}
