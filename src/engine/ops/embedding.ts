/**
 * Row gathers: embedding lookup by token id and gatherRows (pick rows of an activation,
 * e.g. the hidden states at <|action_end|>), both differentiable.
 *
 * Backward is a scatter-add, done WITHOUT float atomics (WGSL has none for f32, and
 * emulating them with compare-exchange loops is slow and non-deterministic). Indices
 * always originate on the CPU (the batch builder makes them), so a RowIndex builds,
 * once per batch, a CSR over the gathered rows by counting sort: for every source row v,
 * the list of output positions that read it. The backward kernel then has one thread
 * per (row, column) summing its positions in a fixed order: deterministic, exact zeros
 * for unused rows, and the same cost as zero-filling the gradient. Build one RowIndex per
 * batch and reuse it across layers / steps that gather with the same ids.
 */
import gatherCode from '../../../shaders/embedding_gather.wgsl?raw';
import scatterCode from '../../../shaders/embedding_scatter.wgsl?raw';
import { record } from '../autograd';
import type { Runtime } from '../runtime';
import { Tensor, fromArray, shapeStr } from '../tensor';
import { assertDType, assertRank, grid1d, uniform } from './common';

/** Row ids (uploaded as int32) plus the CSR used by the scatter-add backward. */
export class RowIndex {
  /** The ids as an i32 tensor with the caller's shape. */
  readonly ids: Tensor;
  /** Number of rows of the tensors this index may gather from. */
  readonly numRows: number;
  /** offsets[v]..offsets[v+1] is the range of `positions` that read row v. */
  readonly offsets: Tensor;
  readonly positions: Tensor;

  constructor(rt: Runtime, ids: Int32Array, numRows: number, shape: readonly number[] = [ids.length]) {
    if (!Number.isInteger(numRows) || numRows < 0) throw new RangeError(`RowIndex: numRows ${numRows} must be a non-negative integer`);
    const counts = new Uint32Array(numRows + 1);
    for (let m = 0; m < ids.length; m++) {
      const v = ids[m];
      if (!(v >= 0 && v < numRows)) {
        throw new RangeError(`RowIndex: id ${v} at position ${m} is outside [0, ${numRows})`);
      }
      counts[v + 1]++;
    }
    for (let v = 0; v < numRows; v++) counts[v + 1] += counts[v];
    const fill = counts.slice(0, numRows);
    const positions = new Uint32Array(ids.length);
    for (let m = 0; m < ids.length; m++) positions[fill[ids[m]]++] = m;
    this.numRows = numRows;
    this.ids = fromArray(rt, ids, shape, 'i32');
    this.offsets = fromArray(rt, counts, [numRows + 1], 'u32');
    this.positions = fromArray(rt, positions, [ids.length], 'u32');
  }

  get length(): number {
    return this.ids.size;
  }

  dispose(): void {
    this.ids.dispose();
    this.offsets.dispose();
    this.positions.dispose();
  }
}

function toIndex(op: string, x: Tensor, idx: RowIndex | Int32Array): RowIndex {
  const rows = x.shape[0];
  if (idx instanceof RowIndex) {
    if (idx.numRows !== rows) {
      throw new RangeError(`${op}: the index was built for ${idx.numRows} rows but the source ${shapeStr(x.shape)} has ${rows}`);
    }
    idx.ids.assertLive(op);
    return idx;
  }
  // Tracked by the current scope, so a one-off index is freed with the step.
  return new RowIndex(x.rt, idx, rows);
}

/**
 * out[...idx shape, ...rest] = x[idx[...], ...rest] for x [N, ...rest]. `idx` is a
 * RowIndex (built once, reused) or an Int32Array (a RowIndex is built for this call).
 */
export function gatherRows(x: Tensor, idx: RowIndex | Int32Array, op = 'gatherRows'): Tensor {
  assertDType(op, 'x', x, 'f32');
  assertRank(op, 'x', x, 1);
  const index = toIndex(op, x, idx);
  const rest = x.shape.slice(1);
  const D = rest.reduce((a, b) => a * b, 1);
  const out = new Tensor(x.rt, [...index.ids.shape, ...rest], 'f32');
  x.rt.dispatch({
    kernel: 'embedding.gather',
    code: gatherCode,
    buffers: [x.buffer, index.ids.buffer, out.buffer],
    uniform: uniform(out.size, Math.max(D, 1)),
    workgroups: grid1d(out.size),
  });
  return record(op, out, [x], (g) => {
    const dx = new Tensor(x.rt, x.shape, 'f32');
    x.rt.dispatch({
      kernel: 'embedding.scatter',
      code: scatterCode,
      buffers: [g.buffer, index.offsets.buffer, index.positions.buffer, dx.buffer],
      uniform: uniform(dx.size, Math.max(D, 1)),
      workgroups: grid1d(dx.size),
    });
    return [dx];
  });
}

/** Token embeddings: table [V, D] gathered by ids (any shape) into [...ids shape, D]. */
export function embedding(table: Tensor, ids: RowIndex | Int32Array): Tensor {
  assertRank('embedding', 'table', table, 2, 2);
  return gatherRows(table, ids, 'embedding');
}
