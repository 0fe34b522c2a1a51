/** The pure parts of value-guided selection (src/train/value-select.ts); inference.test.ts runs it through a checkpoint. */
import { describe, expect, test } from 'vitest';
import { Rng } from '../../../src/engine/random.ts';
import { bestByValue, checkValueSelect, closestToPlan, rowDots, sampleAllowed } from '../../../src/train/value-select.ts';

describe('bestByValue', () => {
  test('the argmax of each group, the first on ties, so candidate 0 (the plain policy) wins a tie', () => {
    expect(bestByValue([0.1, 0.5, 0.2, /**/ 0.3, 0.3, 0.3, /**/ -1, -Infinity, -0.5], 3)).toEqual([1, 0, 2]);
    expect(bestByValue([-Infinity, -Infinity], 2)).toEqual([0]);
    expect(bestByValue([0.4], 1)).toEqual([0]);
  });

  test('property: the chosen value is the group max and no earlier candidate reaches it', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 200; trial++) {
      const K = 1 + rng.int(6);
      const B = 1 + rng.int(5);
      // Few distinct values, so ties are common.
      const v = Array.from({ length: B * K }, () => rng.int(3) / 2);
      bestByValue(v, K).forEach((k, b) => {
        const g = v.slice(b * K, (b + 1) * K);
        expect(g[k]).toBe(Math.max(...g));
        expect(g.slice(0, k).every((x) => x < g[k])).toBe(true);
      });
    }
  });

  test('refuses ragged groups and NaN values', () => {
    expect(() => bestByValue([1, 2, 3], 2)).toThrow(/3 values are not a whole number of groups of 2/);
    expect(() => bestByValue([1, NaN], 2)).toThrow(/value 1 is NaN/);
  });
});

describe('closestToPlan', () => {
  // Chunks of H = 3 steps x 2 channels; the plan was made 1 step ago, so its steps 1..2 meet the candidates' steps 0..1.
  const plan = [0, 0, /**/ 1, 1, /**/ 2, 2];
  test('picks the candidate whose first steps continue the unexecuted rest of the plan', () => {
    const far = [5, 5, 5, 5, 5, 5];
    const continues = [1.1, 0.9, 2, 2, -7, -7]; // its last step is free: nothing planned it
    const restarts = [0, 0, 1, 1, 2, 2]; // the plan itself, not shifted
    expect(closestToPlan([far, continues, restarts], 3, [plan], 1, 2)).toEqual([1]);
    // Offset 0: the plan as made, so the unshifted copy wins.
    expect(closestToPlan([far, continues, restarts], 3, [plan], 0, 2)).toEqual([2]);
  });

  test('an observation without a plan, and ties, keep candidate 0 (the plain policy)', () => {
    const a = [1, 1, 2, 2, 0, 0];
    expect(closestToPlan([[9, 9, 9, 9, 9, 9], a, a, a], 2, [null, plan], 1, 2)).toEqual([0, 0]);
  });

  test('property: the chosen candidate has the smallest distance and no earlier one reaches it', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const H = 2 + rng.int(5);
      const D = 1 + rng.int(3);
      const K = 1 + rng.int(5);
      const B = 1 + rng.int(3);
      const offset = rng.int(H);
      const val = () => rng.int(3) - 1; // few values: ties happen
      const plans = Array.from({ length: B }, () => (rng.int(4) === 0 ? null : Array.from({ length: H * D }, val)));
      const chunks = Array.from({ length: B * K }, () => Array.from({ length: H * D }, val));
      closestToPlan(chunks, K, plans, offset, D).forEach((k, b) => {
        const plan = plans[b];
        if (!plan) return expect(k).toBe(0);
        const dist = (c: number[]) => c.slice(0, (H - offset) * D).reduce((s, x, i) => s + (x - plan[offset * D + i]) ** 2, 0);
        const ds = chunks.slice(b * K, (b + 1) * K).map(dist);
        expect(ds[k]).toBe(Math.min(...ds));
        expect(ds.slice(0, k).every((d) => d > ds[k])).toBe(true);
      });
    }
  });

  test('refuses ragged groups, offsets outside the plan and chunks of another size', () => {
    expect(() => closestToPlan([plan, plan, plan], 2, [plan], 1, 2)).toThrow(/3 chunks are not 1 groups of 2/);
    expect(() => closestToPlan([plan], 1, [plan], 3, 2)).toThrow(/offset 3 must be an integer in \[0, 3\)/);
    expect(() => closestToPlan([[1, 2]], 1, [plan], 1, 2)).toThrow(/chunk 0 has 2 values, the plan 6/);
  });

  test('checkValueSelect: coherent needs proposals and a value phase that ends', () => {
    expect(() => checkValueSelect({ candidates: 1, temperature: 1, calls: 1, coherent: true })).toThrow(/coherent: .* needs candidates of 2 or more, got 1/);
    expect(() => checkValueSelect({ candidates: 4, temperature: 1, calls: Infinity, coherent: true })).toThrow(/coherent: .* needs selectCalls/);
    expect(() => checkValueSelect({ candidates: 4, temperature: 1, calls: 1, coherent: true })).not.toThrow();
    // selectCalls 0: coherent selection alone (no value phase at all), only with coherent.
    expect(() => checkValueSelect({ candidates: 4, temperature: 1, calls: 0, coherent: true })).not.toThrow();
    expect(() => checkValueSelect({ candidates: 4, temperature: 1, calls: 0 })).toThrow(/selectCalls 0 chooses nothing by value/);
  });
});

test('rowDots is the per-row dot product and refuses mismatched shapes', () => {
  expect(Array.from(rowDots(Float32Array.from([1, 0, 0.6, 0.8]), Float32Array.from([0, 1, 0.6, 0.8]), 2))).toEqual([0, Math.fround(0.36) + Math.fround(0.64)].map(Math.fround));
  expect(() => rowDots(new Float32Array(4), new Float32Array(2), 2)).toThrow(/phi has 4 values, psi 2/);
});

describe('sampleAllowed', () => {
  const logits = Float32Array.from([9, 0.5, 1.5, -1, 1.0, 2.0]); // offset 1: ids 0..4 -> 0.5, 1.5, -1, 1, 2
  const ids = [0, 1, 2, 3, 4];

  test('draws in proportion to softmax(logit / T) over the allowed ids, never a disallowed one', () => {
    const allowed = (id: number) => id !== 4;
    for (const T of [1, 0.5, 2]) {
      const rng = new Rng(17);
      const n = 40_000;
      const counts = [0, 0, 0, 0, 0];
      for (let i = 0; i < n; i++) counts[sampleAllowed(logits, 1, ids, allowed, T, rng)]++;
      expect(counts[4]).toBe(0);
      const w = [0, 1, 2, 3].map((id) => Math.exp(logits[1 + id] / T));
      const z = w.reduce((a, b) => a + b, 0);
      // 4 binomial standard deviations.
      [0, 1, 2, 3].forEach((id) => {
        const p = w[id] / z;
        expect(Math.abs(counts[id] / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n) + 1e-9);
      });
    }
  });

  test('a low temperature gives the allowed argmax; nothing allowed gives -1', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 100; i++) expect(sampleAllowed(logits, 1, ids, (id) => id < 3, 0.01, rng)).toBe(1);
    expect(sampleAllowed(logits, 1, ids, () => false, 1, rng)).toBe(-1);
  });
});

test('checkValueSelect names the bad field', () => {
  expect(() => checkValueSelect({ candidates: 0, temperature: 1, calls: Infinity })).toThrow(/candidates must be an integer in 1..64, got 0/);
  expect(() => checkValueSelect({ candidates: 2.5, temperature: 1, calls: Infinity })).toThrow(/candidates/);
  expect(() => checkValueSelect({ candidates: 65, temperature: 1, calls: Infinity })).toThrow(/candidates/);
  expect(() => checkValueSelect({ candidates: 4, temperature: 0, calls: Infinity })).toThrow(/temperature must be a positive number, got 0/);
  expect(() => checkValueSelect({ candidates: 4, temperature: NaN, calls: Infinity })).toThrow(/temperature/);
  expect(() => checkValueSelect({ candidates: 4, temperature: 0.7, calls: Infinity })).not.toThrow();
  expect(() => checkValueSelect({ candidates: 4, temperature: 1, calls: -1 })).toThrow(/selectCalls must be a non-negative integer \(or absent: every call\), got -1/);
  expect(() => checkValueSelect({ candidates: 4, temperature: 1, calls: 1.5 })).toThrow(/selectCalls/);
  expect(() => checkValueSelect({ candidates: 4, temperature: 1, calls: 2 })).not.toThrow();
});
