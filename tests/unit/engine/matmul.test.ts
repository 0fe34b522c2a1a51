import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy, type Tensor } from '../../../src/engine/tensor';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { directVec4Fits, linear, matmul, matmulAdd, matmulFusion, matmulKernels, MATMUL_TILE_VARIANTS, type MatmulTile } from '../../../src/engine/ops/matmul';
import { refMatmul } from '../../../src/engine/reference/matmul';
import { add } from '../../../src/engine/ops/elementwise';
import { expectClose, numericGrad, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

interface Case {
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
}

// Every tile the autotune may pick, plus a tile with a K slice of 4.
const TILES: Record<string, MatmulTile> = Object.fromEntries([
  ...MATMUL_TILE_VARIANTS.map((t) => [`${4 * t.wgY}x${4 * t.wgX} tk${t.tk}`, t] as const),
  ['16x64 tk4', { wgX: 16, wgY: 4, tk: 4 }] as const,
]);

// Runs f with the matmul kernel family forced (the default picks by adapter, so each
// family is tested on every adapter).
async function withVariant<T>(variant: 'tiled' | 'direct', f: () => Promise<T>): Promise<T> {
  matmulKernels.variant = variant;
  try {
    return await f();
  } finally {
    matmulKernels.variant = 'auto';
  }
}

// Odd sizes exercise the scalar kernel and partial tiles; multiples of 4 the vec4 kernel.
const CASES: Case[] = [
  { a: [5, 7], b: [7, 3] },
  { a: [7, 5], b: [7, 3], transA: true },
  { a: [5, 7], b: [3, 7], transB: true },
  { a: [7, 5], b: [3, 7], transA: true, transB: true },
  { a: [68, 36], b: [36, 72] },
  { a: [36, 68], b: [36, 72], transA: true },
  { a: [68, 36], b: [72, 36], transB: true },
  { a: [36, 68], b: [72, 36], transA: true, transB: true },
  { a: [3, 9, 13], b: [3, 13, 6] },
  { a: [2, 12, 20], b: [20, 8] },
  { a: [2, 20, 12], b: [20, 8], transA: true },
  { a: [2, 12, 20], b: [8, 20], transB: true },
  { a: [12, 20], b: [3, 20, 8] },
  { a: [2, 3, 5, 7], b: [2, 3, 7, 4] },
  { a: [1, 1], b: [1, 1] },
  { a: [130, 4], b: [4, 3] },
  // The direct family's vec4 kernel: partial 8-row and 16-column blocks, K not a multiple
  // of 4 in the transposed-A layout, batch strides on either side.
  { a: [13, 8], b: [8, 20] },
  { a: [9, 12], b: [20, 12], transB: true },
  { a: [13, 12], b: [13, 8], transA: true },
  { a: [3, 12, 8], b: [3, 8, 20] },
  { a: [2, 7, 12], b: [2, 7, 20], transA: true },
  { a: [2, 5, 12], b: [2, 20, 12], transB: true },
  // Padded for the vec4 kernel: ragged K (NN, NT), ragged M (TN), ragged N, both, batched.
  { a: [10, 13], b: [13, 8] },
  { a: [9, 13], b: [11, 13], transB: true },
  { a: [6, 9], b: [6, 7], transA: true },
  { a: [2, 5, 7], b: [2, 7, 9] },
  { a: [2, 7, 5], b: [7, 9], transA: true },
];

function label(c: Case): string {
  return `[${c.a}]${c.transA ? 'ᵀ' : ''} x [${c.b}]${c.transB ? 'ᵀ' : ''}`;
}

describe('matmul forward matches the float64 reference', () => {
  for (const c of CASES) {
    test(label(c), async () => {
      const rng = new Rng(c.a.length * 100 + c.b[0]);
      const an = c.a.reduce((x, y) => x * y, 1);
      const bn = c.b.reduce((x, y) => x * y, 1);
      const av = randn(rng, an);
      const bv = randn(rng, bn);
      const ref = refMatmul(av, bv, { aShape: c.a, bShape: c.b, transA: c.transA, transB: c.transB });
      for (const [name, tile] of Object.entries(TILES)) {
        const got = await tidy(() => matmul(fromArray(rt, av, c.a), fromArray(rt, bv, c.b), c, tile)).read();
        expectClose(got, ref.out, { atol: 1e-4, rtol: 1e-4, what: `${label(c)} with tile ${name}` });
      }
      const spy = vi.spyOn(rt, 'dispatch');
      const direct = await withVariant('direct', () => tidy(() => matmul(fromArray(rt, av, c.a), fromArray(rt, bv, c.b), c)).read());
      const kernels = spy.mock.calls.map(([spec]) => spec.kernel);
      spy.mockRestore();
      expectClose(direct, ref.out, { atol: 1e-4, rtol: 1e-4, what: `${label(c)} with the direct kernel` });
      // vec4 where every vec4 row is a multiple of 4 long, else on zero-padded copies;
      // the scalar kernel only when both operands are transposed.
      const [M, K] = c.transA ? c.a.slice(-2).reverse() : c.a.slice(-2);
      const N = c.transB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
      const both = !!c.transA && !!c.transB;
      const fits = directVec4Fits(M, N, K, !!c.transA, !!c.transB);
      expect(kernels.filter((k) => k.startsWith('matmul'))).toEqual([both ? 'matmul.direct' : 'matmul.direct4']);
      expect(kernels.filter((k) => k !== 'layout.copy').length).toBe(1);
      expect(kernels.includes('layout.copy')).toBe(!fits && !both);
      const y = matmul(fromArray(rt, av, c.a), fromArray(rt, bv, c.b), c);
      expect(y.shape).toEqual(ref.shape);
      y.dispose();
    });
  }

  for (const variant of ['tiled', 'direct'] as const) {
    test(`a larger product against the reference (several K tiles, partial edge tiles; ${variant})`, async () => {
      const rng = new Rng(7);
      for (const [M, K, N] of [
        [97, 130, 66],
        [464, 64, 64],
        [130, 33, 31],
        [260, 36, 136],
      ]) {
        const av = randn(rng, M * K);
        const bv = randn(rng, K * N);
        const ref = refMatmul(av, bv, { aShape: [M, K], bShape: [K, N] });
        const got = await withVariant(variant, () => tidy(() => matmul(fromArray(rt, av, [M, K]), fromArray(rt, bv, [K, N]))).read());
        expectClose(got, ref.out, { atol: 1e-3, rtol: 1e-4, what: `[${M}, ${K}] x [${K}, ${N}]` });
      }
    });
  }

  test('every tile the autotune may pick, on larger products with several K slices and partial edge tiles (vec4 and scalar kernels)', async () => {
    const rng = new Rng(9);
    for (const [M, K, N] of [
      [97, 130, 66],
      [130, 33, 31],
      [260, 36, 136],
    ]) {
      const av = randn(rng, M * K);
      const bv = randn(rng, K * N);
      const ref = refMatmul(av, bv, { aShape: [M, K], bShape: [K, N] });
      for (const [name, tile] of Object.entries(TILES)) {
        const got = await tidy(() => matmul(fromArray(rt, av, [M, K]), fromArray(rt, bv, [K, N]), {}, tile)).read();
        expectClose(got, ref.out, { atol: 1e-3, rtol: 1e-4, what: `[${M}, ${K}] x [${K}, ${N}] with tile ${name}` });
      }
    }
  });

  test('an empty inner dimension gives zeros', async () => {
    const y = tidy(() => matmul(fromArray(rt, [], [3, 0]), fromArray(rt, [], [0, 4])));
    expect(Array.from(await y.read())).toEqual(new Array(12).fill(0));
    y.dispose();
  });

  test('shape errors name both operands', () => {
    tidy(() => {
      expect(() => matmul(fromArray(rt, new Float32Array(6), [2, 3]), fromArray(rt, new Float32Array(8), [4, 2]))).toThrow(
        /inner dimensions differ \(3 vs 4\) in a \[2, 3\] x b \[4, 2\]/,
      );
      expect(() => matmul(fromArray(rt, new Float32Array(12), [2, 2, 3]), fromArray(rt, new Float32Array(18), [3, 3, 2]))).toThrow(
        /batch dimensions differ/,
      );
    });
  });
});

describe.each(['tiled', 'direct'] as const)('matmul backward matches finite differences of the reference (%s)', (variant) => {
  beforeAll(() => {
    matmulKernels.variant = variant;
  });
  afterAll(() => {
    matmulKernels.variant = 'auto';
  });

  const GRAD_CASES: Case[] = [
    { a: [5, 7], b: [7, 3] },
    { a: [7, 5], b: [3, 7], transA: true, transB: true },
    { a: [7, 5], b: [7, 3], transA: true },
    { a: [5, 7], b: [3, 7], transB: true },
    { a: [2, 3, 5], b: [2, 5, 4] },
    { a: [2, 3, 8], b: [8, 4] },
    { a: [2, 3, 8], b: [4, 8], transB: true },
    { a: [2, 8, 3], b: [8, 4], transA: true },
    { a: [3, 5], b: [2, 5, 4] },
    { a: [5, 3], b: [2, 4, 5], transA: true, transB: true },
    // Forward NN, dA NT and dB TN all on the direct family's vec4 kernel.
    { a: [6, 12], b: [12, 20] },
  ];
  for (const c of GRAD_CASES) {
    test(label(c), async () => {
      const rng = new Rng(11);
      const an = c.a.reduce((x, y) => x * y, 1);
      const bn = c.b.reduce((x, y) => x * y, 1);
      const av = randn(rng, an);
      const bv = randn(rng, bn);
      const f = ([x, y]: Float64Array[]) => refMatmul(x, y, { aShape: c.a, bShape: c.b, transA: c.transA, transB: c.transB }).out;
      const outN = f([Float64Array.from(av), Float64Array.from(bv)]).length;
      const gv = randn(rng, outN);
      const [ga, gb] = numericGrad(f, [av, bv], gv);
      const pa = parameter(rt, av, c.a);
      const pb = parameter(rt, bv, c.b);
      tidy(() => {
        const y = matmul(pa, pb, c);
        backward(y, fromArray(rt, gv, y.shape));
      });
      expectClose(await pa.grad!.read(), ga, { atol: 1e-4, rtol: 1e-3, what: 'dA' });
      expectClose(await pb.grad!.read(), gb, { atol: 1e-4, rtol: 1e-3, what: 'dB' });
      for (const p of [pa, pb]) {
        p.grad!.dispose();
        p.dispose();
      }
    });
  }
});

test('the direct family reads vec4s only where every vec4 row is a multiple of 4 long', () => {
  expect(directVec4Fits(5, 8, 12, false, false)).toBe(true);
  expect(directVec4Fits(5, 8, 13, false, false)).toBe(false);
  expect(directVec4Fits(5, 6, 12, false, false)).toBe(false);
  expect(directVec4Fits(5, 8, 12, false, true)).toBe(true);
  expect(directVec4Fits(5, 8, 13, false, true)).toBe(false);
  expect(directVec4Fits(8, 8, 13, true, false)).toBe(true);
  expect(directVec4Fits(5, 8, 12, true, false)).toBe(false);
  expect(directVec4Fits(8, 8, 8, true, true)).toBe(false);
});

describe('linear', () => {
  test('x W + b forward and backward, including a rank-3 input', async () => {
    const rng = new Rng(3);
    const [B, T, I, O] = [2, 3, 5, 6];
    const xv = randn(rng, B * T * I);
    const wv = randn(rng, I * O);
    const bv = randn(rng, O);
    const f = ([x, w, b]: Float64Array[]) => {
      const y = refMatmul(x, w, { aShape: [B * T, I], bShape: [I, O] }).out;
      for (let i = 0; i < y.length; i++) y[i] += b[i % O];
      return y;
    };
    const gv = randn(rng, B * T * O);
    const grads = numericGrad(f, [xv, wv, bv], gv);
    const ps = [parameter(rt, xv, [B, T, I]), parameter(rt, wv, [I, O]), parameter(rt, bv, [O])];
    let y: Tensor | undefined;
    const yv = await tidy(() => {
      y = linear(ps[0], ps[1], ps[2]);
      backward(y, fromArray(rt, gv, y.shape));
      return y;
    }).read();
    expect(y!.shape).toEqual([B, T, O]);
    expectClose(yv, f([xv, wv, bv].map((v) => Float64Array.from(v))), { atol: 1e-4 });
    for (let i = 0; i < 3; i++) {
      expectClose(await ps[i].grad!.read(), grads[i], { atol: 1e-4, rtol: 1e-3, what: ['dx', 'dW', 'db'][i] });
      ps[i].grad!.dispose();
      ps[i].dispose();
    }
    y!.dispose();
  });

  test('rejects a weight of the wrong orientation with both shapes in the message', () => {
    tidy(() => {
      expect(() => linear(fromArray(rt, new Float32Array(10), [2, 5]), fromArray(rt, new Float32Array(15), [3, 5]))).toThrow(
        /x \[2, 5\] last dimension must equal w \[3, 5\] first/,
      );
    });
  });
});

describe.each(['tiled', 'direct'] as const)('matmulAdd: the product plus a residual or a bias in its store (%s)', (variant) => {
  beforeAll(() => {
    matmulKernels.variant = variant;
  });
  afterAll(() => {
    matmulKernels.variant = 'auto';
  });

  // Odd and vec4 sizes, transposes, batched and folded-batch products, and shapes the
  // direct family pads (those add in a separate pass: the result must not change).
  const ADD_CASES: (Case & { bias?: boolean })[] = [
    { a: [5, 7], b: [7, 3] },
    { a: [5, 7], b: [7, 3], bias: true },
    { a: [7, 5], b: [3, 7], transA: true, transB: true },
    { a: [68, 36], b: [36, 72] },
    { a: [68, 36], b: [36, 72], bias: true },
    { a: [36, 68], b: [72, 36], transA: true, transB: true, bias: true },
    { a: [13, 8], b: [8, 20], bias: true },
    { a: [9, 12], b: [20, 12], transB: true },
    { a: [13, 12], b: [13, 8], transA: true, bias: true },
    { a: [2, 12, 20], b: [20, 8] },
    { a: [2, 12, 20], b: [20, 8], bias: true },
    { a: [3, 9, 13], b: [3, 13, 6], bias: true },
    { a: [2, 7, 12], b: [2, 7, 20], transA: true },
    { a: [10, 13], b: [13, 8], bias: true },
    { a: [2, 5, 7], b: [2, 7, 9] },
  ];
  for (const c of ADD_CASES) {
    test(`${label(c)} + ${c.bias ? 'bias' : 'residual'}: forward equals product + addend, the same bits as unfused; gradients match finite differences`, async () => {
      const rng = new Rng(17);
      const an = c.a.reduce((x, y) => x * y, 1);
      const bn = c.b.reduce((x, y) => x * y, 1);
      const av = randn(rng, an);
      const bv = randn(rng, bn);
      const prodOf = (x: Float64Array, y: Float64Array) => refMatmul(x, y, { aShape: c.a, bShape: c.b, transA: c.transA, transB: c.transB });
      const { out: p0, shape: outShape } = prodOf(Float64Array.from(av), Float64Array.from(bv));
      const N = outShape[outShape.length - 1];
      const rv = randn(rng, c.bias ? N : p0.length);
      const f = ([x, y, r]: Float64Array[]) => {
        const o = prodOf(x, y).out;
        for (let i = 0; i < o.length; i++) o[i] += r[c.bias ? i % N : i];
        return o;
      };
      const gv = randn(rng, p0.length);
      // Finite differences cost a reference product per input element: the large shapes
      // check the forward pass and the bits only (their gradients are the matmul's own,
      // checked above).
      const checkGrads = an + bn + rv.length <= 600;
      const [ga, gb, gr] = checkGrads ? numericGrad(f, [av, bv, rv], gv) : [null, null, null];
      const pa = parameter(rt, av, c.a);
      const pb = parameter(rt, bv, c.b);
      const pr = parameter(rt, rv, c.bias ? [N] : outShape);
      const fusedOut = await tidy(() => {
        const y = matmulAdd(pa, pb, pr, c);
        expect(y.shape).toEqual(outShape);
        backward(y, fromArray(rt, gv, y.shape));
        return y;
      }).read();
      expectClose(fusedOut, f([av, bv, rv].map((v) => Float64Array.from(v))), { atol: 1e-4, rtol: 1e-4, what: 'forward' });
      if (ga && gb && gr) {
        expectClose(await pa.grad!.read(), ga, { atol: 1e-4, rtol: 1e-3, what: 'dA' });
        expectClose(await pb.grad!.read(), gb, { atol: 1e-4, rtol: 1e-3, what: 'dB' });
        expectClose(await pr.grad!.read(), gr, { atol: 1e-4, rtol: 1e-3, what: 'd addend' });
      }
      matmulFusion.enabled = false;
      try {
        const unfused = await tidy(() => matmulAdd(pa, pb, pr, c)).read();
        expect(Array.from(fusedOut)).toEqual(Array.from(unfused));
      } finally {
        matmulFusion.enabled = true;
      }
      for (const p of [pa, pb, pr]) {
        p.grad!.dispose();
        p.dispose();
      }
    });
  }

  test('an addend of any other shape is refused, naming both shapes', () => {
    const a = fromArray(rt, new Float32Array(6), [2, 3]);
    const b = fromArray(rt, new Float32Array(12), [3, 4]);
    expect(() => matmulAdd(a, b, fromArray(rt, new Float32Array(3), [3]))).toThrow(/addend \[3\] must be the product's shape \[2, ?4\] or \[4\]/);
    expect(() => matmulAdd(a, b, fromArray(rt, new Float32Array(8), [4, 2]))).toThrow(/addend \[4, ?2\]/);
  });
});

test("an input used by several products gets its gradient summed in their stores: same bits as separate adds, fewer dispatches", async () => {
  const rng = new Rng(23);
  const [T, I, O] = [9, 12, 8];
  const xv = randn(rng, T * I);
  const ws = [0, 1, 2].map(() => randn(rng, I * O));
  const gv = randn(rng, T * O);
  const run = async (fused: boolean) => {
    matmulFusion.enabled = fused;
    try {
      const x = parameter(rt, xv, [T, I]);
      const w = ws.map((v) => parameter(rt, v, [I, O]));
      const d0 = rt.dispatchCount;
      tidy(() => {
        // One input used by three projections, as the normed h feeds wq, wk and wv.
        const y = add(add(linear(x, w[0]), linear(x, w[1])), linear(x, w[2]));
        backward(y, fromArray(rt, gv, y.shape));
      });
      const dispatches = rt.dispatchCount - d0;
      const dx = (await x.grad!.read()) as Float32Array;
      for (const p of [x, ...w]) {
        p.grad?.dispose();
        p.dispose();
      }
      return { dx, dispatches };
    } finally {
      matmulFusion.enabled = true;
    }
  };
  const unfused = await run(false);
  const fused = await run(true);
  expect(Array.from(fused.dx)).toEqual(Array.from(unfused.dx));
  // dx = g (w0 + w1 + w2)^T: the two accumulations happen in the second and third products' stores.
  expect(fused.dispatches).toBe(unfused.dispatches - 2);
  const wsum = new Float64Array(I * O).map((_, i) => ws[0][i] + ws[1][i] + ws[2][i]);
  const ref = refMatmul(gv, wsum, { aShape: [T, O], bShape: [I, O], transB: true }).out;
  expectClose(fused.dx, ref, { atol: 1e-4, rtol: 1e-4, what: 'dx' });
});
