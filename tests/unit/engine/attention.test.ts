import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, tidy } from '../../../src/engine/tensor';
import { Rng } from '../../../src/engine/random';
import { CAUSAL_RULE, PRTS_RULE, type MaskRule } from '../../../src/engine/roles';
import { buildBlockMap, denseBlockMap, uploadBlockMap } from '../../../src/engine/blockmap';
import { attentionForward } from '../../../src/engine/ops/attention';
import { attentionForwardRef } from '../../../src/engine/reference/attention';
import { expectClose } from './check';
import { ATTENTION_FAMILIES, forceAttentionKernels, layoutOf, randomDocs, randomQkv, type Layout } from './attention-fixtures';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

async function runForward(layout: Layout, qkv: Float32Array[], heads: number, d: number, tile: number, rule: MaskRule, dense: boolean) {
  const bm = (dense ? denseBlockMap : buildBlockMap)(layout.doc, layout.role, { tile, rule });
  const gmap = uploadBlockMap(rt, bm);
  const n = layout.doc.length;
  const [o, lse] = tidy(() => {
    const [q, k, v] = qkv.map((a) => fromArray(rt, a, [n, heads, d]));
    const r = attentionForward(q, k, v, gmap);
    return [r.o, r.lse];
  });
  const out = { o: await o.toFloat32(), lse: await lse.toFloat32(), visited: bm.visitedFraction };
  o.dispose();
  lse.dispose();
  gmap.release();
  return out;
}

describe.each(ATTENTION_FAMILIES)('attention forward (%s kernels)', (family) => {
  forceAttentionKernels(family);
  const cases: { heads: number; d: number; tile: number; rule: MaskRule; seed: number }[] = [
    { heads: 1, d: 32, tile: 32, rule: PRTS_RULE, seed: 1 },
    { heads: 2, d: 64, tile: 32, rule: PRTS_RULE, seed: 2 },
    { heads: 3, d: 32, tile: 64, rule: PRTS_RULE, seed: 3 },
    { heads: 1, d: 64, tile: 64, rule: PRTS_RULE, seed: 4 },
    { heads: 2, d: 32, tile: 64, rule: CAUSAL_RULE, seed: 5 },
  ];
  for (const c of cases) {
    test(`matches the float64 reference and the dense path: H=${c.heads} D=${c.d} tile=${c.tile} ${c.rule === PRTS_RULE ? 'PRTS' : 'causal'}`, async () => {
      const rng = new Rng(100 + c.seed);
      const layout = layoutOf(randomDocs(rng, 4, 1));
      const n = layout.doc.length;
      const qkv = randomQkv(rng, n, c.heads, c.d);
      const ref = attentionForwardRef({ q: qkv[0], k: qkv[1], v: qkv[2], doc: layout.doc, role: layout.role, heads: c.heads, rule: c.rule });
      const sparse = await runForward(layout, qkv, c.heads, c.d, c.tile, c.rule, false);
      const dense = await runForward(layout, qkv, c.heads, c.d, c.tile, c.rule, true);
      expectClose(sparse.o, ref.o, { atol: 2e-5, rtol: 1e-4, what: `O (n=${n})` });
      expectClose(sparse.lse, ref.lse, { atol: 2e-5, rtol: 1e-5, what: 'logsumexp' });
      expectClose(dense.o, ref.o, { atol: 2e-5, rtol: 1e-4, what: 'dense O' });
      expectClose(sparse.o, dense.o, { atol: 1e-5, rtol: 1e-5, what: 'sparse vs dense O' });
      expect(sparse.visited).toBeLessThan(1);
    });
  }

  test('odd lengths: a sequence shorter than one tile and one just past a tile boundary', async () => {
    const rng = new Rng(77);
    for (const layout of [
      layoutOf([{ vision: 5, instruction: 3, action: 2, crl: true }]),
      layoutOf([{ vision: 30, instruction: 6, action: 5, crl: true }, { vision: 12, instruction: 3, action: 4, crl: false }]),
    ]) {
      const n = layout.doc.length;
      const qkv = randomQkv(rng, n, 2, 32);
      const ref = attentionForwardRef({ q: qkv[0], k: qkv[1], v: qkv[2], doc: layout.doc, role: layout.role, heads: 2 });
      const got = await runForward(layout, qkv, 2, 32, 32, PRTS_RULE, false);
      expectClose(got.o, ref.o, { atol: 2e-5, rtol: 1e-4, what: `O (n=${n})` });
    }
  });

  test('rows that may attend nothing give zero output', async () => {
    // A rule where CRL_goal may attend nothing at all (not a PRTS rule; it exercises the guard).
    const rule = PRTS_RULE.map((row, qr) => row.map((x) => x && qr !== 4));
    const layout = layoutOf([{ vision: 20, instruction: 8, action: 6, crl: true }]);
    const n = layout.doc.length;
    const qkv = randomQkv(new Rng(5), n, 1, 32);
    const ref = attentionForwardRef({ q: qkv[0], k: qkv[1], v: qkv[2], doc: layout.doc, role: layout.role, heads: 1, rule });
    const got = await runForward(layout, qkv, 1, 32, 32, rule, false);
    expectClose(got.o, ref.o, { atol: 2e-5, rtol: 1e-4, what: 'O' });
    for (let i = 0; i < n; i++) if (layout.role[i] === 4) expect(got.o.subarray(i * 32, i * 32 + 32).every((x) => x === 0)).toBe(true);
  });

  test('bad arguments name the argument and the problem', () => {
    const layout = layoutOf([{ vision: 4, instruction: 2, action: 2, crl: false }]);
    const gmap = uploadBlockMap(rt, buildBlockMap(layout.doc, layout.role, { tile: 32 }));
    tidy(() => {
      const q = fromArray(rt, new Float32Array(8 * 48), [8, 1, 48]);
      expect(() => attentionForward(q, q, q, gmap)).toThrow(/head dim 48 of q/);
      const a = fromArray(rt, new Float32Array(9 * 32), [9, 1, 32]);
      expect(() => attentionForward(a, a, a, gmap)).toThrow(/q has 9 tokens, the block map was built for 8/);
      const b = fromArray(rt, new Float32Array(8 * 32), [8, 1, 32]);
      const c = fromArray(rt, new Float32Array(8 * 64), [8, 2, 32]);
      expect(() => attentionForward(b, c, b, gmap)).toThrow(/k is \[8, 2, 32\], q is \[8, 1, 32\]/);
    });
    gmap.release();
  });
});
