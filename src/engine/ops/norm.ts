/**
 * Row normalisations over the last axis: RMSNorm (with weight), LayerNorm (weight and
 * bias) and L2 normalisation (the CRL embeddings phi and psi). The forward saves the
 * per-row statistics so the backward never recomputes the reductions; weight gradients
 * are column sums done in row chunks (no atomics), then summed with sumTo.
 *
 * Each row reduction has two kernels: one thread per row (the *_rows.wgsl shaders, no
 * workgroup memory, no barriers) and one workgroup per row (a barrier tree). See
 * `normKernels` for which runs where.
 */
import fwdBody from '../../../shaders/norm_fwd.wgsl?raw';
import gradBody from '../../../shaders/norm_grad.wgsl?raw';
import wgradCode from '../../../shaders/norm_wgrad.wgsl?raw';
import l2Code from '../../../shaders/norm_l2.wgsl?raw';
import l2GradCode from '../../../shaders/norm_l2_grad.wgsl?raw';
import fwdRowsCode from '../../../shaders/norm_fwd_rows.wgsl?raw';
import sumTreeCode from '../../../shaders/norm_sum_tree.wgsl?raw';
import sumSgCode from '../../../shaders/norm_sum_sg.wgsl?raw';
import gradRowsCode from '../../../shaders/norm_grad_rows.wgsl?raw';
import l2RowsCode from '../../../shaders/norm_l2_rows.wgsl?raw';
import l2GradRowsCode from '../../../shaders/norm_l2_grad_rows.wgsl?raw';
import { record } from '../autograd';
import { Tensor, shapeStr } from '../tensor';
import type { Runtime } from '../runtime';
import { assertDType, assertRank, f32, grid1d, gridRows, rowsOf, uniform } from './common';
import { sumTo } from './reduce';

const WGRAD_ROWS = 64;

/**
 * Kernel family for the row reductions (forward and input gradient of RMSNorm,
 * LayerNorm and L2 normalisation). 'auto' runs one thread per row on software adapters
 * (SwiftShader runs a workgroup's threads as coroutines on the CPU, and each barrier of
 * the tree reduction swaps all of them out: ~100 ms per [464, 64] norm against a few ms
 * without barriers), and on GPUs whenever the row is at most `maxRowThreadD` long: then
 * a thread's loop is short and training shapes have hundreds of rows or more to fill
 * the device. Longer rows on a GPU keep a workgroup per row, where a lone thread per
 * row would serialise thousands of uncoalesced loads. On adapters with the 'subgroups'
 * feature those long rows reduce with subgroup operations (norm_*_sg.wgsl: two
 * barriers per sum instead of the tree's seven; RMSNorm and LayerNorm, L2 keeps the
 * tree). 'rows' / 'workgroup' / 'subgroup' force one family (tests cover each on every
 * adapter that has it).
 */
export const normKernels: { variant: 'auto' | 'rows' | 'workgroup' | 'subgroup'; maxRowThreadD: number } = {
  variant: 'auto',
  maxRowThreadD: 1024,
};

// The workgroup kernels of RMSNorm/LayerNorm are one body with either row-sum file in front.
const fwdCode = sumTreeCode + fwdBody;
const gradCode = sumTreeCode + gradBody;
const fwdSgCode = 'enable subgroups;\n' + sumSgCode + fwdBody;
const gradSgCode = 'enable subgroups;\n' + sumSgCode + gradBody;

type Family = 'rows' | 'workgroup' | 'subgroup';

function family(rt: Runtime, D: number): Family {
  const v = normKernels.variant;
  if (v === 'subgroup' && !rt.hasSubgroups) {
    throw new Error("normKernels.variant 'subgroup' needs an adapter with the 'subgroups' feature; this one has none");
  }
  if (v !== 'auto') return v;
  if (rt.info.software || D <= normKernels.maxRowThreadD) return 'rows';
  return rt.hasSubgroups ? 'subgroup' : 'workgroup';
}

/** Kernel name suffix, code and grid of a row reduction in a family. */
function pick(fam: Family, rows: number, codes: { rows: string; workgroup: string; subgroup?: string }) {
  if (fam === 'rows') return { suffix: '.rows', code: codes.rows, workgroups: grid1d(rows, 64) };
  if (fam === 'subgroup' && codes.subgroup) return { suffix: '.sg', code: codes.subgroup, workgroups: gridRows(rows) };
  return { suffix: '', code: codes.workgroup, workgroups: gridRows(rows) };
}

function checkParam(op: string, arg: string, p: Tensor, D: number, x: Tensor): void {
  assertDType(op, arg, p, 'f32');
  if (p.rank !== 1 || p.shape[0] !== D) {
    throw new RangeError(`${op}: ${arg} ${shapeStr(p.shape)} must be [${D}] to match x ${shapeStr(x.shape)}`);
  }
}

/** Sum over rows of g * xhat, [D]. */
function weightGrad(x: Tensor, stats: Tensor, g: Tensor, rows: number, D: number): Tensor {
  const chunks = Math.ceil(rows / WGRAD_ROWS);
  const part = new Tensor(x.rt, [chunks, D], 'f32');
  x.rt.dispatch({
    kernel: 'norm.wgrad',
    code: wgradCode,
    constants: { ROWS: WGRAD_ROWS },
    buffers: [x.buffer, stats.buffer, g.buffer, part.buffer],
    uniform: uniform(rows, D),
    workgroups: [Math.ceil(D / 64), chunks],
  });
  if (chunks === 1) return part.reshape([D]);
  const dw = sumTo(part, [D]);
  part.dispose();
  return dw;
}

function normalize(op: 'rmsnorm' | 'layernorm', x: Tensor, w: Tensor, b: Tensor | null, eps: number): Tensor {
  assertDType(op, 'x', x, 'f32');
  assertRank(op, 'x', x, 1);
  const { rows, cols: D } = rowsOf(x);
  checkParam(op, 'weight', w, D, x);
  if (b) checkParam(op, 'bias', b, D, x);
  const layer = op === 'layernorm';
  const y = new Tensor(x.rt, x.shape, 'f32');
  const stats = new Tensor(x.rt, [rows, 2], 'f32');
  const fam = family(x.rt, D);
  if (rows > 0) {
    const k = pick(fam, rows, { rows: fwdRowsCode, workgroup: fwdCode, subgroup: fwdSgCode });
    x.rt.dispatch({
      kernel: 'norm.fwd' + k.suffix,
      code: k.code,
      constants: { LAYER: layer ? 1 : 0 },
      // RMSNorm binds the weight again where the bias goes; LAYER=false never reads it.
      buffers: [x.buffer, w.buffer, (b ?? w).buffer, y.buffer, stats.buffer],
      uniform: uniform(rows, D, f32(eps)),
      workgroups: k.workgroups,
    });
  }
  const inputs = b ? [x, w, b] : [x, w];
  return record(op, y, inputs, (g) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = new Tensor(x.rt, x.shape, 'f32');
      if (rows > 0) {
        const k = pick(fam, rows, { rows: gradRowsCode, workgroup: gradCode, subgroup: gradSgCode });
        x.rt.dispatch({
          kernel: 'norm.grad' + k.suffix,
          code: k.code,
          constants: { LAYER: layer ? 1 : 0 },
          buffers: [x.buffer, w.buffer, stats.buffer, g.buffer, dx.buffer],
          uniform: uniform(rows, D),
          workgroups: k.workgroups,
        });
      }
    }
    const dw = w.requiresGrad ? weightGrad(x, stats, g, rows, D) : null;
    const db = b?.requiresGrad ? sumTo(g, [D]) : null;
    return b ? [dx, dw, db] : [dx, dw];
  });
}

/** x * rsqrt(mean(x^2) + eps) * weight over the last axis. */
export function rmsnorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  return normalize('rmsnorm', x, weight, null, eps);
}

/** (x - mean) * rsqrt(var + eps) * weight + bias over the last axis (biased variance). */
export function layernorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  return normalize('layernorm', x, weight, bias, eps);
}

/** x / max(||x||_2, eps) for each row (last axis), as F.normalize does. */
export function l2normalize(x: Tensor, eps = 1e-12): Tensor {
  assertDType('l2normalize', 'x', x, 'f32');
  assertRank('l2normalize', 'x', x, 1);
  const { rows, cols: D } = rowsOf(x);
  const y = new Tensor(x.rt, x.shape, 'f32');
  const inv = new Tensor(x.rt, [rows], 'f32');
  const fam = family(x.rt, D);
  if (rows > 0) {
    const k = pick(fam, rows, { rows: l2RowsCode, workgroup: l2Code });
    x.rt.dispatch({
      kernel: 'norm.l2' + k.suffix,
      code: k.code,
      buffers: [x.buffer, y.buffer, inv.buffer],
      uniform: uniform(rows, D, f32(eps)),
      workgroups: k.workgroups,
    });
  }
  return record('l2normalize', y, [x], (g) => {
    const dx = new Tensor(x.rt, x.shape, 'f32');
    if (rows > 0) {
      const k = pick(fam, rows, { rows: l2GradRowsCode, workgroup: l2GradCode });
      x.rt.dispatch({
        kernel: 'norm.l2_grad' + k.suffix,
        code: k.code,
        buffers: [x.buffer, inv.buffer, g.buffer, dx.buffer],
        uniform: uniform(rows, D, f32(eps)),
        workgroups: k.workgroups,
      });
    }
    return [dx];
  });
}
