import { describe, expect, test } from 'vitest';
import { Rng } from '../../../src/engine/random.ts';
import { ProprioTokenizer } from '../../../src/model/tokenizers/index.ts';
import type { Sample } from '../../../src/model/batch.ts';
import { augmentRng, jitterStates } from '../../../src/train/augment.ts';

const proprio = new ProprioTokenizer({ q01: [0, -1, 5], q99: [1, 1, 5.5] }, 100);
const sample = (id: number, state: number[]): Sample => ({ id, episode: 0, t: id, T: 10, task: 0, instruction: 'x', actions: new Float32Array(7), valid: new Uint8Array(1), actionDim: 7, state: Float32Array.from(state), frames: [] });

describe('state noise augmentation', () => {
  test('std is stateNoise bins of each dimension; inputs untouched; 0 is the identity', () => {
    const base = Array.from({ length: 4000 }, (_, i) => sample(i, [0.5, 0, 5.25]));
    const out = jitterStates(base, proprio, 1.5, new Rng(3));
    expect(base[0].state[0]).toBe(0.5);
    const widths = [0.01, 0.02, 0.005];
    for (let d = 0; d < 3; d++) {
      const v = out.map((s) => s.state[d] - base[0].state[d]);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      expect(Math.abs(mean)).toBeLessThan(0.1 * widths[d]);
      expect(sd / (1.5 * widths[d])).toBeGreaterThan(0.95);
      expect(sd / (1.5 * widths[d])).toBeLessThan(1.05);
    }
    // Everything but the state is the same sample.
    expect({ ...out[7], state: null }).toEqual({ ...base[7], state: null });
    expect(jitterStates(base.slice(0, 3), proprio, 0, new Rng(1)).map((s) => s.state)).toEqual(base.slice(0, 3).map((s) => s.state));
  });

  test('the same (seed, step) draws the same noise; another step draws other noise', () => {
    const base = [sample(0, [0.2, 0.3, 5.1]), sample(1, [0.7, -0.3, 5.4])];
    const a = jitterStates(base, proprio, 1, augmentRng(5, 12)).map((s) => Array.from(s.state));
    expect(jitterStates(base, proprio, 1, augmentRng(5, 12)).map((s) => Array.from(s.state))).toEqual(a);
    expect(jitterStates(base, proprio, 1, augmentRng(5, 13)).map((s) => Array.from(s.state))).not.toEqual(a);
    expect(jitterStates(base, proprio, 1, augmentRng(6, 12)).map((s) => Array.from(s.state))).not.toEqual(a);
  });

  test('bad input is refused with the field named', () => {
    expect(() => jitterStates([sample(0, [0, 0, 5])], proprio, -1, new Rng(0))).toThrow(/stateNoise must be a finite number >= 0, got -1/);
    expect(() => jitterStates([sample(0, [0, 0])], proprio, 1, new Rng(0))).toThrow(/sample 0 has 2 state values, the proprio tokenizer 3/);
  });
});
