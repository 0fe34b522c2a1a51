/**
 * Synthetic smooth-action dataset for the tokenizer tests and the figures in
 * docs/tokenizers.md. LIBERO-like 7-D end-effector-delta actions at 20 Hz:
 * - dims 0-2 (translation) and 3-5 (rotation, half amplitude): per episode, a sum of
 *   three sinusoids with random amplitude, frequency in [0.1, 1] Hz and phase, plus
 *   Gaussian noise of 2% of the amplitude (teleoperation jitter);
 * - dim 6 (gripper): -1 (open) until a random time, then +1 (closed), sometimes opening
 *   again, as in a pick-and-place.
 * Chunks are every window a_t .. a_{t+H-1} of every episode.
 */
import { Rng } from '../../../src/engine/random.ts';

export const SYN_DIM = 7;
export const SYN_RATE_HZ = 20;

export function syntheticEpisodes(seed: number, episodes: number, length: number): Float32Array[] {
  const rng = new Rng(seed);
  const out: Float32Array[] = [];
  for (let e = 0; e < episodes; e++) {
    const a = new Float32Array(length * SYN_DIM);
    for (let d = 0; d < 6; d++) {
      const scale = d < 3 ? 1 : 0.5;
      const waves = Array.from({ length: 3 }, () => ({
        amp: scale * rng.uniform(0.05, 0.4),
        f: rng.uniform(0.1, 1),
        ph: rng.uniform(0, 2 * Math.PI),
      }));
      const noise = 0.02 * scale * 0.4;
      for (let t = 0; t < length; t++) {
        let v = 0;
        for (const w of waves) v += w.amp * Math.sin((2 * Math.PI * w.f * t) / SYN_RATE_HZ + w.ph);
        a[t * SYN_DIM + d] = v + noise * rng.normal();
      }
    }
    const close = rng.int(length);
    const open = rng.next() < 0.5 ? close + rng.int(length - close) : length;
    for (let t = 0; t < length; t++) a[t * SYN_DIM + 6] = t >= close && t < open ? 1 : -1;
    out.push(a);
  }
  return out;
}

/** Every chunk of H steps (step-major, H * SYN_DIM values) of every episode. */
export function chunksOf(episodes: readonly Float32Array[], H: number, stride = 1): Float32Array[] {
  const out: Float32Array[] = [];
  for (const ep of episodes) {
    const T = ep.length / SYN_DIM;
    for (let t = 0; t + H <= T; t += stride) out.push(ep.slice(t * SYN_DIM, (t + H) * SYN_DIM));
  }
  return out;
}
