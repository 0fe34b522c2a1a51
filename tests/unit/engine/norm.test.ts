import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy, type Tensor } from '../../../src/engine/tensor';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { l2normalize, layernorm, normKernels, rmsnorm } from '../../../src/engine/ops/norm';
import { refL2normalize, refLayernorm, refRmsnorm } from '../../../src/engine/reference/norm';
import { expectClose, numericGrad, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

async function runWithGrad(op: (...xs: Tensor[]) => Tensor, inputs: { data: Float32Array; shape: number[] }[], gOut: Float32Array) {
  const ps = inputs.map((x) => parameter(rt, x.data, x.shape));
  const y = tidy(() => {
    const out = op(...ps);
    backward(out, fromArray(rt, gOut, out.shape));
    return out;
  });
  const out = await y.read();
  const grads = await Promise.all(ps.map((p) => p.grad!.read()));
  y.dispose();
  for (const p of ps) {
    p.grad!.dispose();
    p.dispose();
  }
  return { out, grads };
}

// Row counts above the 64-row chunk of the weight gradient, odd widths, wider than the workgroup.
const SHAPES: number[][] = [[3, 5], [2, 35, 7], [130, 3], [2, 70]];

// Every case runs on each kernel family: one thread per row (what software adapters
// and short rows use), one workgroup per row (long rows on GPUs), whatever the adapter,
// and one workgroup per row with subgroup sums where the adapter has subgroups
// (SwiftShader has; l2normalize has no subgroup kernel and runs the workgroup one).
for (const variant of ['rows', 'workgroup', 'subgroup'] as const) {
  describe(`${variant} kernels`, () => {
    beforeEach((ctx) => {
      if (variant === 'subgroup' && !rt.hasSubgroups) ctx.skip();
    });
    beforeAll(() => {
      if (variant === 'subgroup' && !rt.hasSubgroups) return;
      normKernels.variant = variant;
    });
    afterAll(() => {
      normKernels.variant = 'auto';
    });

    describe(`rmsnorm (${variant})`, () => {
      for (const shape of SHAPES) {
        test(`[${shape}]`, async () => {
          const rng = new Rng(shape[0] * 3 + shape.length);
          const n = shape.reduce((a, b) => a * b, 1);
          const D = shape[shape.length - 1];
          const [x, w, g] = [randn(rng, n), randn(rng, D), randn(rng, n)];
          const eps = 1e-5;
          const f = ([xv, wv]: Float64Array[]) => refRmsnorm(xv, wv, D, eps);
          const [dx, dw] = numericGrad(f, [x, w], g);
          const r = await runWithGrad((a, b) => rmsnorm(a, b, eps), [{ data: x, shape }, { data: w, shape: [D] }], g);
          expectClose(r.out, f([Float64Array.from(x), Float64Array.from(w)]), { atol: 1e-5, rtol: 1e-4 });
          expectClose(r.grads[0], dx, { atol: 1e-4, rtol: 1e-3, what: 'dx' });
          expectClose(r.grads[1], dw, { atol: 1e-4, rtol: 1e-3, what: 'dw' });
        });
      }
    });

    describe(`layernorm (${variant})`, () => {
      for (const shape of SHAPES) {
        test(`[${shape}]`, async () => {
          const rng = new Rng(shape[0] * 5 + shape.length);
          const n = shape.reduce((a, b) => a * b, 1);
          const D = shape[shape.length - 1];
          const [x, w, b, g] = [randn(rng, n), randn(rng, D), randn(rng, D), randn(rng, n)];
          // An offset mean checks the centred (two-pass) variance.
          for (let i = 0; i < n; i++) x[i] += 3;
          const eps = 1e-5;
          const f = ([xv, wv, bv]: Float64Array[]) => refLayernorm(xv, wv, bv, D, eps);
          const [dx, dw, db] = numericGrad(f, [x, w, b], g);
          const r = await runWithGrad(
            (a, c, e) => layernorm(a, c, e, eps),
            [{ data: x, shape }, { data: w, shape: [D] }, { data: b, shape: [D] }],
            g,
          );
          expectClose(r.out, f([x, w, b].map((v) => Float64Array.from(v))), { atol: 1e-4, rtol: 1e-4 });
          expectClose(r.grads[0], dx, { atol: 1e-3, rtol: 1e-3, what: 'dx' });
          expectClose(r.grads[1], dw, { atol: 1e-4, rtol: 1e-3, what: 'dw' });
          expectClose(r.grads[2], db, { atol: 1e-4, rtol: 1e-3, what: 'db' });
        });
      }

      test('a weight of the wrong length is reported with both shapes', () => {
        tidy(() => {
          const x = fromArray(rt, new Float32Array(6), [2, 3]);
          expect(() => layernorm(x, fromArray(rt, [1, 1], [2]), fromArray(rt, [0, 0, 0], [3]))).toThrow(
            /layernorm: weight \[2\] must be \[3\] to match x \[2, 3\]/,
          );
        });
      });
    });

    describe(`l2normalize (${variant})`, () => {
      for (const shape of SHAPES) {
        test(`[${shape}]`, async () => {
          const rng = new Rng(shape[0] * 7 + shape.length);
          const n = shape.reduce((a, b) => a * b, 1);
          const D = shape[shape.length - 1];
          const [x, g] = [randn(rng, n), randn(rng, n)];
          const f = ([xv]: Float64Array[]) => refL2normalize(xv, D, 1e-12);
          const [dx] = numericGrad(f, [x], g);
          const r = await runWithGrad((a) => l2normalize(a), [{ data: x, shape }], g);
          expectClose(r.out, f([Float64Array.from(x)]), { atol: 1e-6, rtol: 1e-4 });
          expectClose(r.grads[0], dx, { atol: 1e-4, rtol: 1e-3 });
        });
      }

      test('rows shorter than eps are scaled by 1/eps, with that constant gradient', async () => {
        const x = new Float32Array([1e-4, -2e-4, 3, 4]);
        const g = new Float32Array([1, 2, 1, 1]);
        const eps = 1e-2;
        const f = ([xv]: Float64Array[]) => refL2normalize(xv, 2, eps);
        const r = await runWithGrad((a) => l2normalize(a, eps), [{ data: x, shape: [2, 2] }], g);
        expectClose(r.out, f([Float64Array.from(x)]), { atol: 1e-6 });
        expectClose(r.grads[0], numericGrad(f, [x], g, [0], 1e-7)[0], { atol: 1e-3, rtol: 1e-3 });
      });
    });
  });
}

test('the subgroup family dispatches the subgroup kernels for RMSNorm and LayerNorm, forward and backward', async (ctx) => {
  if (!rt.hasSubgroups) ctx.skip();
  normKernels.variant = 'subgroup';
  const spy = vi.spyOn(rt, 'dispatch');
  try {
    const x = parameter(rt, new Float32Array(12).map((_, i) => i), [3, 4]);
    const w = parameter(rt, [1, 2, 3, 4], [4]);
    tidy(() => backward(rmsnorm(x, w), fromArray(rt, new Float32Array(12).fill(1), [3, 4])));
    const kernels = spy.mock.calls.map(([spec]) => spec.kernel);
    expect(kernels).toContain('norm.fwd.sg');
    expect(kernels).toContain('norm.grad.sg');
    for (const p of [x, w]) {
      p.grad?.dispose();
      p.dispose();
    }
  } finally {
    spy.mockRestore();
    normKernels.variant = 'auto';
  }
});
