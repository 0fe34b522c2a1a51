import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy } from '../../../src/engine/tensor';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { rope } from '../../../src/engine/ops/rope';
import { refRope } from '../../../src/engine/reference/rope';
import { expectClose, numericGrad, randInt, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

describe('rope', () => {
  for (const [T, H, D, base] of [
    [7, 3, 8, 10000],
    [13, 2, 6, 500],
    [5, 1, 32, 10000],
  ]) {
    test(`[${T}, ${H}, ${D}] base ${base}, packed positions`, async () => {
      const rng = new Rng(T * H * D);
      const x = randn(rng, T * H * D);
      const g = randn(rng, T * H * D);
      // Two packed documents: positions restart at 0 partway through.
      const pos = new Int32Array(T).map((_, t) => (t < 3 ? t : t - 3));
      const f = ([v]: Float64Array[]) => refRope(v, pos, H, D, base);
      const [dx] = numericGrad(f, [x], g);
      const p = parameter(rt, x, [T, H, D]);
      const y = tidy(() => {
        const out = rope(p, fromArray(rt, pos, [T], 'i32'), { base });
        backward(out, fromArray(rt, g, out.shape));
        return out;
      });
      expectClose(await y.read(), f([Float64Array.from(x)]), { atol: 1e-5, rtol: 1e-4 });
      expectClose(await p.grad!.read(), dx, { atol: 1e-5, rtol: 1e-4 });
      y.dispose();
      p.grad!.dispose();
      p.dispose();
    });
  }

  test('batched [B, T, H, D] with positions up to 500 (Int32Array positions)', async () => {
    const rng = new Rng(5);
    const [B, T, H, D] = [2, 6, 2, 16];
    const x = randn(rng, B * T * H * D);
    const pos = randInt(rng, B * T, 500);
    const y = await tidy(() => rope(fromArray(rt, x, [B, T, H, D]), pos)).read();
    expectClose(y, refRope(x, pos, H, D), { atol: 1e-5, rtol: 1e-4 });
  });

  test('same position gives the same rotation, so q.k depends only on the offset', async () => {
    const rng = new Rng(6);
    const D = 8;
    const q = randn(rng, D);
    const k = randn(rng, D);
    const dot = async (pq: number, pk: number) => {
      const [rq, rk] = await Promise.all([
        tidy(() => rope(fromArray(rt, q, [1, 1, D]), new Int32Array([pq]))).toFloat32(),
        tidy(() => rope(fromArray(rt, k, [1, 1, D]), new Int32Array([pk]))).toFloat32(),
      ]);
      return rq.reduce((s, v, i) => s + v * rk[i], 0);
    };
    expect(await dot(10, 7)).toBeCloseTo(await dot(3, 0), 4);
  });

  test('positions past the initial table grow it and stay exact', async () => {
    const rng = new Rng(7);
    const [T, H, D] = [3, 1, 8];
    const x = randn(rng, T * H * D);
    const pos = new Int32Array([0, 5000, 9000]);
    const y = await tidy(() => rope(fromArray(rt, x, [T, H, D]), pos)).read();
    expectClose(y, refRope(x, pos, H, D), { atol: 1e-5, rtol: 1e-4 });
  });

  test('errors: odd head dimension, wrong number of positions', () => {
    tidy(() => {
      expect(() => rope(fromArray(rt, new Float32Array(6), [2, 1, 3]), new Int32Array([0, 1]))).toThrow(/head dimension 3/);
      expect(() => rope(fromArray(rt, new Float32Array(8), [2, 1, 4]), new Int32Array([0]))).toThrow(/must hold 2 entries/);
    });
  });
});
