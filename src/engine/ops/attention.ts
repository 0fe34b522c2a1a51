/**
 * Role-aware block-sparse attention (DESIGN.md 3) as an autograd op, plus the raw
 * forward and backward passes for benchmarks. q, k, v, o are [T, H, D] (T packed
 * tokens, D = 32 or 64); the block map (uploaded once per batch) carries the per-token
 * doc/role ids, the rule and the tile lists. A map from denseBlockMap runs the very same
 * kernels over every tile with the per-element rule: the dense reference path.
 */
import common from '../../../shaders/attention_common.wgsl?raw';
import fwdSrc from '../../../shaders/attention_fwd.wgsl?raw';
import deltaSrc from '../../../shaders/attention_bwd_delta.wgsl?raw';
import dqSrc from '../../../shaders/attention_bwd_dq.wgsl?raw';
import dkdvSrc from '../../../shaders/attention_bwd_dkdv.wgsl?raw';
import { record } from '../autograd';
import type { GpuBlockMap, GpuListLayout } from '../blockmap';
import { Tensor, shapeStr } from '../tensor';

const FWD = common + fwdSrc;
const DELTA = common + deltaSrc;
const DQ = common + dqSrc;
const DKDV = common + dkdvSrc;

export const SUPPORTED_HEAD_DIMS: readonly number[] = [32, 64];

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
    kernel: 'attention.fwd',
    code: FWD,
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
    kernel: 'attention.bwd.dq',
    code: DQ,
    constants: constants(map, dims),
    buffers: [q.buffer, k.buffer, v.buffer, dO.buffer, stats.buffer, map.buffer, dq.buffer],
    uniform: params(map, dims, map.layout.byQuery),
    workgroups: [map.map.numTiles, dims.heads],
  });
  rt.dispatch({
    kernel: 'attention.bwd.dkdv',
    code: DKDV,
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
