import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy, type Tensor } from '../../../src/engine/tensor';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { concat, mergeHeads, slice, split, splitHeads, swap01, transpose } from '../../../src/engine/ops/layout';
import { refConcat, refSliceCols, refSwap } from '../../../src/engine/reference/layout';
import { expectClose, numericGrad, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Forward vs f and gradients vs finite differences of f, for an op of several inputs. */
async function check(
  op: (...xs: Tensor[]) => Tensor,
  shapes: number[][],
  f: (xs: Float64Array[]) => ArrayLike<number>,
  outShape: number[],
  seed: number,
) {
  const rng = new Rng(seed);
  const data = shapes.map((s) => randn(rng, size(s)));
  const ref = f(data.map((d) => Float64Array.from(d)));
  const g = randn(rng, ref.length);
  const grads = numericGrad(f, data, g);
  const ps = data.map((d, i) => parameter(rt, d, shapes[i]));
  const y = tidy(() => {
    const out = op(...ps);
    backward(out, fromArray(rt, g, out.shape));
    return out;
  });
  expect(y.shape).toEqual(outShape);
  // Pure data movement: exact.
  expectClose(await y.read(), ref, { atol: 0, rtol: 0 });
  for (let i = 0; i < ps.length; i++) {
    expectClose(await ps[i].grad!.read(), grads[i], { atol: 1e-6, rtol: 1e-6, what: `grad ${i}` });
    ps[i].grad!.dispose();
    ps[i].dispose();
  }
  y.dispose();
}

describe('layout ops', () => {
  test('transpose of the last two dims, batched, odd sizes', () =>
    check((x) => transpose(x), [[3, 5, 7]], ([x]) => refSwap(x, 5, 7, 1), [3, 7, 5], 1));

  test('transpose of a matrix', () => check((x) => transpose(x), [[4, 9]], ([x]) => refSwap(x, 4, 9, 1), [9, 4], 2));

  test('swap01 [T, H, D] -> [H, T, D]', () => check((x) => swap01(x), [[5, 3, 7]], ([x]) => refSwap(x, 5, 3, 7), [3, 5, 7], 3));

  test('splitHeads then mergeHeads is the identity, and splitHeads matches the reference', async () => {
    await check((x) => splitHeads(x, 3), [[5, 12]], ([x]) => refSwap(x, 5, 3, 4), [3, 5, 4], 4);
    await check((x) => mergeHeads(splitHeads(x, 4)), [[3, 8]], ([x]) => x, [3, 8], 5);
  });

  test('concat along axis 0 and along the last axis', async () => {
    await check((a, b, c) => concat([a, b, c]), [[2, 3], [1, 3], [4, 3]], (xs) => refConcat(xs, 1), [7, 3], 6);
    await check((a, b) => concat([a, b], -1), [[2, 3, 5], [2, 3, 2]], (xs) => refConcat(xs, 6), [2, 3, 7], 7);
    await check((a, b) => concat([a, b], 1), [[2, 1, 5], [2, 3, 5]], (xs) => refConcat(xs, 2), [2, 4, 5], 8);
  });

  test('slice along axis 0, the last axis, with negative indices', async () => {
    await check((x) => slice(x, 2, 5), [[7, 3]], ([x]) => refSliceCols(x, 1, 6, 15), [3, 3], 9);
    await check((x) => slice(x, -3, undefined, -1), [[4, 5]], ([x]) => refSliceCols(x, 4, 2, 5), [4, 3], 10);
    await check((x) => slice(x, 1, 2, 1), [[2, 3, 4]], ([x]) => refSliceCols(x, 2, 4, 8), [2, 1, 4], 11);
  });

  test('split is the inverse of concat', async () => {
    const rng = new Rng(12);
    const x = randn(rng, 6 * 5);
    const parts = tidy(() => split(fromArray(rt, x, [6, 5]), [1, 2, 3]));
    expect(parts.map((p) => p.shape)).toEqual([[1, 5], [2, 5], [3, 5]]);
    const back = tidy(() => concat(parts));
    expectClose(await back.read(), x, { atol: 0, rtol: 0 });
    for (const t of [...parts, back]) t.dispose();
  });

  test('errors name the shapes involved', () => {
    tidy(() => {
      const a = fromArray(rt, new Float32Array(6), [2, 3]);
      const b = fromArray(rt, new Float32Array(8), [2, 4]);
      expect(() => concat([a, b])).toThrow(/xs\[1\] \[2, 4\] does not match xs\[0\] \[2, 3\] outside axis 0/);
      expect(() => slice(a, 1, 3)).toThrow(/not a valid range of axis 0 \(length 2\) of \[2, 3\]/);
      expect(() => splitHeads(a, 2)).toThrow(/width 3 of x \[2, 3\] is not divisible into 2 heads/);
      expect(() => split(a, [1, 1], 1)).toThrow(/sum to 2, but axis 1 of \[2, 3\] has 3/);
    });
  });
});
