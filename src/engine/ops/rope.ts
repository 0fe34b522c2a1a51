/**
 * Rotary position embedding (rotate-half convention, as in GPT-NeoX / Llama) on
 * activations [..., H, D] with one explicit int32 position per token: PRTS packs several
 * documents per sequence and restarts positions inside them (the CRL goal block starts
 * again at 0), so positions cannot be implied by the row index.
 *
 * The cos/sin values come from a per-runtime table computed in float64 (see
 * shaders/rope.wgsl for why); it covers 4096 positions and grows to cover the largest
 * position of any Int32Array passed in.
 */
import code from '../../../shaders/rope.wgsl?raw';
import { record } from '../autograd';
import type { Runtime } from '../runtime';
import { Scope, Tensor, fromArray, shapeStr } from '../tensor';
import { assertDType, assertRank, f32, grid1d, uniform } from './common';

export interface RopeOptions {
  /** Frequency base; 10000 unless the model config says otherwise. */
  base?: number;
}

const MIN_TABLE = 4096;
const tables = new WeakMap<Runtime, Map<string, Tensor>>();

/** The (cos, sin) table for head size D and `base`, covering at least `len` positions. */
function ropeTable(rt: Runtime, D: number, base: number, len: number): Tensor {
  let perRt = tables.get(rt);
  if (!perRt) tables.set(rt, (perRt = new Map()));
  const key = `${D}|${base}`;
  const have = perRt.get(key);
  if (have && have.shape[0] >= len) return have;
  const rows = Math.max(MIN_TABLE, 2 ** Math.ceil(Math.log2(Math.max(len, 1))));
  const half = D / 2;
  const data = new Float32Array(rows * half * 2);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.pow(base, (-2 * i) / D);
    for (let t = 0; t < rows; t++) {
      data[(t * half + i) * 2] = Math.cos(t * invFreq);
      data[(t * half + i) * 2 + 1] = Math.sin(t * invFreq);
    }
  }
  const table = fromArray(rt, data, [rows, half, 2]);
  // A cache shared by every step: it must outlive the scope that first needed it.
  Scope.current?.untrack(table);
  // A superseded table is not freed: a backward recorded before the growth may still
  // read it. Sizes double, so all superseded tables together are smaller than this one.
  perRt.set(key, table);
  return table;
}

function rotate(x: Tensor, pos: Tensor, table: Tensor, H: number, D: number, base: number, inverse: boolean): Tensor {
  const y = new Tensor(x.rt, x.shape, 'f32');
  const pairs = x.size / 2;
  x.rt.dispatch({
    kernel: 'rope',
    code,
    constants: { INVERSE: inverse ? 1 : 0 },
    buffers: [x.buffer, pos.buffer, table.buffer, y.buffer],
    uniform: uniform(pairs, H, D, f32(Math.log2(base)), table.shape[0]),
    workgroups: grid1d(pairs),
  });
  return y;
}

/**
 * Rotates x [..., H, D] (D even); `positions` (int32, a tensor or an Int32Array) holds
 * one position per token, i.e. as many entries as x has rows of H heads.
 */
export function rope(x: Tensor, positions: Tensor | Int32Array, opts: RopeOptions = {}): Tensor {
  const base = opts.base ?? 10000;
  assertDType('rope', 'x', x, 'f32');
  assertRank('rope', 'x', x, 2);
  if (!(base > 1)) throw new RangeError(`rope: base ${base} must be > 1`);
  const D = x.shape[x.rank - 1];
  const H = x.shape[x.rank - 2];
  if (D % 2 !== 0) throw new RangeError(`rope: head dimension ${D} of x ${shapeStr(x.shape)} must be even`);
  const tokens = H * D === 0 ? 0 : x.size / (H * D);
  let maxPos = 0;
  if (!(positions instanceof Tensor)) for (const p of positions) maxPos = Math.max(maxPos, p);
  const pos = positions instanceof Tensor ? positions : fromArray(x.rt, positions, [positions.length], 'i32');
  assertDType('rope', 'positions', pos, 'i32');
  if (pos.size !== tokens) {
    throw new RangeError(`rope: positions ${shapeStr(pos.shape)} must hold ${tokens} entries, one per token of x ${shapeStr(x.shape)}`);
  }
  const table = ropeTable(x.rt, D, base, maxPos + 1);
  const y = rotate(x, pos, table, H, D, base, false);
  return record('rope', y, [x], (g) => [rotate(g, pos, table, H, D, base, true)]);
}
