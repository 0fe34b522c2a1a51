/**
 * Decode attention (ops/decode.ts) against its float64 reference: rows of different
 * valid lengths (1, shorter than the 64-key chunk, exactly one chunk, one past it, two
 * chunks and a bit), 1 and several queries per row, query rows reading a permuted subset
 * of the cache rows, capacities that are not multiples of the chunk. Cache slots past a
 * row's length hold NaN, so reading one would show in the output.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, tidy } from '../../../src/engine/tensor';
import { Rng } from '../../../src/engine/random';
import { decodeAttention, writeKv } from '../../../src/engine/ops/decode';
import { decodeAttentionRef } from '../../../src/engine/reference/decode';
import { expectClose, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

interface Case {
  heads: number;
  d: number;
  queries: number;
  cacheRows: number;
  capacity: number;
  rows: number[];
  lens: number[];
}

/** Random caches whose slots past each row's longest length are NaN. */
function randomCaches(rng: Rng, c: Case): { k: Float32Array; v: Float32Array } {
  const { heads: H, d: D, cacheRows: C, capacity: L } = c;
  const k = randn(rng, C * L * H * D);
  const v = randn(rng, C * L * H * D);
  const used = new Array<number>(C).fill(0);
  c.rows.forEach((row, r) => (used[row] = Math.max(used[row], c.lens[r])));
  for (let row = 0; row < C; row++) {
    k.fill(NaN, (row * L + used[row]) * H * D, (row + 1) * L * H * D);
    v.fill(NaN, (row * L + used[row]) * H * D, (row + 1) * L * H * D);
  }
  return { k, v };
}

async function runDecode(c: Case, q: Float32Array, k: Float32Array, v: Float32Array): Promise<Float32Array> {
  const R = c.rows.length;
  const o = tidy(() => {
    const qt = fromArray(rt, q, [R, c.queries, c.heads, c.d]);
    const kc = fromArray(rt, k, [c.cacheRows, c.capacity, c.heads, c.d]);
    const vc = fromArray(rt, v, [c.cacheRows, c.capacity, c.heads, c.d]);
    return decodeAttention(qt, kc, vc, Int32Array.from(c.rows), Int32Array.from(c.lens));
  });
  const out = await o.toFloat32();
  o.dispose();
  return out;
}

describe('decode attention', () => {
  const cases: Case[] = [
    { heads: 2, d: 32, queries: 1, cacheRows: 4, capacity: 150, rows: [3, 0, 2, 1], lens: [1, 64, 65, 139] },
    { heads: 1, d: 64, queries: 1, cacheRows: 3, capacity: 70, rows: [2, 0], lens: [37, 70] },
    { heads: 3, d: 32, queries: 3, cacheRows: 3, capacity: 131, rows: [1, 2, 0], lens: [3, 66, 131] },
    { heads: 2, d: 64, queries: 4, cacheRows: 2, capacity: 97, rows: [1, 0], lens: [4, 67] },
  ];
  cases.forEach((c, i) => {
    test(`matches the float64 reference: H=${c.heads} D=${c.d} S=${c.queries} lens ${c.lens.join('/')} of capacity ${c.capacity}`, async () => {
      const rng = new Rng(500 + i);
      const R = c.rows.length;
      const q = randn(rng, R * c.queries * c.heads * c.d);
      const { k, v } = randomCaches(rng, c);
      const ref = decodeAttentionRef({ q, kCache: k, vCache: v, rows: c.rows, lens: c.lens, queries: c.queries, heads: c.heads, headDim: c.d, capacity: c.capacity });
      const got = await runDecode(c, q, k, v);
      expectClose(got, ref, { atol: 2e-5, rtol: 1e-4, what: 'O' });
    });
  });

  test('peaked scores (large logits) stay exact: the running max rescales across chunks', async () => {
    const c: Case = { heads: 1, d: 32, queries: 2, cacheRows: 1, capacity: 200, rows: [0], lens: [200] };
    const rng = new Rng(9);
    const q = randn(rng, 2 * 32, 4);
    const { k, v } = randomCaches(rng, c);
    // The largest scores sit in the last chunk, so every earlier partial sum is rescaled.
    for (let j = 190; j < 200; j++) for (let x = 0; x < 32; x++) k[j * 32 + x] *= 3;
    const ref = decodeAttentionRef({ q, kCache: k, vCache: v, rows: c.rows, lens: c.lens, queries: 2, heads: 1, headDim: 32, capacity: 200 });
    expectClose(await runDecode(c, q, k, v), ref, { atol: 2e-5, rtol: 1e-4, what: 'O' });
  });

  test('writeKv puts token rows in their slots, skips -1 and leaves the other slots alone', async () => {
    const [C, L, H, D] = [2, 5, 2, 32];
    const rng = new Rng(3);
    const before = randn(rng, C * L * H * D);
    const kNew = randn(rng, 4 * H * D);
    const vNew = randn(rng, 4 * H * D);
    const slots = Int32Array.from([7, -1, 0, 4]);
    const kc = fromArray(rt, before, [C, L, H, D]);
    const vc = fromArray(rt, before, [C, L, H, D]);
    tidy(() => writeKv(kc, vc, fromArray(rt, kNew, [4, H, D]), fromArray(rt, vNew, [4, H, D]), slots));
    const [gotK, gotV] = [await kc.toFloat32(), await vc.toFloat32()];
    kc.dispose();
    vc.dispose();
    const wantK = before.slice();
    const wantV = before.slice();
    slots.forEach((s, t) => {
      if (s < 0) return;
      wantK.set(kNew.subarray(t * H * D, (t + 1) * H * D), s * H * D);
      wantV.set(vNew.subarray(t * H * D, (t + 1) * H * D), s * H * D);
    });
    expect(Array.from(gotK)).toEqual(Array.from(wantK));
    expect(Array.from(gotV)).toEqual(Array.from(wantV));
  });

  test('bad input is named', () => {
    tidy(() => {
      const kc = fromArray(rt, new Float32Array(2 * 8 * 32), [2, 8, 1, 32]);
      const q = fromArray(rt, new Float32Array(2 * 32), [1, 2, 1, 32]);
      const one = Int32Array.from([0]);
      expect(() => decodeAttention(q, kc, kc, one, Int32Array.from([1]))).toThrow(/lens\[0\] = 1 must lie in \[S = 2, capacity = 8\]/);
      expect(() => decodeAttention(q, kc, kc, one, Int32Array.from([9]))).toThrow(/lens\[0\] = 9/);
      expect(() => decodeAttention(q, kc, kc, Int32Array.from([2]), Int32Array.from([4]))).toThrow(/rows\[0\] = 2 is not a cache row/);
      expect(() => decodeAttention(q, kc, kc, Int32Array.from([0, 1]), Int32Array.from([4, 4]))).toThrow(/one entry per query row/);
      const k = fromArray(rt, new Float32Array(2 * 32), [2, 1, 32]);
      expect(() => writeKv(kc, kc, k, k, Int32Array.from([3, 3]))).toThrow(/slot 3 is written twice/);
      expect(() => writeKv(kc, kc, k, k, Int32Array.from([0, 16]))).toThrow(/slots\[1\] = 16 is outside/);
      const odd = fromArray(rt, new Float32Array(16), [1, 1, 1, 16]);
      expect(() => decodeAttention(odd, odd, odd, one, one)).toThrow(/head dim 16/);
    });
  });
});
