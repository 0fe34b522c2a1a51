/**
 * Training-time augmentation of samples, drawn from a seeded Rng so a resumed run sees
 * the same batches.
 *
 * State noise (train.stateNoise): the proprio tokenizer cuts each state dimension into
 * equal bins over q01..q99 and every bin is its own token. A policy trained on a few
 * demonstrations has only ever seen the demonstrations' bins; closed loop, its own
 * rollout drifts a millimetre or a milliradian and lands in neighbouring bins whose
 * embeddings it never trained, and its next chunk is wrong (issue 10's overfit check:
 * teacher-forced chunks within 0.004 of the demonstration, the same observation with the
 * rollout's state bins off by 1-5 gave 0.04-0.12). Jittering the state by about a bin
 * trains those neighbours, so nearby states map to nearby actions.
 */
import { Rng } from '../engine/random.ts';
import type { Sample } from '../model/batch.ts';
import type { ProprioTokenizer } from '../model/tokenizers/index.ts';

/** Samples with std = `bins` x (q99 - q01) / tokenizer bins of Gaussian noise on each state dimension; the inputs are not modified. */
export function jitterStates(samples: readonly Sample[], proprio: ProprioTokenizer, bins: number, rng: Rng): Sample[] {
  if (!(bins >= 0) || !Number.isFinite(bins)) throw new RangeError(`stateNoise must be a finite number >= 0, got ${bins}`);
  if (bins === 0) return [...samples];
  const width = Array.from(proprio.q01, (q, d) => (proprio.q99[d] - q) / proprio.bins);
  return samples.map((s) => {
    if (s.state.length !== width.length) throw new RangeError(`jitterStates: sample ${s.id} has ${s.state.length} state values, the proprio tokenizer ${width.length}`);
    const state = Float32Array.from(s.state, (v, d) => v + bins * width[d] * rng.normal());
    return { ...s, state };
  });
}

/** The Rng of one batch's augmentation: a function of the run's seed and the batch's position in the stream. */
export function augmentRng(seed: number, step: number): Rng {
  let h = (Math.imul(seed >>> 0, 0x27d4eb2f) ^ Math.imul(step + 1, 0x165667b1)) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  return new Rng((h ^ (h >>> 13)) >>> 0);
}
