/**
 * Reductions: sum / mean over the last axis or over everything, max over the last axis
 * (no gradient), softmax and logsumexp over the last axis, and sumTo (the reduction
 * that undoes broadcasting, used by backward rules).
 *
 * Row reductions run one workgroup per row with a tree reduction in workgroup memory.
 * A full reduction is done in rounds of fixed-size chunks (one workgroup per chunk), so
 * it is deterministic and needs no atomics.
 */
import rowsCode from '../../../shaders/reduce_rows.wgsl?raw';
import expandCode from '../../../shaders/reduce_expand.wgsl?raw';
import sumToCode from '../../../shaders/reduce_sum_to.wgsl?raw';
import softmaxCode from '../../../shaders/reduce_softmax.wgsl?raw';
import softmaxGradCode from '../../../shaders/reduce_softmax_grad.wgsl?raw';
import lseGradCode from '../../../shaders/reduce_lse_grad.wgsl?raw';
import { record } from '../autograd';
import { Tensor, shapeStr } from '../tensor';
import { assertDType, assertRank, dims8, f32, grid1d, gridRows, rowsOf, uniform } from './common';

const ROW_OP = { sum: 0, max: 1, logsumexp: 2 } as const;
const CHUNK = 4096;

/** out[r] = op over x[r*cols .. (r+1)*cols) clipped to n; `scale` multiplies a sum. */
function rowReduce(x: Tensor, out: Tensor, op: keyof typeof ROW_OP, rows: number, cols: number, scale = 1, wg = 64): void {
  if (rows === 0) return;
  x.rt.dispatch({
    kernel: 'reduce.rows',
    code: rowsCode,
    constants: { OP: ROW_OP[op], WG: wg },
    buffers: [x.buffer, out.buffer],
    uniform: uniform(rows, cols, x.size, f32(scale)),
    workgroups: gridRows(rows),
  });
}

/** dx[i] = g[i / cols] * scale. */
function expandRows(g: Tensor, shape: readonly number[], cols: number, scale: number): Tensor {
  const dx = new Tensor(g.rt, shape, 'f32');
  g.rt.dispatch({
    kernel: 'reduce.expand',
    code: expandCode,
    buffers: [g.buffer, dx.buffer],
    uniform: uniform(dx.size, Math.max(cols, 1), f32(scale)),
    workgroups: grid1d(dx.size),
  });
  return dx;
}

function lastAxisOnly(op: string, x: Tensor, axis: number | undefined): void {
  if (axis !== undefined && axis !== -1 && axis !== x.rank - 1) {
    throw new RangeError(`${op}: axis ${axis} is not supported for ${shapeStr(x.shape)}; reduce over the last axis (-1) or everything (no axis)`);
  }
}

/** Sum of all elements, as a scalar (shape []), in chunked rounds. */
function sumAllRaw(x: Tensor, scale: number): Tensor {
  let cur = x;
  while (cur.size > CHUNK) {
    const rows = Math.ceil(cur.size / CHUNK);
    const next = new Tensor(x.rt, [rows], 'f32');
    rowReduce(cur, next, 'sum', rows, CHUNK, 1, 256);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  const out = new Tensor(x.rt, [], 'f32');
  rowReduce(cur, out, 'sum', 1, Math.max(cur.size, 1), scale, 256);
  if (cur !== x) cur.dispose();
  return out;
}

function reduceSum(op: string, x: Tensor, axis: number | undefined, mean: boolean): Tensor {
  assertDType(op, 'x', x, 'f32');
  lastAxisOnly(op, x, axis);
  if (axis === undefined) {
    const s = mean ? 1 / Math.max(x.size, 1) : 1;
    const out = sumAllRaw(x, s);
    return record(op, out, [x], (g) => [expandRows(g, x.shape, x.size, s)]);
  }
  assertRank(op, 'x', x, 1);
  const { rows, cols } = rowsOf(x);
  const s = mean ? 1 / Math.max(cols, 1) : 1;
  const out = new Tensor(x.rt, x.shape.slice(0, -1), 'f32');
  rowReduce(x, out, 'sum', rows, cols, s);
  return record(op, out, [x], (g) => [expandRows(g, x.shape, cols, s)]);
}

/** Sum over the last axis (axis -1) or over all elements (no axis, giving shape []). */
export const sum = (x: Tensor, axis?: number): Tensor => reduceSum('sum', x, axis, false);
/** Mean over the last axis (axis -1) or over all elements (no axis, giving shape []). */
export const mean = (x: Tensor, axis?: number): Tensor => reduceSum('mean', x, axis, true);

/** Max over the last axis. Not differentiable (used for argmax-like readouts). */
export function max(x: Tensor, axis = -1): Tensor {
  assertDType('max', 'x', x, 'f32');
  assertRank('max', 'x', x, 1);
  lastAxisOnly('max', x, axis);
  const { rows, cols } = rowsOf(x);
  if (cols === 0) throw new RangeError(`max: the last axis of ${shapeStr(x.shape)} is empty`);
  const out = new Tensor(x.rt, x.shape.slice(0, -1), 'f32');
  rowReduce(x, out, 'max', rows, cols);
  return out;
}

/** log(sum(exp(x))) over the last axis, computed stably (max subtracted). */
export function logsumexp(x: Tensor, axis = -1): Tensor {
  assertDType('logsumexp', 'x', x, 'f32');
  assertRank('logsumexp', 'x', x, 1);
  lastAxisOnly('logsumexp', x, axis);
  const { rows, cols } = rowsOf(x);
  const out = new Tensor(x.rt, x.shape.slice(0, -1), 'f32');
  rowReduce(x, out, 'logsumexp', rows, cols);
  return record('logsumexp', out, [x], (g) => {
    const dx = new Tensor(x.rt, x.shape, 'f32');
    x.rt.dispatch({
      kernel: 'reduce.lse_grad',
      code: lseGradCode,
      buffers: [x.buffer, out.buffer, g.buffer, dx.buffer],
      uniform: uniform(x.size, Math.max(cols, 1)),
      workgroups: grid1d(x.size),
    });
    return [dx];
  });
}

/** Softmax over the last axis. */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertDType('softmax', 'x', x, 'f32');
  assertRank('softmax', 'x', x, 1);
  lastAxisOnly('softmax', x, axis);
  const { rows, cols } = rowsOf(x);
  const y = new Tensor(x.rt, x.shape, 'f32');
  if (rows > 0) {
    x.rt.dispatch({
      kernel: 'reduce.softmax',
      code: softmaxCode,
      buffers: [x.buffer, y.buffer],
      uniform: uniform(rows, cols),
      workgroups: gridRows(rows),
    });
  }
  return record('softmax', y, [x], (g) => {
    const dx = new Tensor(x.rt, x.shape, 'f32');
    if (rows > 0) {
      x.rt.dispatch({
        kernel: 'reduce.softmax_grad',
        code: softmaxGradCode,
        buffers: [y.buffer, g.buffer, dx.buffer],
        uniform: uniform(rows, cols),
        workgroups: gridRows(rows),
      });
    }
    return [dx];
  });
}

/**
 * Sums x down to `shape`, which must broadcast to x's shape (numpy rules): the
 * gradient of a broadcast. Returns a view of x when nothing is summed. Not recorded on
 * the tape: it is a building block of backward rules.
 */
export function sumTo(x: Tensor, shape: readonly number[]): Tensor {
  assertDType('sumTo', 'x', x, 'f32');
  const r = x.rank;
  if (shape.length > r) throw new RangeError(`sumTo: target ${shapeStr(shape)} has more dimensions than x ${shapeStr(x.shape)}`);
  const reduced: boolean[] = [];
  for (let i = 0; i < r; i++) {
    const t = shape[shape.length - r + i] ?? 1;
    if (t !== x.shape[i] && t !== 1) {
      throw new RangeError(`sumTo: target ${shapeStr(shape)} does not broadcast to x ${shapeStr(x.shape)}`);
    }
    reduced.push(t !== x.shape[i]);
  }
  if (!reduced.some(Boolean)) return x.reshape(shape);
  // Merge neighbouring dimensions with the same role (x is contiguous, so any run merges).
  const dims: number[] = [];
  const red: boolean[] = [];
  for (let i = 0; i < r; i++) {
    if (x.shape[i] === 1) continue;
    if (red.length && red[red.length - 1] === reduced[i]) dims[dims.length - 1] *= x.shape[i];
    else {
      dims.push(x.shape[i]);
      red.push(reduced[i]);
    }
  }
  const out = new Tensor(x.rt, shape, 'f32');
  if (out.size === 0) return out;
  if (x.size === 0) {
    x.rt.write(out.buffer, new Float32Array(out.size));
    return out;
  }
  if (red.length === 2 && !red[0] && red[1]) {
    // Only trailing dimensions are summed: a plain row reduction, one workgroup per row.
    rowReduce(x, out, 'sum', dims[0], dims[1]);
    return out;
  }
  if (red.length === 1) {
    const all = sumAllRaw(x, 1);
    x.rt.copy(all.buffer, 0, out.buffer, 0, 4);
    all.dispose();
    return out;
  }
  const strides = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
  const nRed = dims.reduce((a, d, i) => (red[i] ? a * d : a), 1);
  x.rt.dispatch({
    kernel: 'reduce.sum_to',
    code: sumToCode,
    buffers: [x.buffer, out.buffer],
    uniform: uniform(
      out.size,
      dims.length,
      nRed,
      0,
      ...dims8('sumTo', dims),
      ...dims8('sumTo', strides),
      ...dims8('sumTo', red.map((b) => (b ? 1 : 0))),
    ),
    workgroups: grid1d(out.size),
  });
  return out;
}
