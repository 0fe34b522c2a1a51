/**
 * Batched matrix multiply with optional transposes and a broadcast operand, tiled in
 * workgroup memory (shaders/matmul.wgsl, shaders/matmul_scalar.wgsl), and `linear`.
 *
 * Shapes: a is [...batch, M, K] ([...batch, K, M] with transA), b is [...batch, K, N]
 * ([...batch, N, K] with transB); either may be 2-D and is then shared by every batch
 * entry. A batched, untransposed a against a 2-D b is run as one [batch*M, K] x [K, N]
 * product, which is the common case (activations times a weight) and the fastest.
 */
import vec4Code from '../../../shaders/matmul.wgsl?raw';
import scalarCode from '../../../shaders/matmul_scalar.wgsl?raw';
import directCode from '../../../shaders/matmul_direct.wgsl?raw';
import directVec4Src from '../../../shaders/matmul_direct_vec4.wgsl?raw';
import { record } from '../autograd';
import { Tensor, shapeStr, type PendingGrads } from '../tensor';
import { assertDType, assertRank, uniform } from './common';
import { add } from './elementwise';
import { copyRows } from './layout';
import { sumTo } from './reduce';
import { unroll } from './unroll';

// The template's vec4 columns, rows and vec4s of rows per thread (see the shader).
let directVec4Code: string | null = null;
const directVec4 = () => (directVec4Code ??= unroll(directVec4Src, { c: 4, r: 8, a: 2 }));

/**
 * Whether the direct family can run a product with vec4 loads and stores
 * (matmul_direct_vec4.wgsl): every row it reads or writes as vec4 must be a multiple of
 * 4 long, i.e. N (rows of C and of an untransposed B), K (rows of an untransposed A and
 * of a transposed B) and M (rows of a transposed A); both transposed is not supported.
 * Otherwise the scalar direct kernel runs.
 */
export function directVec4Fits(M: number, N: number, K: number, transA: boolean, transB: boolean): boolean {
  if (N % 4 !== 0 || (transA && transB)) return false;
  return transA ? M % 4 === 0 : K % 4 === 0;
}

export interface MatmulOptions {
  /** a is stored [..., K, M] and used transposed. */
  transA?: boolean;
  /** b is stored [..., N, K] and used transposed. */
  transB?: boolean;
}

/**
 * Tile shape of one workgroup (specialisation constants of the kernels): wgX x wgY
 * threads, each computing a 4x4 block, so the tile is (4 wgY) x (4 wgX) of C, with K
 * staged in slices of tk.
 */
export interface MatmulTile {
  wgX: number;
  wgY: number;
  /** K slice staged per step: a multiple of 4. */
  tk: number;
}

/** Big tiles amortise the shared-memory traffic; small ones keep enough workgroups in
 * flight when the output is small. Chosen per call from the output size. These are the
 * defaults; autotune.ts replaces them per runtime with the adapter's fastest variants. */
export const matmulTiles = {
  large: { wgX: 16, wgY: 16, tk: 16 } as MatmulTile,
  small: { wgX: 8, wgY: 8, tk: 16 } as MatmulTile,
  /** Workgroups of `large` tiles below which `small` tiles are used. */
  minLargeWorkgroups: 64,
};

/**
 * Every tile the autotune may pick (autotune.ts): square and oblong workgroups of 64 to
 * 256 threads, K slices of 8 and 16. The tests run each against the reference.
 */
export const MATMUL_TILE_VARIANTS: readonly MatmulTile[] = [
  { wgX: 16, wgY: 16, tk: 16 },
  { wgX: 16, wgY: 16, tk: 8 },
  { wgX: 8, wgY: 8, tk: 16 },
  { wgX: 8, wgY: 8, tk: 8 },
  { wgX: 16, wgY: 8, tk: 16 },
  { wgX: 8, wgY: 16, tk: 16 },
  { wgX: 32, wgY: 8, tk: 8 },
  { wgX: 8, wgY: 32, tk: 8 },
];

const tunedTiles = new WeakMap<object, { large: MatmulTile; small: MatmulTile }>();

/** Sets the runtime's large and small tiles (autotune.ts); each must be a valid tile. */
export function setMatmulTiles(rt: Tensor['rt'], tiles: { large: MatmulTile; small: MatmulTile }): void {
  checkTile(tiles.large);
  checkTile(tiles.small);
  tunedTiles.set(rt, { large: tiles.large, small: tiles.small });
}

/** The large and small tiles this runtime's tiled products use. */
export function matmulTilesFor(rt: Tensor['rt']): { large: MatmulTile; small: MatmulTile } {
  return tunedTiles.get(rt) ?? { large: matmulTiles.large, small: matmulTiles.small };
}

/**
 * Kernel family. 'tiled': matmul.wgsl (vec4, when every row read or written as vec4 is a
 * multiple of 4 long) or matmul_scalar.wgsl, both staging tiles in workgroup memory
 * behind barriers, which is what a GPU wants. 'direct': matmul_direct.wgsl, no
 * workgroup memory and no barriers, any sizes. 'auto' picks 'direct' on software
 * adapters: SwiftShader runs a workgroup's threads as coroutines on the CPU and every
 * barrier suspends and resumes all of them, so at training sizes ([464, 64] x [64, 64])
 * the tiled kernels spent ~15-35 ms a call (the scalar one ~240 ms) on what the direct
 * one does in a few; the CPU's caches stand in for the tiles. The direct family reads
 * vec4s (matmul_direct_vec4.wgsl) where the shape allows (directVec4Fits), scalars
 * otherwise (matmul_direct.wgsl). An explicit `tile`
 * argument to matmul() always selects the tiled kernels (tests force each family).
 */
export const matmulKernels: { variant: 'auto' | 'tiled' | 'direct' } = { variant: 'auto' };

/**
 * Whether matmulAdd (and so linear with a bias, linearResidual) adds its addend in the
 * product's store (the kernels' epilogue, one dispatch) instead of in a separate
 * elementwise pass. On by default; off reproduces the unfused path exactly (same float
 * additions, so the same bits), which is what the tests and bench:train compare against.
 */
export const matmulFusion = { enabled: true };

/** What a kernel adds to the product as it stores it: the shaders' EPI constant. */
interface Epilogue {
  /** 1: r has C's layout (a residual); 2: r is [N], added to every row (a bias). */
  mode: 1 | 2;
  r: Tensor;
}

function checkTile(t: MatmulTile): void {
  const ok = t.tk % 4 === 0 && t.tk > 0 && t.wgX > 0 && t.wgY > 0 && t.wgX * t.wgY <= 256;
  if (!ok) throw new RangeError(`matmul: unsupported tile ${JSON.stringify(t)} (tk a multiple of 4, at most 256 threads)`);
}

interface Problem {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** Batch strides in elements; 0 when the operand is shared. */
  strideA: number;
  strideB: number;
  transA: boolean;
  transB: boolean;
}

/** matmul_direct_vec4.wgsl on a shape directVec4Fits accepts. */
function dispatchDirectVec4(a: Tensor, b: Tensor, c: Tensor, p: Problem, epi?: Epilogue): void {
  const { batch, M, N, K, transA, transB } = p;
  // Each thread owns 8 x 16 of C. Workgroups of 64 threads, fewer when that leaves under
  // 8 workgroups: SwiftShader runs a workgroup on one CPU thread, so the weight-gradient
  // products ([64, 64] of C over 700 tokens) would otherwise keep one core busy and
  // leave the others idle.
  const tx = Math.ceil(N / 16);
  const ty = Math.ceil(M / 8);
  let wgX = 8;
  let wgY = 8;
  const groups = () => Math.ceil(tx / wgX) * Math.ceil(ty / wgY) * batch;
  while (wgX > 1 && wgX >= 2 * tx) [wgX, wgY] = [wgX / 2, wgY * 2];
  while (wgX * wgY > 4 && groups() < 8) {
    if (wgY >= wgX || wgX === 1) wgY /= 2;
    else wgX /= 2;
  }
  c.rt.dispatch({
    kernel: 'matmul.direct4',
    code: directVec4(),
    constants: { WG_X: wgX, WG_Y: wgY, TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0, EPI: epi?.mode ?? 0 },
    buffers: [a.buffer, b.buffer, c.buffer, epiBuffer(a, epi)],
    uniform: uniform(M, N, K, p.strideA / 4, p.strideB / 4, (M * N) / 4),
    workgroups: [Math.ceil(tx / wgX), Math.ceil(ty / wgY), batch],
  });
}

/** The epilogue's operand, or A as a stand-in (read-only, never read) when there is none. */
function epiBuffer(a: Tensor, epi?: Epilogue): GPUBuffer {
  return (epi?.r ?? a).buffer;
}

/**
 * The direct family on a shape with a dimension the vec4 kernel cannot read (the patch
 * stem's 193 inputs, the vocabulary): zero-pad the rows it reads as vec4 to a multiple
 * of 4 (zero columns of A meet zero rows of B, so the padding adds nothing), run the vec4
 * kernel, crop C. On SwiftShader the scalar kernel ran [736, 193] x [193, 64] at ~0.15
 * GFLOP/s, ~10% of a training step; the copies cost a few percent of that.
 */
function dispatchDirectPadded(a: Tensor, b: Tensor, c: Tensor, p: Problem): void {
  const { batch, M, N, K, transA, transB } = p;
  const rt = c.rt;
  const up = (x: number) => Math.ceil(x / 4) * 4;
  const temps: Tensor[] = [];
  // [outer, srcRow] -> [outer, dstRow] (a fresh tensor unless nothing changes).
  const resized = (src: Tensor, outer: number, srcRow: number, dstRow: number): Tensor => {
    if (srcRow === dstRow) return src;
    const out = new Tensor(rt, [outer * dstRow], 'f32');
    copyRows(src, out, outer, srcRow, dstRow);
    temps.push(out);
    return out;
  };
  const batchA = p.strideA ? batch : 1;
  const batchB = p.strideB ? batch : 1;
  const Np = up(N);
  // Padded sizes: TN reads A's rows (length M) as vec4, NN and NT its rows of length K.
  const Mp = transA ? up(M) : M;
  const Kp = transA ? K : up(K);
  let a4: Tensor;
  let b4: Tensor;
  if (transA) {
    a4 = resized(a, batchA * K, M, Mp); // [K, M] -> [K, Mp]
    b4 = resized(b, batchB * K, N, Np); // [K, N] -> [K, Np]
  } else {
    a4 = resized(a, batchA * M, K, Kp); // [M, K] -> [M, Kp]
    b4 = transB
      ? resized(resized(b, batchB * N, K, Kp), batchB, N * Kp, Np * Kp) // [N, K] -> [Np, Kp]
      : resized(resized(b, batchB * K, N, Np), batchB, K * Np, Kp * Np); // [K, N] -> [Kp, Np]
  }
  const c4 = Mp === M && Np === N ? c : new Tensor(rt, [batch * Mp * Np], 'f32');
  if (c4 !== c) temps.push(c4);
  dispatchDirectVec4(a4, b4, c4, {
    batch,
    M: Mp,
    N: Np,
    K: Kp,
    strideA: p.strideA ? Mp * Kp : 0,
    strideB: p.strideB ? Kp * Np : 0,
    transA,
    transB,
  });
  if (c4 !== c) {
    // [batch, Mp, Np] -> [batch, M, N]: columns first, then whole [., N] blocks.
    if (Mp === M) copyRows(c4, c, batch * M, Np, N);
    else copyRows(resized(c4, batch * Mp, Np, N), c, batch, Mp * N, M * N);
  }
  for (const t of temps) t.dispose();
}

type KernelPath = 'empty' | 'zero' | 'direct4' | 'padded' | 'direct' | 'tiled';

/** Which kernel dispatchMatmul runs for a problem. */
function kernelPath(rt: Tensor['rt'], p: Problem, tile?: MatmulTile): KernelPath {
  const { batch, M, N, K, transA, transB } = p;
  if (M === 0 || N === 0 || batch === 0) return 'empty';
  if (K === 0) return 'zero';
  const v = matmulKernels.variant;
  const direct = !tile && (v === 'direct' || (v === 'auto' && rt.info.software));
  if (!direct) return 'tiled';
  if (directVec4Fits(M, N, K, transA, transB)) return 'direct4';
  return transA && transB ? 'direct' : 'padded';
}

/** Whether a path adds an epilogue in its store: the padded one stores through a copy and
 * the degenerate ones store nothing, so those add separately. */
const fusesEpilogue = (path: KernelPath): boolean => path === 'direct4' || path === 'direct' || path === 'tiled';

/**
 * Records one kernel dispatch computing C (preallocated, [batch, M, N]), plus the
 * epilogue where given (only on paths where fusesEpilogue holds; the caller checks).
 */
function dispatchMatmul(a: Tensor, b: Tensor, c: Tensor, p: Problem, tile?: MatmulTile, epi?: Epilogue): void {
  const { batch, M, N, K, transA, transB } = p;
  const path = kernelPath(c.rt, p, tile);
  if (epi && !fusesEpilogue(path)) throw new Error(`matmul: no epilogue on the ${path} path`);
  if (path === 'empty') return;
  if (path === 'zero') {
    // An empty inner dimension still defines C = 0; the kernels' K loops would not write it.
    c.rt.write(c.buffer, new Float32Array(c.size));
    return;
  }
  if (path === 'direct4') {
    dispatchDirectVec4(a, b, c, p, epi);
    return;
  }
  if (path === 'padded') {
    dispatchDirectPadded(a, b, c, p);
    return;
  }
  if (path === 'direct') {
    // 64 threads, each 4x8 of C: a 32 x 64 block, or 64 x 32 when N is that narrow
    // (attention heads) so that half the threads are not idle.
    const wgX = N <= 32 ? 4 : 8;
    const wgY = 64 / wgX;
    c.rt.dispatch({
      kernel: 'matmul.direct',
      code: directCode,
      constants: { WG_X: wgX, WG_Y: wgY, TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0, EPI: epi?.mode ?? 0 },
      buffers: [a.buffer, b.buffer, c.buffer, epiBuffer(a, epi)],
      uniform: uniform(M, N, K, p.strideA, p.strideB, M * N),
      workgroups: [Math.ceil(N / (8 * wgX)), Math.ceil(M / (4 * wgY)), batch],
    });
    return;
  }
  const tiles = matmulTilesFor(c.rt);
  const t = tile ?? (Math.ceil(M / 64) * Math.ceil(N / 64) * batch >= matmulTiles.minLargeWorkgroups ? tiles.large : tiles.small);
  checkTile(t);
  // vec4 loads need every row that is read or written as vec4 to be a multiple of 4 long.
  const vec4 = (transA ? M : K) % 4 === 0 && (transB ? K : N) % 4 === 0 && N % 4 === 0;
  const s = vec4 ? 4 : 1;
  const constants = { WG_X: t.wgX, WG_Y: t.wgY, TK: t.tk, TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0, EPI: epi?.mode ?? 0 };
  const TM = t.wgY * 4;
  const TN = t.wgX * 4;
  const workgroups = [Math.ceil(N / TN), Math.ceil(M / TM), batch] as const;
  c.rt.dispatch({
    kernel: vec4 ? 'matmul.vec4' : 'matmul.scalar',
    code: vec4 ? vec4Code : scalarCode,
    constants,
    buffers: [a.buffer, b.buffer, c.buffer, epiBuffer(a, epi)],
    uniform: uniform(M, N, K, p.strideA / s, p.strideB / s, (M * N) / s),
    workgroups: [workgroups[0], workgroups[1], workgroups[2]],
  });
}

function prod(xs: readonly number[]): number {
  return xs.reduce((x, y) => x * y, 1);
}

/** The problem of op(a) op(b), checked, with its output shape. */
function plan(a: Tensor, b: Tensor, opts: MatmulOptions): { p: Problem; outShape: number[]; batchA: number[]; batchB: number[] } {
  const transA = !!opts.transA;
  const transB = !!opts.transB;
  assertDType('matmul', 'a', a, 'f32');
  assertDType('matmul', 'b', b, 'f32');
  assertRank('matmul', 'a', a, 2);
  assertRank('matmul', 'b', b, 2);
  const ra = a.rank;
  const rb = b.rank;
  const M = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Ka = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  const desc = () => `a ${shapeStr(a.shape)}${transA ? 'ᵀ' : ''} x b ${shapeStr(b.shape)}${transB ? 'ᵀ' : ''}`;
  if (Ka !== Kb) throw new RangeError(`matmul: inner dimensions differ (${Ka} vs ${Kb}) in ${desc()}`);
  const K = Ka;
  const batchA = a.shape.slice(0, ra - 2);
  const batchB = b.shape.slice(0, rb - 2);
  if (batchA.length && batchB.length && shapeStr(batchA) !== shapeStr(batchB)) {
    throw new RangeError(`matmul: batch dimensions differ in ${desc()} (a 2-D operand is broadcast; otherwise they must match)`);
  }
  const batchDims = batchA.length ? batchA : batchB;
  const batch = prod(batchDims);
  const outShape = [...batchDims, M, N];
  const p: Problem =
    batchA.length && !batchB.length && !transA
      ? // Shared weight: fold the batch into M, one big product instead of `batch` small ones.
        { batch: 1, M: batch * M, N, K, strideA: 0, strideB: 0, transA, transB }
      : { batch, M, N, K, strideA: batchA.length ? M * K : 0, strideB: batchB.length ? K * N : 0, transA, transB };
  return { p, outShape, batchA, batchB };
}

/**
 * Gradients of op(a) op(b) with respect to a and b, given the output's gradient g. Where
 * a's gradient is one product of a's shape, the gradient a already has from its other
 * consumers (pending) is added in that product's store: one dispatch fewer per extra
 * consumer (the q, k and v projections of one normed input, say).
 */
function matmulGrads(
  a: Tensor,
  b: Tensor,
  g: Tensor,
  opts: MatmulOptions,
  batchA: number[],
  batchB: number[],
  pending?: PendingGrads,
): [Tensor | null, Tensor | null] {
  const transA = !!opts.transA;
  const transB = !!opts.transB;
  let ga: Tensor | null = null;
  let gb: Tensor | null = null;
  if (a.requiresGrad) {
    // C = op(A) op(B): dop(A) = G op(B)^T, and dA is its transpose when A was transposed.
    const [x, y, o] = transA ? [b, g, { transA: transB, transB: true }] : [g, b, { transB: !transB }];
    const direct = plan(x, y, o).outShape.length === a.rank;
    const prev = direct && matmulFusion.enabled ? pending?.take(0) ?? null : null;
    const d = prev ? matmulAdd(x, y, prev, o) : matmul(x, y, o);
    ga = direct ? d : sumTo(d, a.shape);
  }
  if (b.requiresGrad) {
    let d: Tensor;
    if (!batchB.length && batchA.length && !transA) {
      // The shared weight's gradient sums over the batch: fold batch into the inner dim.
      const M = a.shape[a.rank - 2];
      const K = a.shape[a.rank - 1];
      const rows = prod(batchA) * M;
      const af = a.reshape([rows, K]);
      const gf = g.reshape([rows, g.shape[g.rank - 1]]);
      d = transB ? matmul(gf, af, { transA: true }) : matmul(af, gf, { transA: true });
    } else {
      d = transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA });
    }
    gb = d.shape.length === b.rank ? d : sumTo(d, b.shape);
  }
  return [ga, gb];
}

/** op(a) * op(b); see the module comment for shapes. Differentiable in both operands. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}, tile?: MatmulTile): Tensor {
  const { p, outShape, batchA, batchB } = plan(a, b, opts);
  const out = new Tensor(a.rt, outShape, 'f32');
  dispatchMatmul(a, b, out, p, tile);
  return record('matmul', out, [a, b], (g, pending) => matmulGrads(a, b, g, opts, batchA, batchB, pending));
}

/**
 * op(a) op(b) + addend, where the addend has the product's shape (a residual) or is one
 * row [N] added to every row (a bias). One dispatch where the kernel path allows
 * (matmulFusion.enabled and not the padded software path); otherwise the product and
 * add(), which give the same bits. Differentiable in all three.
 */
export function matmulAdd(a: Tensor, b: Tensor, addend: Tensor, opts: MatmulOptions = {}, tile?: MatmulTile): Tensor {
  const { p, outShape, batchA, batchB } = plan(a, b, opts);
  const N = outShape[outShape.length - 1];
  const mode = shapeStr(addend.shape) === shapeStr(outShape) ? 1 : addend.rank === 1 && addend.shape[0] === N ? 2 : 0;
  if (mode === 0) {
    throw new RangeError(`matmulAdd: addend ${shapeStr(addend.shape)} must be the product's shape ${shapeStr(outShape)} or [${N}]`);
  }
  assertDType('matmulAdd', 'addend', addend, 'f32');
  if (!matmulFusion.enabled || !fusesEpilogue(kernelPath(a.rt, p, tile))) return add(matmul(a, b, opts, tile), addend);
  const out = new Tensor(a.rt, outShape, 'f32');
  dispatchMatmul(a, b, out, p, tile, { mode, r: addend });
  return record('matmul_add', out, [a, b, addend], (g, pending) => {
    const [ga, gb] = matmulGrads(a, b, g, opts, batchA, batchB, pending);
    const gr = addend.requiresGrad ? (mode === 1 ? g : sumTo(g, addend.shape)) : null;
    return [ga, gb, gr];
  });
}

/**
 * x [..., in] times w [in, out] plus an optional bias [out]. The weight is stored
 * [in, out] (not PyTorch's [out, in]) so the forward product reads it untransposed,
 * which is the vec4-friendly layout for the kernel.
 */
export function linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  assertRank('linear', 'x', x, 2);
  assertRank('linear', 'w', w, 2, 2);
  if (x.shape[x.rank - 1] !== w.shape[0]) {
    throw new RangeError(`linear: x ${shapeStr(x.shape)} last dimension must equal w ${shapeStr(w.shape)} first (w is [in, out])`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[1])) {
    throw new RangeError(`linear: bias ${shapeStr(bias.shape)} must be [${w.shape[1]}] for w ${shapeStr(w.shape)}`);
  }
  return bias ? matmulAdd(x, w, bias) : matmul(x, w);
}

/** residual + x w (w [in, out]): a linear layer's output added to the residual stream in
 * the product's store (matmulAdd). */
export function linearResidual(x: Tensor, w: Tensor, residual: Tensor): Tensor {
  assertRank('linearResidual', 'x', x, 2);
  assertRank('linearResidual', 'w', w, 2, 2);
  if (x.shape[x.rank - 1] !== w.shape[0]) {
    throw new RangeError(`linearResidual: x ${shapeStr(x.shape)} last dimension must equal w ${shapeStr(w.shape)} first (w is [in, out])`);
  }
  return matmulAdd(x, w, residual);
}
