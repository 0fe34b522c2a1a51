import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy } from '../../../src/engine/tensor';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { crossEntropy, xentKernels } from '../../../src/engine/ops/xent';
import { refCrossEntropy } from '../../../src/engine/reference/xent';
import { expectClose, numericGrad, randInt, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

async function lossAndGrad(logits: Float32Array, shape: number[], targets: Int32Array, weights?: Float32Array, reduction?: 'mean' | 'sum') {
  const p = parameter(rt, logits, shape);
  const loss = tidy(() => {
    const w = weights ? fromArray(rt, weights, [targets.length]) : undefined;
    const l = crossEntropy(p, fromArray(rt, targets, shape.slice(0, -1), 'i32'), { weights: w, reduction });
    backward(l);
    return l;
  });
  const value = await loss.item();
  const grad = await p.grad!.read();
  loss.dispose();
  p.grad!.dispose();
  p.dispose();
  return { value, grad };
}

describe.each(['rows', 'workgroup'] as const)('crossEntropy (%s forward kernel)', (variant) => {
  beforeAll(() => {
    xentKernels.variant = variant;
  });
  afterAll(() => {
    xentKernels.variant = 'auto';
  });

  for (const [N, V] of [
    [7, 5],
    [33, 67],
    [4, 130],
  ]) {
    test(`[${N}, ${V}] with ignored rows`, async () => {
      const rng = new Rng(N * V);
      const logits = randn(rng, N * V, 2);
      const targets = randInt(rng, N, V);
      targets[1] = -1;
      targets[N - 1] = -1;
      const f = ([x]: Float64Array[]) => [refCrossEntropy(x, targets, V)];
      const [dx] = numericGrad(f, [logits], [1]);
      const r = await lossAndGrad(logits, [N, V], targets);
      expectClose([r.value], f([Float64Array.from(logits)]), { atol: 1e-5, rtol: 1e-5 });
      expectClose(r.grad, dx, { atol: 1e-5, rtol: 1e-3 });
      expect(Array.from(r.grad.slice(V, 2 * V))).toEqual(new Array(V).fill(0));
    });
  }

  test('per-row weights (and a rank-3 batch)', async () => {
    const rng = new Rng(4);
    const [B, T, V] = [2, 5, 9];
    const logits = randn(rng, B * T * V);
    const targets = randInt(rng, B * T, V);
    targets[3] = -1;
    const weights = new Float32Array(B * T).map(() => rng.uniform(0, 2));
    weights[0] = 0;
    const f = ([x]: Float64Array[]) => [refCrossEntropy(x, targets, V, weights)];
    const r = await lossAndGrad(logits, [B, T, V], targets, weights);
    expectClose([r.value], f([Float64Array.from(logits)]), { atol: 1e-5, rtol: 1e-5 });
    expectClose(r.grad, numericGrad(f, [logits], [1])[0], { atol: 1e-5, rtol: 1e-3 });
  });

  test("reduction 'sum' with signed weights summing to 0 (a policy gradient's coefficients): the weighted sum and its gradient", async () => {
    const rng = new Rng(17);
    for (const [N, V] of [
      [6, 7],
      [19, 41],
    ]) {
      const logits = randn(rng, N * V);
      const targets = randInt(rng, N, V);
      targets[2] = -1;
      const weights = new Float32Array(N).map(() => rng.uniform(-1, 1));
      // Make the counted weights sum to exactly 0, where the mean reduction would divide by 0.
      let s = 0;
      for (let i = 0; i < N; i++) if (targets[i] >= 0 && i !== 0) s += weights[i];
      weights[0] = -s;
      const f = ([x]: Float64Array[]) => [refCrossEntropy(x, targets, V, weights, 'sum')];
      const r = await lossAndGrad(logits, [N, V], targets, weights, 'sum');
      expectClose([r.value], f([Float64Array.from(logits)]), { atol: 1e-5, rtol: 1e-5 });
      expectClose(r.grad, numericGrad(f, [logits], [1])[0], { atol: 1e-5, rtol: 1e-3 });
      // Unweighted, 'sum' is the mean times the counted rows.
      const mean = await lossAndGrad(logits, [N, V], targets);
      const total = await lossAndGrad(logits, [N, V], targets, undefined, 'sum');
      expect(total.value).toBeCloseTo(mean.value * (N - 1), 4);
    }
    tidy(() => {
      const x = fromArray(rt, new Float32Array(6), [2, 3]);
      expect(() => crossEntropy(x, new Int32Array([0, 1]), { reduction: 'max' as never })).toThrow(/reduction must be 'mean' or 'sum', got max/);
    });
  });

  test('stable for huge logits; an all-ignored batch gives 0, not NaN', async () => {
    const logits = new Float32Array([1000, -1000, 0, 500, 501, 499]);
    const targets = new Int32Array([1, 2]);
    const r = await lossAndGrad(logits, [2, 3], targets);
    expectClose([r.value], [refCrossEntropy(logits, targets, 3)], { atol: 1e-3, rtol: 1e-5 });
    expect(r.grad.every(Number.isFinite)).toBe(true);
    const none = await lossAndGrad(logits, [2, 3], new Int32Array([-1, -1]));
    expect(none.value).toBe(0);
    expect(Array.from(none.grad)).toEqual(new Array(6).fill(0));
  });

  test('targets from the CPU are range-checked; shapes are reported', () => {
    tidy(() => {
      const x = fromArray(rt, new Float32Array(6), [2, 3]);
      expect(() => crossEntropy(x, new Int32Array([0, 3]))).toThrow(/target 3 at row 1 is outside \[0, 3\)/);
      expect(() => crossEntropy(x, fromArray(rt, [0, 1, 2], [3], 'i32'))).toThrow(/targets \[3\] must have shape \[2\] for logits \[2, 3\]/);
    });
  });

  test('Int32Array targets give the same loss as a tensor', async () => {
    const rng = new Rng(8);
    const logits = randn(rng, 12);
    const targets = new Int32Array([0, -1, 3]);
    const a = await tidy(() => crossEntropy(fromArray(rt, logits, [3, 4]), targets)).item();
    expectClose([a], [refCrossEntropy(logits, targets, 4)], { atol: 1e-6, rtol: 1e-5 });
  });
});
