/**
 * Role-aware block-sparse attention (DESIGN.md 3) as an autograd op, plus the raw
 * forward and backward passes for benchmarks. q, k, v, o are [T, H, D] (T packed
 * tokens, D = 32 or 64); the block map (uploaded once per batch) carries the per-token
 * doc/role ids, the rule and the tile lists. A map from denseBlockMap runs the very same
 * kernels over every tile with the per-element rule: the dense reference path.
 *
 * Two kernel families with the same semantics and bindings (attentionKernels): 'tiled'
 * stages K/V (or Q/dO) tiles in workgroup memory behind barriers, which is what a GPU
 * wants; 'direct' has no workgroup memory and no barriers, each invocation owning a few
 * query rows (forward, dQ) or key rows (dK/dV) and reading the other side straight from
 * the storage buffers, which is what SwiftShader wants.
 */
import common from '../../../shaders/attention_common.wgsl?raw';
import fwdSrc from '../../../shaders/attention_fwd.wgsl?raw';
import deltaSrc from '../../../shaders/attention_bwd_delta.wgsl?raw';
import dqSrc from '../../../shaders/attention_bwd_dq.wgsl?raw';
import dkdvSrc from '../../../shaders/attention_bwd_dkdv.wgsl?raw';
import fwdDirectSrc from '../../../shaders/attention_fwd_direct.wgsl?raw';
import dqDirectSrc from '../../../shaders/attention_bwd_dq_direct.wgsl?raw';
import dkdvDirectSrc from '../../../shaders/attention_bwd_dkdv_direct.wgsl?raw';
import directCommon from '../../../shaders/attention_direct.wgsl?raw';
import { record } from '../autograd';
import type { GpuBlockMap, GpuListLayout } from '../blockmap';
import type { Runtime } from '../runtime';
import { Tensor, shapeStr } from '../tensor';
import { unroll } from './unroll';

const FWD = common + fwdSrc;
const DELTA = common + deltaSrc;
const DQ = common + dqSrc;
const DKDV = common + dkdvSrc;

export const SUPPORTED_HEAD_DIMS: readonly number[] = [32, 64];

/**
 * Kernel family. 'tiled': attention_fwd / _bwd_dq / _bwd_dkdv.wgsl, one workgroup per
 * (tile, head) staging the other side's tile in workgroup memory behind barriers.
 * 'direct': the *_direct.wgsl kernels, no workgroup memory and no barriers. 'auto' picks
 * 'direct' on software adapters: SwiftShader runs a workgroup's invocations as
 * coroutines and every barrier suspends and resumes all of them, and it turns the tiled
 * kernels' loop-indexed private arrays (score rows, head-dim vectors) into per-lane
 * memory; at training sizes (tile 32, head dim 32) the three tiled kernels took ~300 ms
 * of an ~850 ms step. Tests force each family (same role as matmulKernels).
 */
export const attentionKernels: { variant: 'auto' | 'tiled' | 'direct' } = { variant: 'auto' };

function useDirect(rt: Runtime): boolean {
  const v = attentionKernels.variant;
  return v === 'direct' || (v === 'auto' && rt.info.software);
}

/**
 * Query (forward, dQ) or key (dK/dV) rows per invocation of the direct kernels, by head
 * dim. Every K/V (or Q/dO) vec4 an invocation loads serves all its rows, and on
 * SwiftShader those loads are per-lane gathers that cost far more than the arithmetic;
 * more rows mean more live registers (spilled to the stack, cheap next to a gather) and
 * more code, which SwiftShader compiles slowly. Measured on SwiftShader at training
 * shapes (~600 tokens, tile 32; fwd / dQ / dK,dV GPU ms; compile time of the three):
 * head dim 32: 2 rows 15.8 / 13.2 / 16.0 (4 s), 4 rows 8.0 / 7.9 / 9.2 (12 s), 8 rows
 * 8.3 / 9.2 / 16.6 (30 s); head dim 64: 1 row 66 / 48 / 44 (10 s), 2 rows 23 / 31 / 39
 * (16 s), 4 rows 23 / 16 / 28 (34 s). Head dim 64 is the GPU presets' width, met on a
 * software adapter mostly in tests, so it takes the cheaper compile. A divisor of every
 * tile size (32, 64).
 */
export const directRows: Record<'fwd' | 'dq' | 'dkdv', Record<number, number>> = {
  fwd: { 32: 4, 64: 2 },
  dq: { 32: 4, 64: 2 },
  dkdv: { 32: 4, 64: 2 },
};

const directSources = new Map<string, string>();
function directCode(src: string, name: string, which: 'fwd' | 'dq' | 'dkdv', headDim: number): { kernel: string; code: string } {
  const rows = directRows[which][headDim];
  // The runtime caches shader modules by kernel name, so the name carries the expansion.
  const kernel = `${name}.d${headDim}r${rows}`;
  let code = directSources.get(kernel);
  if (code === undefined) {
    // `$c`: one copy per vec4 of the head dim; `$r`: one per row of the invocation, inner,
    // so that each loaded vec4 is used by every row right after it is loaded.
    code = `${common}\n${directCommon}\nconst ROWS: u32 = ${rows}u;\n${unroll(src, { c: headDim / 4, r: rows })}`;
    directSources.set(kernel, code);
  }
  return { kernel, code };
}

/** Kernel name and source of one attention pass in the family the runtime should use. */
function pass(rt: Runtime, which: 'fwd' | 'dq' | 'dkdv', headDim: number): { kernel: string; code: string } {
  const tiled = { fwd: ['attention.fwd', FWD], dq: ['attention.bwd.dq', DQ], dkdv: ['attention.bwd.dkdv', DKDV] }[which];
  if (!useDirect(rt)) return { kernel: tiled[0], code: tiled[1] };
  const direct = { fwd: fwdDirectSrc, dq: dqDirectSrc, dkdv: dkdvDirectSrc }[which];
  return directCode(direct, `${tiled[0]}.direct`, which, headDim);
}

interface Dims {
  n: number;
  heads: number;
  headDim: number;
}

function checkInputs(op: string, map: GpuBlockMap, named: Record<string, Tensor>): Dims {
  const [first, ...rest] = Object.entries(named);
  const [name0, t0] = first;
  if (t0.rank !== 3) throw new RangeError(`${op}: ${name0} must be [T, H, D], got ${shapeStr(t0.shape)}`);
  const [n, heads, headDim] = t0.shape;
  if (!SUPPORTED_HEAD_DIMS.includes(headDim)) {
    throw new RangeError(`${op}: head dim ${headDim} of ${name0} is not supported (use ${SUPPORTED_HEAD_DIMS.join(' or ')})`);
  }
  if (n !== map.map.n) throw new RangeError(`${op}: ${name0} has ${n} tokens, the block map was built for ${map.map.n}`);
  for (const [name, t] of [first, ...rest]) {
    t.assertLive(op);
    if (t.dtype !== 'f32') throw new TypeError(`${op}: ${name} must be f32, got ${t.dtype}`);
    if (t.shape.join() !== t0.shape.join()) {
      throw new RangeError(`${op}: ${name} is ${shapeStr(t.shape)}, ${name0} is ${shapeStr(t0.shape)}; they must match`);
    }
  }
  return { n, heads, headDim };
}

function params(map: GpuBlockMap, dims: Dims, lists: GpuListLayout | null): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  const u = new Uint32Array(buf);
  u[0] = dims.n;
  u[1] = dims.heads;
  u[2] = map.ruleBits;
  u[3] = map.layout.tokens;
  u[4] = lists?.offsets ?? 0;
  u[5] = lists?.fullCount ?? 0;
  u[6] = lists?.indices ?? 0;
  new Float32Array(buf)[7] = 1 / Math.sqrt(dims.headDim);
  return buf;
}

function constants(map: GpuBlockMap, dims: Dims): Record<string, number> {
  return { TILE: map.map.tile, HEAD_DIM: dims.headDim };
}

export interface AttentionForwardResult {
  /** [T, H, D] */
  o: Tensor;
  /** [H, T], natural-log row logsumexp of the scaled scores. */
  lse: Tensor;
}

/** Forward pass only (no autograd record). */
export function attentionForward(q: Tensor, k: Tensor, v: Tensor, map: GpuBlockMap): AttentionForwardResult {
  const dims = checkInputs('attentionForward', map, { q, k, v });
  const rt = q.rt;
  const o = new Tensor(rt, q.shape, 'f32');
  const lse = new Tensor(rt, [dims.heads, dims.n], 'f32');
  rt.dispatch({
    ...pass(rt, 'fwd', dims.headDim),
    constants: constants(map, dims),
    buffers: [q.buffer, k.buffer, v.buffer, map.buffer, o.buffer, lse.buffer],
    uniform: params(map, dims, map.layout.byQuery),
    workgroups: [map.map.numTiles, dims.heads],
  });
  return { o, lse };
}

export interface AttentionGrads {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

/** Backward pass: Delta = rowsum(dO * O), then dQ over the q-tile lists and dK/dV over
 * the transposed lists. Every output row has exactly one writer. */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  dO: Tensor,
  map: GpuBlockMap,
): AttentionGrads {
  const dims = checkInputs('attentionBackward', map, { q, k, v, o, dO });
  if (lse.size !== dims.heads * dims.n) {
    throw new RangeError(`attentionBackward: lse is ${shapeStr(lse.shape)}, expected [${dims.heads}, ${dims.n}]`);
  }
  const rt = q.rt;
  const stats = new Tensor(rt, [dims.heads, dims.n, 2], 'f32');
  const rowsTotal = dims.n * dims.heads;
  rt.dispatch({
    kernel: 'attention.bwd.delta',
    code: DELTA,
    constants: { HEAD_DIM: dims.headDim },
    buffers: [o.buffer, dO.buffer, lse.buffer, stats.buffer],
    uniform: params(map, dims, null),
    workgroups: [Math.ceil(rowsTotal / 64)],
  });
  const dq = new Tensor(rt, q.shape, 'f32');
  const dk = new Tensor(rt, q.shape, 'f32');
  const dv = new Tensor(rt, q.shape, 'f32');
  rt.dispatch({
    ...pass(rt, 'dq', dims.headDim),
    constants: constants(map, dims),
    buffers: [q.buffer, k.buffer, v.buffer, dO.buffer, stats.buffer, map.buffer, dq.buffer],
    uniform: params(map, dims, map.layout.byQuery),
    workgroups: [map.map.numTiles, dims.heads],
  });
  rt.dispatch({
    ...pass(rt, 'dkdv', dims.headDim),
    constants: constants(map, dims),
    buffers: [q.buffer, k.buffer, v.buffer, dO.buffer, stats.buffer, map.buffer, dk.buffer, dv.buffer],
    uniform: params(map, dims, map.layout.byKey),
    workgroups: [map.map.numTiles, dims.heads],
  });
  stats.dispose();
  return { dq, dk, dv };
}

/**
 * Multi-head attention under the block map's rule, differentiable in q, k and v.
 * The logsumexp stays with the recorded node for the backward pass and is freed with
 * the scope that made it, like any saved activation.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, map: GpuBlockMap): Tensor {
  const { o, lse } = attentionForward(q, k, v, map);
  return record('attention', o, [q, k, v], (g) => {
    const { dq, dk, dv } = attentionBackward(q, k, v, o, lse, g, map);
    return [dq, dk, dv];
  });
}
