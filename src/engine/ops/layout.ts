/**
 * Layout ops a transformer needs, all differentiable and all materialising (tensors are
 * contiguous; `reshape` is the only view): transpose of the last two dims, the swap
 * [T, H, D] <-> [H, T, D], splitting and merging attention heads, concat and slice
 * along any axis. Row gathers live in ops/embedding.ts (gatherRows).
 */
import swapCode from '../../../shaders/layout_swap.wgsl?raw';
import copyCode from '../../../shaders/layout_copy.wgsl?raw';
import { record } from '../autograd';
import { Tensor, shapeStr } from '../tensor';
import { assertDType, assertRank, grid1d, uniform } from './common';

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** out[p, b, a, c] = x[p, a, b, c]; the leading extent P follows from the size. */
function swapRaw(x: Tensor, A: number, B: number, C: number, outShape: readonly number[]): Tensor {
  const out = new Tensor(x.rt, outShape, 'f32');
  x.rt.dispatch({
    kernel: 'layout.swap',
    code: swapCode,
    buffers: [x.buffer, out.buffer],
    uniform: uniform(out.size, Math.max(A, 1), Math.max(B, 1), Math.max(C, 1)),
    workgroups: grid1d(out.size),
  });
  return out;
}

function swap(op: string, x: Tensor, A: number, B: number, C: number, outShape: readonly number[]): Tensor {
  assertDType(op, 'x', x, 'f32');
  const out = swapRaw(x, A, B, C, outShape);
  return record(op, out, [x], (g) => [swapRaw(g, B, A, C, x.shape)]);
}

/** Swaps the last two dimensions: [..., M, N] -> [..., N, M]. */
export function transpose(x: Tensor): Tensor {
  assertRank('transpose', 'x', x, 2);
  const r = x.rank;
  const [M, N] = [x.shape[r - 2], x.shape[r - 1]];
  return swap('transpose', x, M, N, 1, [...x.shape.slice(0, -2), N, M]);
}

/** Swaps the first two of three dimensions: [T, H, D] -> [H, T, D] (and back). */
export function swap01(x: Tensor): Tensor {
  assertRank('swap01', 'x', x, 3, 3);
  const [A, B, C] = x.shape;
  return swap('swap01', x, A, B, C, [B, A, C]);
}

/** [T, H*D] -> [H, T, D]: one contiguous [T, D] block per head. */
export function splitHeads(x: Tensor, heads: number): Tensor {
  assertRank('splitHeads', 'x', x, 2, 2);
  const [T, HD] = x.shape;
  if (!Number.isInteger(heads) || heads <= 0 || HD % heads !== 0) {
    throw new RangeError(`splitHeads: width ${HD} of x ${shapeStr(x.shape)} is not divisible into ${heads} heads`);
  }
  return swap01(x.reshape([T, heads, HD / heads]));
}

/** [H, T, D] -> [T, H*D], the inverse of splitHeads. */
export function mergeHeads(x: Tensor): Tensor {
  assertRank('mergeHeads', 'x', x, 3, 3);
  const [H, T, D] = x.shape;
  // Written straight into the merged shape: a reshape view of an internal tensor would
  // die with it when a scope keeps only the result.
  return swap('mergeHeads', x, H, T, D, [T, H * D]);
}

function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RangeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

interface Block {
  outer: number;
  /** Columns written: [c0, c0 + cw) of each destination row. */
  c0: number;
  cw: number;
  w: number;
  srcRow: number;
  srcOff: number;
  dstRow: number;
  dstOff: number;
}

function copyBlock(src: Tensor, dst: Tensor, b: Block): void {
  const n = b.outer * b.cw;
  if (n === 0) return;
  src.rt.dispatch({
    kernel: 'layout.copy',
    code: copyCode,
    buffers: [src.buffer, dst.buffer],
    uniform: uniform(n, b.cw, b.c0, b.w, b.srcRow, b.srcOff, b.dstRow, b.dstOff),
    workgroups: grid1d(n),
  });
}

/**
 * Raw (unrecorded) row resize: views src as [outer, srcRow] and dst as [outer, dstRow]
 * and writes dst[o, j] = src[o, j] for j < min(srcRow, dstRow), 0 beyond: pads rows
 * with zeros when dstRow > srcRow, crops them when it is smaller. A whole [K, N] block
 * counts as one row, so the same call pads or crops rows of a matrix too.
 */
export function copyRows(src: Tensor, dst: Tensor, outer: number, srcRow: number, dstRow: number): void {
  copyBlock(src, dst, { outer, c0: 0, cw: dstRow, w: Math.min(srcRow, dstRow), srcRow, srcOff: 0, dstRow, dstOff: 0 });
}

/** Concatenates along `axis` (default 0); all other dimensions must agree. */
export function concat(xs: Tensor[], axis = 0): Tensor {
  if (!xs.length) throw new RangeError('concat: no tensors given');
  const first = xs[0];
  const a = normAxis('concat', axis, first.rank);
  xs.forEach((x, i) => {
    assertDType('concat', `xs[${i}]`, x, 'f32');
    const ok = x.rank === first.rank && x.shape.every((d, k) => k === a || d === first.shape[k]);
    if (!ok) {
      throw new RangeError(
        `concat: xs[${i}] ${shapeStr(x.shape)} does not match xs[0] ${shapeStr(first.shape)} outside axis ${a}`,
      );
    }
  });
  const outer = prod(first.shape.slice(0, a));
  const inner = prod(first.shape.slice(a + 1));
  const total = xs.reduce((s, x) => s + x.shape[a], 0);
  const shape = [...first.shape];
  shape[a] = total;
  const out = new Tensor(first.rt, shape, 'f32');
  const dstRow = total * inner;
  const offsets: number[] = [];
  let off = 0;
  for (const x of xs) {
    const w = x.shape[a] * inner;
    offsets.push(off);
    copyBlock(x, out, { outer, c0: off, cw: w, w, srcRow: w, srcOff: 0, dstRow, dstOff: off });
    off += w;
  }
  return record('concat', out, xs, (g) =>
    xs.map((x, i) => {
      if (!x.requiresGrad) return null;
      const w = x.shape[a] * inner;
      const gx = new Tensor(g.rt, x.shape, 'f32');
      copyBlock(g, gx, { outer, c0: 0, cw: w, w, srcRow: dstRow, srcOff: offsets[i], dstRow: w, dstOff: 0 });
      return gx;
    }),
  );
}

/** x[start:end] along `axis` (default 0), copied; negative indices count from the end. */
export function slice(x: Tensor, start: number, end?: number, axis = 0): Tensor {
  assertDType('slice', 'x', x, 'f32');
  assertRank('slice', 'x', x, 1);
  const a = normAxis('slice', axis, x.rank);
  const len = x.shape[a];
  const s = start < 0 ? start + len : start;
  const e = end === undefined ? len : end < 0 ? end + len : end;
  if (!(Number.isInteger(s) && Number.isInteger(e) && 0 <= s && s <= e && e <= len)) {
    throw new RangeError(`slice: [${start}, ${end ?? ''}) is not a valid range of axis ${a} (length ${len}) of ${shapeStr(x.shape)}`);
  }
  const outer = prod(x.shape.slice(0, a));
  const inner = prod(x.shape.slice(a + 1));
  const shape = [...x.shape];
  shape[a] = e - s;
  const out = new Tensor(x.rt, shape, 'f32');
  const w = (e - s) * inner;
  const row = len * inner;
  copyBlock(x, out, { outer, c0: 0, cw: w, w, srcRow: row, srcOff: s * inner, dstRow: w, dstOff: 0 });
  return record('slice', out, [x], (g) => {
    // Zero-padded back into the full row: one pass writes every element of dx.
    const dx = new Tensor(x.rt, x.shape, 'f32');
    copyBlock(g, dx, { outer, c0: 0, cw: row, w, srcRow: w, srcOff: 0, dstRow: row, dstOff: s * inner });
    return [dx];
  });
}

/** Splits along `axis` into pieces of the given sizes (the inverse of concat). */
export function split(x: Tensor, sizes: number[], axis = 0): Tensor[] {
  const a = normAxis('split', axis, x.rank);
  const total = sizes.reduce((s, n) => s + n, 0);
  if (total !== x.shape[a]) {
    throw new RangeError(`split: sizes [${sizes.join(', ')}] sum to ${total}, but axis ${a} of ${shapeStr(x.shape)} has ${x.shape[a]}`);
  }
  let off = 0;
  return sizes.map((n) => {
    const piece = slice(x, off, off + n, a);
    off += n;
    return piece;
  });
}
