import { afterAll, beforeAll, describe, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { Scope, Tensor, fromArray, parameter } from '../../../src/engine/tensor';
import { backward, zeroGrad } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { PRTS_RULE } from '../../../src/engine/roles';
import { buildBlockMap, denseBlockMap, uploadBlockMap } from '../../../src/engine/blockmap';
import { attention } from '../../../src/engine/ops/attention';
import { attentionBackwardRef, attentionForwardRef } from '../../../src/engine/reference/attention';
import { expectClose, numericGrad, randn } from './check';
import { ATTENTION_FAMILIES, forceAttentionKernels, layoutOf, randomDocs, randomQkv, type Layout } from './attention-fixtures';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

/** dQ, dK, dV of sum(gOut * attention(q, k, v)) through the autograd op. */
async function gpuGrads(layout: Layout, qkv: Float32Array[], gOut: Float32Array, heads: number, d: number, tile: number, dense: boolean) {
  const bm = (dense ? denseBlockMap : buildBlockMap)(layout.doc, layout.role, { tile });
  const gmap = uploadBlockMap(rt, bm);
  const n = layout.doc.length;
  const params = qkv.map((a, i) => parameter(rt, a, [n, heads, d], ['q', 'k', 'v'][i]));
  const scope = new Scope();
  scope.run(() => {
    const o = attention(params[0], params[1], params[2], gmap);
    backward(o, fromArray(rt, gOut, [n, heads, d]));
  });
  const grads = await Promise.all(params.map((p) => (p.grad as Tensor).toFloat32()));
  scope.dispose();
  zeroGrad(params);
  params.forEach((p) => p.dispose());
  gmap.release();
  return grads;
}

describe('attention backward reference', () => {
  test('the float64 reference backward equals finite differences of the reference forward', () => {
    const rng = new Rng(11);
    const layout = layoutOf([
      { vision: 9, instruction: 4, action: 3, crl: true },
      { vision: 5, instruction: 2, action: 2, crl: true },
    ]);
    const n = layout.doc.length;
    const heads = 2;
    const d = 4;
    const qkv = randomQkv(rng, n, heads, d);
    const gOut = randn(rng, n * heads * d);
    const f = ([q, k, v]: Float64Array[]) => attentionForwardRef({ q, k, v, doc: layout.doc, role: layout.role, heads }).o;
    const num = numericGrad(f, qkv, gOut);
    const ana = attentionBackwardRef({ q: qkv[0], k: qkv[1], v: qkv[2], doc: layout.doc, role: layout.role, heads }, gOut);
    expectClose(ana.dq, num[0], { atol: 1e-7, rtol: 1e-6, what: 'ref dQ' });
    expectClose(ana.dk, num[1], { atol: 1e-7, rtol: 1e-6, what: 'ref dK' });
    expectClose(ana.dv, num[2], { atol: 1e-7, rtol: 1e-6, what: 'ref dV' });
  });
});

describe.each(ATTENTION_FAMILIES)('attention backward (%s kernels)', (family) => {
  forceAttentionKernels(family);

  test('GPU dQ, dK, dV equal finite differences of the reference (two tiles, odd length)', async () => {
    const rng = new Rng(12);
    const layout = layoutOf([
      { vision: 14, instruction: 5, action: 4, crl: true },
      { vision: 6, instruction: 3, action: 2, crl: true },
    ]);
    const n = layout.doc.length;
    const heads = 1;
    const d = 32;
    const qkv = randomQkv(rng, n, heads, d);
    const gOut = randn(rng, n * heads * d);
    const f = ([q, k, v]: Float64Array[]) => attentionForwardRef({ q, k, v, doc: layout.doc, role: layout.role, heads }).o;
    const num = numericGrad(f, qkv, gOut);
    const got = await gpuGrads(layout, qkv, gOut, heads, d, 32, false);
    ['dQ', 'dK', 'dV'].forEach((name, i) => expectClose(got[i], num[i], { atol: 1e-4, rtol: 1e-3, what: `${name} (n=${n})` }));
  });

  const cases = [
    { heads: 2, d: 64, tile: 32, seed: 1 },
    { heads: 1, d: 32, tile: 64, seed: 2 },
    { heads: 3, d: 32, tile: 32, seed: 3 },
    { heads: 1, d: 64, tile: 64, seed: 4 },
  ];
  for (const c of cases) {
    test(`GPU backward equals the float64 reference and the dense path: H=${c.heads} D=${c.d} tile=${c.tile}`, async () => {
      const rng = new Rng(200 + c.seed);
      const layout = layoutOf(randomDocs(rng, 4));
      const n = layout.doc.length;
      const qkv = randomQkv(rng, n, c.heads, c.d);
      const gOut = randn(rng, n * c.heads * c.d);
      const ref = attentionBackwardRef({ q: qkv[0], k: qkv[1], v: qkv[2], doc: layout.doc, role: layout.role, heads: c.heads, rule: PRTS_RULE }, gOut);
      const sparse = await gpuGrads(layout, qkv, gOut, c.heads, c.d, c.tile, false);
      const dense = await gpuGrads(layout, qkv, gOut, c.heads, c.d, c.tile, true);
      [ref.dq, ref.dk, ref.dv].forEach((want, i) => {
        const name = ['dQ', 'dK', 'dV'][i];
        expectClose(sparse[i], want, { atol: 1e-4, rtol: 1e-3, what: `${name} vs reference (n=${n})` });
        expectClose(dense[i], want, { atol: 1e-4, rtol: 1e-3, what: `dense ${name} vs reference` });
        expectClose(sparse[i], dense[i], { atol: 2e-5, rtol: 1e-4, what: `sparse vs dense ${name}` });
      });
    });
  }
});
