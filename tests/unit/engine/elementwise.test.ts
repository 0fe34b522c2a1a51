import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy, type Tensor } from '../../../src/engine/tensor';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import * as ew from '../../../src/engine/ops/elementwise';
import { refBinary, refMap, refSwiglu, refUnary } from '../../../src/engine/reference/elementwise';
import { expectClose, numericGrad, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

/** Runs op on fresh parameters, backpropagates gOut, and returns output and gradients. */
async function runWithGrad(op: (...xs: Tensor[]) => Tensor, inputs: { data: Float32Array; shape: number[] }[], gOut: Float32Array) {
  const ps = inputs.map((x) => parameter(rt, x.data, x.shape));
  let shape: readonly number[] = [];
  const y = tidy(() => {
    const out = op(...ps);
    shape = out.shape;
    backward(out, fromArray(rt, gOut, out.shape));
    return out;
  });
  const out = await y.read();
  const grads = await Promise.all(ps.map((p) => p.grad!.read()));
  y.dispose();
  for (const p of ps) {
    p.grad?.dispose();
    p.dispose();
  }
  return { out, grads, shape };
}

describe('unary ops', () => {
  const N = 301; // not a multiple of the 256-thread workgroup
  const positive = new Set(['log', 'sqrt']);
  for (const name of Object.keys(refUnary) as (keyof typeof refUnary)[]) {
    test(`${name}: forward and gradient`, async () => {
      const rng = new Rng(name.length);
      const x = randn(rng, N, 2);
      if (positive.has(name)) for (let i = 0; i < N; i++) x[i] = Math.abs(x[i]) + 0.1;
      // Keep relu away from its kink where the finite difference is meaningless.
      if (name === 'relu') for (let i = 0; i < N; i++) if (Math.abs(x[i]) < 1e-2) x[i] = 0.5;
      const g = randn(rng, N);
      const f = ([v]: Float64Array[]) => refMap(v, refUnary[name]);
      const [dx] = numericGrad(f, [x], g);
      const r = await runWithGrad((t) => ew[name](t), [{ data: x, shape: [N] }], g);
      expectClose(r.out, f([Float64Array.from(x)]), { atol: 1e-5, rtol: 1e-4, what: `${name} forward` });
      expectClose(r.grads[0], dx, { atol: 1e-4, rtol: 1e-3, what: `${name} gradient` });
    });
  }

  test('tanh, sigmoid, silu and gelu stay finite for large |x|', async () => {
    const x = new Float32Array([-1000, -100, -30, 30, 100, 1000]);
    for (const name of ['tanh', 'sigmoid', 'silu', 'gelu'] as const) {
      const y = await tidy(() => ew[name](fromArray(rt, x, [6]))).read();
      expectClose(y, refMap(x, refUnary[name]), { atol: 1e-5, rtol: 1e-5, what: name });
    }
  });

  test('scale and addScalar', async () => {
    const rng = new Rng(5);
    const x = randn(rng, 37);
    const g = randn(rng, 37);
    const s = await runWithGrad((t) => ew.scale(t, -2.5), [{ data: x, shape: [37] }], g);
    expectClose(s.out, refMap(x, (v) => -2.5 * v));
    expectClose(s.grads[0], refMap(g, (v) => -2.5 * v));
    const a = await runWithGrad((t) => ew.addScalar(t, 3), [{ data: x, shape: [37] }], g);
    expectClose(a.out, refMap(x, (v) => v + 3));
    expectClose(a.grads[0], g);
  });
});

describe('binary ops with broadcasting', () => {
  const OPS = {
    add: (x: number, y: number) => x + y,
    sub: (x: number, y: number) => x - y,
    mul: (x: number, y: number) => x * y,
    div: (x: number, y: number) => x / y,
  };
  const SHAPES: [number[], number[]][] = [
    [[7, 5], [7, 5]],
    [[7, 5], [5]],
    [[5], [3, 4, 5]],
    [[3, 1, 5], [4, 1]],
    [[2, 3, 4], [2, 1, 4]],
    [[3, 1], [1, 6]],
    [[6], [1]],
    [[2, 1, 3, 1, 2], [1, 4, 1, 5, 2]],
    // The vec4 kernel's layouts: same shape, a row broadcast on either side.
    [[6, 8], [6, 8]],
    [[3, 2, 12], [12]],
    [[8], [5, 8]],
  ];
  for (const [op, fn] of Object.entries(OPS) as [keyof typeof OPS, (x: number, y: number) => number][]) {
    for (const [as, bs] of SHAPES) {
      test(`${op} [${as}] with [${bs}]`, async () => {
        const rng = new Rng(as.length * 10 + bs.length);
        const an = as.reduce((x, y) => x * y, 1);
        const bn = bs.reduce((x, y) => x * y, 1);
        const a = randn(rng, an);
        const b = randn(rng, bn);
        if (op === 'div') for (let i = 0; i < bn; i++) b[i] = Math.sign(b[i] || 1) * (Math.abs(b[i]) + 0.5);
        const f = ([x, y]: Float64Array[]) => refBinary(x, as, y, bs, fn).out;
        const ref = refBinary(a, as, b, bs, fn);
        const g = randn(rng, ref.out.length);
        const [da, db] = numericGrad(f, [a, b], g);
        const r = await runWithGrad((x, y) => ew[op](x, y), [{ data: a, shape: as }, { data: b, shape: bs }], g);
        expect(r.shape).toEqual(ref.shape);
        expectClose(r.out, ref.out, { atol: 1e-5, rtol: 1e-4, what: 'forward' });
        expectClose(r.grads[0], da, { atol: 1e-4, rtol: 1e-3, what: 'da' });
        expectClose(r.grads[1], db, { atol: 1e-4, rtol: 1e-3, what: 'db' });
      });
    }
  }

  test('incompatible shapes are reported with both shapes', () => {
    tidy(() => {
      expect(() => ew.add(fromArray(rt, new Float32Array(6), [2, 3]), fromArray(rt, new Float32Array(4), [4]))).toThrow(
        /add: shapes \[2, 3\] and \[4\] do not broadcast/,
      );
    });
  });
});

describe('swiglu', () => {
  test('forward and both gradients', async () => {
    const rng = new Rng(9);
    const [a, b, g] = [randn(rng, 3 * 67), randn(rng, 3 * 67), randn(rng, 3 * 67)];
    const f = ([x, y]: Float64Array[]) => refSwiglu(x, y);
    const [da, db] = numericGrad(f, [a, b], g);
    const r = await runWithGrad((x, y) => ew.swiglu(x, y), [{ data: a, shape: [3, 67] }, { data: b, shape: [3, 67] }], g);
    expectClose(r.out, refSwiglu(a, b), { atol: 1e-5, rtol: 1e-4 });
    expectClose(r.grads[0], da, { atol: 1e-4, rtol: 1e-3, what: 'da' });
    expectClose(r.grads[1], db, { atol: 1e-4, rtol: 1e-3, what: 'db' });
  });

  test('the vec4 kernels (size a multiple of 4): forward and both gradients, finite for large |a|', async () => {
    const rng = new Rng(10);
    const n = 4 * 13;
    const [a, b, g] = [randn(rng, n, 2), randn(rng, n), randn(rng, n)];
    const f = ([x, y]: Float64Array[]) => refSwiglu(x, y);
    const [da, db] = numericGrad(f, [a, b], g);
    const r = await runWithGrad((x, y) => ew.swiglu(x, y), [{ data: a, shape: [4, 13] }, { data: b, shape: [4, 13] }], g);
    expectClose(r.out, refSwiglu(a, b), { atol: 1e-5, rtol: 1e-4 });
    expectClose(r.grads[0], da, { atol: 1e-4, rtol: 1e-3, what: 'da' });
    expectClose(r.grads[1], db, { atol: 1e-4, rtol: 1e-3, what: 'db' });
    const big = new Float32Array([-1000, -100, -30, 30, 100, 1000, 0, 1]);
    const gBig = new Float32Array(8).fill(1);
    const rb = await runWithGrad((x, y) => ew.swiglu(x, y), [{ data: big, shape: [8] }, { data: gBig, shape: [8] }], gBig);
    expectClose(rb.out, refSwiglu(big, gBig), { atol: 1e-5, rtol: 1e-5, what: 'large |a|' });
    expect([...rb.grads[0], ...rb.grads[1]].every(Number.isFinite)).toBe(true);
  });
});
