import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy, type Tensor } from '../../../src/engine/tensor';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { logsumexp, max, mean, softmax, sum, sumTo } from '../../../src/engine/ops/reduce';
import { refLogsumexp, refMax, refMean, refRowReduce, refSoftmax, refSum, refSumTo } from '../../../src/engine/reference/reduce';
import { expectClose, numericGrad, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

async function runWithGrad(op: (x: Tensor) => Tensor, data: Float32Array, shape: number[], gOut: Float32Array) {
  const p = parameter(rt, data, shape);
  let outShape: readonly number[] = [];
  const y = tidy(() => {
    const out = op(p);
    outShape = out.shape;
    backward(out, fromArray(rt, gOut, out.shape));
    return out;
  });
  const out = await y.read();
  const grad = await p.grad!.read();
  y.dispose();
  p.grad!.dispose();
  p.dispose();
  return { out, grad, shape: outShape };
}

// Row lengths below, at and above the 64-thread workgroup, and odd.
const SHAPES: number[][] = [[5, 7], [3, 64], [2, 3, 129], [1, 1], [4, 1]];

describe('sum and mean over the last axis', () => {
  for (const shape of SHAPES) {
    for (const [name, op, ref] of [
      ['sum', sum, refSum],
      ['mean', mean, refMean],
    ] as const) {
      test(`${name} [${shape}]`, async () => {
        const rng = new Rng(shape.length);
        const n = shape.reduce((a, b) => a * b, 1);
        const cols = shape[shape.length - 1];
        const x = randn(rng, n);
        const g = randn(rng, n / cols);
        const f = ([v]: Float64Array[]) => refRowReduce(v, cols, ref);
        const [dx] = numericGrad(f, [x], g);
        const r = await runWithGrad((t) => op(t, -1), x, shape, g);
        expect(r.shape).toEqual(shape.slice(0, -1));
        expectClose(r.out, f([Float64Array.from(x)]), { atol: 1e-5, rtol: 1e-4 });
        expectClose(r.grad, dx, { atol: 1e-5, rtol: 1e-4 });
      });
    }
  }
});

describe('sum and mean over all elements', () => {
  // 10007 elements take two chunked rounds (chunks of 4096).
  for (const n of [1, 7, 300, 10007]) {
    test(`n = ${n}`, async () => {
      const rng = new Rng(n);
      const x = randn(rng, n);
      const g = new Float32Array([0.7]);
      const s = await runWithGrad((t) => sum(t), x, [n], g);
      expect(s.shape).toEqual([]);
      expectClose(s.out, [refSum(Array.from(x))], { atol: 1e-3, rtol: 1e-5 });
      expectClose(s.grad, new Float32Array(n).fill(0.7));
      const m = await runWithGrad((t) => mean(t), x, [n], g);
      expectClose(m.out, [refMean(Array.from(x))], { atol: 1e-5, rtol: 1e-4 });
      expectClose(m.grad, new Float32Array(n).fill(0.7 / n), { atol: 1e-9, rtol: 1e-5 });
    });
  }
});

describe('max, logsumexp, softmax over the last axis', () => {
  for (const shape of SHAPES) {
    test(`[${shape}]`, async () => {
      const rng = new Rng(shape.length + 100);
      const n = shape.reduce((a, b) => a * b, 1);
      const cols = shape[shape.length - 1];
      const x = randn(rng, n, 3);
      const mx = await tidy(() => max(fromArray(rt, x, shape))).read();
      expectClose(mx, refRowReduce(x, cols, refMax), { atol: 0, rtol: 0, what: 'max' });

      const gl = randn(rng, n / cols);
      const fl = ([v]: Float64Array[]) => refRowReduce(v, cols, refLogsumexp);
      const l = await runWithGrad((t) => logsumexp(t), x, shape, gl);
      expectClose(l.out, fl([Float64Array.from(x)]), { atol: 1e-5, rtol: 1e-5, what: 'logsumexp' });
      expectClose(l.grad, numericGrad(fl, [x], gl)[0], { atol: 1e-5, rtol: 1e-4, what: 'logsumexp grad' });

      const gs = randn(rng, n);
      const fs = ([v]: Float64Array[]) => refSoftmax(v, cols);
      const s = await runWithGrad((t) => softmax(t), x, shape, gs);
      expectClose(s.out, fs([Float64Array.from(x)]), { atol: 1e-6, rtol: 1e-4, what: 'softmax' });
      expectClose(s.grad, numericGrad(fs, [x], gs)[0], { atol: 1e-5, rtol: 1e-4, what: 'softmax grad' });
    });
  }

  test('softmax and logsumexp are stable for large logits', async () => {
    const x = new Float32Array([1000, 999, -1000, 0, 88, 89]);
    const y = await tidy(() => softmax(fromArray(rt, x, [2, 3]))).read();
    expectClose(y, refSoftmax(x, 3), { atol: 1e-6 });
    const l = await tidy(() => logsumexp(fromArray(rt, x, [2, 3]))).read();
    expectClose(l, refRowReduce(x, 3, refLogsumexp), { atol: 1e-4, rtol: 1e-6 });
  });

  test('other axes are rejected with a clear message', () => {
    tidy(() => {
      expect(() => sum(fromArray(rt, new Float32Array(6), [2, 3]), 0)).toThrow(/axis 0 is not supported for \[2, 3\]/);
    });
  });
});

describe('sumTo (the reduction behind broadcast gradients)', () => {
  const CASES: [number[], number[]][] = [
    [[4, 5], [5]],
    [[4, 5], [4, 1]],
    [[3, 4, 5], [4, 1]],
    [[3, 4, 5], [3, 1, 5]],
    [[2, 3, 4, 5], [1, 3, 1, 5]],
    [[6, 7], [1]],
    [[5000, 3], [1, 1]],
    [[4, 5], [4, 5]],
  ];
  for (const [xs, ts] of CASES) {
    test(`[${xs}] -> [${ts}]`, async () => {
      const rng = new Rng(xs.length * 7 + ts.length);
      const n = xs.reduce((a, b) => a * b, 1);
      const x = randn(rng, n);
      // x lives outside the scope: with nothing to sum, sumTo returns a view of it.
      const xt = fromArray(rt, x, xs);
      const y = tidy(() => sumTo(xt, ts));
      expect(y.shape).toEqual(ts);
      expectClose(await y.read(), refSumTo(x, xs, ts), { atol: 1e-3, rtol: 1e-4 });
      y.dispose();
      xt.dispose();
    });
  }
});
