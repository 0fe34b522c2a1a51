/**
 * Softmax cross-entropy over the last axis with integer targets, an ignore mask and
 * optional per-row weights: loss = sum_i w_i nll_i / sum_i w_i over counted rows, where
 * a row counts when 0 <= target < V (target -1 marks "ignore") and w_i is its weight
 * (1 without a weight vector). Numerically stable (logsumexp with the max subtracted);
 * the backward is one fused kernel from the saved logsumexp. The normaliser stays on
 * the GPU, so nothing is read back.
 */
import commonCode from '../../../shaders/xent_common.wgsl?raw';
import fwdCode from '../../../shaders/xent_fwd.wgsl?raw';
import fwdRowsCode from '../../../shaders/xent_fwd_rows.wgsl?raw';
import reduceCode from '../../../shaders/xent_reduce.wgsl?raw';
import gradCode from '../../../shaders/xent_grad.wgsl?raw';
import { record } from '../autograd';
import { Tensor, fromArray, shapeStr } from '../tensor';
import { assertDType, assertRank, grid1d, gridRows, rowsOf, sameShape, uniform } from './common';

/**
 * Kernel family of the forward pass. 'workgroup': one workgroup per row with a tree
 * reduction behind barriers (xent_fwd.wgsl), for GPUs. 'rows': one thread per row, no
 * barriers (xent_fwd_rows.wgsl), which 'auto' picks on software adapters, where every
 * barrier suspends and resumes all of a workgroup's threads (same reasoning as
 * normKernels). Tests force each.
 */
export const xentKernels: { variant: 'auto' | 'rows' | 'workgroup' } = { variant: 'auto' };

export interface CrossEntropyOptions {
  /** Per-row weights, shaped like the targets (e.g. 0/1 loss masks or importance weights). */
  weights?: Tensor;
  /**
   * 'mean' (default): sum_i w_i nll_i / sum_i w_i. 'sum': sum_i w_i nll_i, for signed
   * weights whose sum carries no meaning (a policy gradient's per-token coefficients).
   */
  reduction?: 'mean' | 'sum';
}

/**
 * Mean (or, with reduction 'sum', summed) cross-entropy of logits [..., V] against
 * targets [...] (int32; -1 = ignore), as a scalar. Targets given as an Int32Array are range-checked on the CPU; targets
 * already on the GPU that fall outside [0, V) are treated as ignored.
 */
export function crossEntropy(logits: Tensor, targets: Tensor | Int32Array, opts: CrossEntropyOptions = {}): Tensor {
  assertDType('crossEntropy', 'logits', logits, 'f32');
  assertRank('crossEntropy', 'logits', logits, 1);
  if (opts.reduction !== undefined && opts.reduction !== 'sum' && opts.reduction !== 'mean') throw new RangeError(`crossEntropy: reduction must be 'mean' or 'sum', got ${String(opts.reduction)}`);
  const { rows, cols: V } = rowsOf(logits);
  const lead = logits.shape.slice(0, -1);
  let t: Tensor;
  if (targets instanceof Tensor) {
    assertDType('crossEntropy', 'targets', targets, 'i32');
    t = targets;
  } else {
    for (let i = 0; i < targets.length; i++) {
      const v = targets[i];
      if (v !== -1 && !(v >= 0 && v < V)) throw new RangeError(`crossEntropy: target ${v} at row ${i} is outside [0, ${V}) and is not -1`);
    }
    t = fromArray(logits.rt, targets, [targets.length], 'i32');
  }
  if (t.size !== rows || (targets instanceof Tensor && !sameShape(t.shape, lead))) {
    throw new RangeError(`crossEntropy: targets ${shapeStr(t.shape)} must have shape ${shapeStr(lead)} for logits ${shapeStr(logits.shape)}`);
  }
  const w = opts.weights;
  if (w) {
    assertDType('crossEntropy', 'weights', w, 'f32');
    if (w.size !== rows) throw new RangeError(`crossEntropy: weights ${shapeStr(w.shape)} must have ${rows} elements (one per row of ${shapeStr(logits.shape)})`);
  }
  const rt = logits.rt;
  const hasW = w ? 1 : 0;
  // Without weights the targets buffer stands in for the unused weight binding.
  const wBuf = (w ?? t).buffer;
  const lse = new Tensor(rt, [rows], 'f32');
  const rowLoss = new Tensor(rt, [rows, 2], 'f32');
  const loss = new Tensor(rt, [], 'f32');
  const invCount = new Tensor(rt, [1], 'f32');
  if (rows > 0) {
    const v = xentKernels.variant;
    const perRow = v === 'rows' || (v === 'auto' && rt.info.software);
    rt.dispatch({
      kernel: perRow ? 'xent.fwd.rows' : 'xent.fwd',
      code: commonCode + (perRow ? fwdRowsCode : fwdCode),
      constants: { HAS_W: hasW },
      buffers: [logits.buffer, t.buffer, wBuf, lse.buffer, rowLoss.buffer],
      uniform: uniform(rows, V),
      workgroups: perRow ? grid1d(rows, 64) : gridRows(rows),
    });
  }
  const sum = opts.reduction === 'sum';
  rt.dispatch({
    kernel: 'xent.reduce',
    code: reduceCode,
    constants: { SUM: sum ? 1 : 0 },
    buffers: [rowLoss.buffer, loss.buffer, invCount.buffer],
    uniform: uniform(rows),
    workgroups: [1],
  });
  rowLoss.dispose();
  return record('crossEntropy', loss, [logits], (g) => {
    const dl = new Tensor(rt, logits.shape, 'f32');
    rt.dispatch({
      kernel: 'xent.grad',
      code: gradCode,
      constants: { HAS_W: hasW },
      buffers: [logits.buffer, t.buffer, wBuf, lse.buffer, invCount.buffer, g.buffer, dl.buffer],
      uniform: uniform(dl.size, Math.max(V, 1)),
      workgroups: grid1d(dl.size),
    });
    return [dl];
  });
}
