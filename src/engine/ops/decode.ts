/**
 * Attention against a KV cache, for autoregressive decoding: each step feeds only the
 * new token(s) of every row and attends over the keys and values the row's earlier
 * tokens left in the cache, instead of re-running attention over the whole sequence.
 *
 * Inference only: there is no backward (nothing is recorded on the autograd tape, and
 * writeKv updates the cache in place, which a tape could not replay). Training uses the
 * block-sparse op in attention.ts.
 *
 * Layout: a cache is [C, L, H, D] (C rows of L token slots, D = 32 or 64); queries are
 * [R, S, H, D], S new tokens for each of R rows, and rows[r] names the cache row that
 * query row r reads, so a batch can drop finished rows without moving the cache. The
 * S queries of a row are its last S tokens: query s sees the row's keys
 * [0, lens[r] - S + s] (causal; the S new keys must be written first).
 * shaders/attention_decode.wgsl documents the kernel; reference/decode.ts is its float64
 * reference.
 */
import decodeSrc from '../../../shaders/attention_decode.wgsl?raw';
import kvSrc from '../../../shaders/attention_decode_kv.wgsl?raw';
import { Tensor, fromArray, shapeStr } from '../tensor';
import { SUPPORTED_HEAD_DIMS } from './attention';
import { assertDType, f32, grid1d, uniform } from './common';

function checkCache(op: string, kCache: Tensor, vCache: Tensor): { rows: number; capacity: number; heads: number; headDim: number } {
  assertDType(op, 'kCache', kCache, 'f32');
  assertDType(op, 'vCache', vCache, 'f32');
  if (kCache.rank !== 4) throw new RangeError(`${op}: kCache must be [rows, capacity, H, D], got ${shapeStr(kCache.shape)}`);
  if (kCache.shape.join() !== vCache.shape.join()) {
    throw new RangeError(`${op}: vCache ${shapeStr(vCache.shape)} must have the shape of kCache ${shapeStr(kCache.shape)}`);
  }
  const [rows, capacity, heads, headDim] = kCache.shape;
  if (!SUPPORTED_HEAD_DIMS.includes(headDim)) {
    throw new RangeError(`${op}: head dim ${headDim} of the cache is not supported (use ${SUPPORTED_HEAD_DIMS.join(' or ')})`);
  }
  return { rows, capacity, heads, headDim };
}

/**
 * Writes token t of k, v ([T, H, D], e.g. after RoPE) into cache slot slots[t]
 * (cache row * capacity + position in the row), in place; -1 skips the token.
 */
export function writeKv(kCache: Tensor, vCache: Tensor, k: Tensor, v: Tensor, slots: Int32Array): void {
  const op = 'writeKv';
  const { rows, capacity, heads, headDim } = checkCache(op, kCache, vCache);
  assertDType(op, 'k', k, 'f32');
  assertDType(op, 'v', v, 'f32');
  if (k.rank !== 3 || k.shape[1] !== heads || k.shape[2] !== headDim) {
    throw new RangeError(`${op}: k must be [T, ${heads}, ${headDim}] like the cache, got ${shapeStr(k.shape)}`);
  }
  if (v.shape.join() !== k.shape.join()) throw new RangeError(`${op}: v ${shapeStr(v.shape)} must have the shape of k ${shapeStr(k.shape)}`);
  const T = k.shape[0];
  if (slots.length !== T) throw new RangeError(`${op}: slots has ${slots.length} entries, k has ${T} tokens`);
  const seen = new Set<number>();
  for (let t = 0; t < T; t++) {
    const s = slots[t];
    if (s === -1) continue;
    if (!(Number.isInteger(s) && s >= 0 && s < rows * capacity)) {
      throw new RangeError(`${op}: slots[${t}] = ${s} is outside the cache's ${rows} x ${capacity} slots (use -1 to skip a token)`);
    }
    if (seen.has(s)) throw new RangeError(`${op}: slot ${s} is written twice (slots[${t}])`);
    seen.add(s);
  }
  if (T === 0) return;
  const rt = k.rt;
  const slotT = fromArray(rt, slots, [T], 'i32');
  const rowVec4 = (heads * headDim) / 4;
  rt.dispatch({
    kernel: 'attention.decode.kv',
    code: kvSrc,
    buffers: [k.buffer, v.buffer, slotT.buffer, kCache.buffer, vCache.buffer],
    uniform: uniform(T * rowVec4, rowVec4),
    workgroups: grid1d(T * rowVec4),
  });
  slotT.dispose();
}

/**
 * Attention of q [R, S, H, D] over the cached keys/values of rows[r], the first lens[r]
 * slots of which are valid (the S new tokens included). Returns o [R, S, H, D].
 */
export function decodeAttention(q: Tensor, kCache: Tensor, vCache: Tensor, rows: Int32Array, lens: Int32Array): Tensor {
  const op = 'decodeAttention';
  const { rows: C, capacity, heads, headDim } = checkCache(op, kCache, vCache);
  assertDType(op, 'q', q, 'f32');
  if (q.rank !== 4 || q.shape[2] !== heads || q.shape[3] !== headDim) {
    throw new RangeError(`${op}: q must be [R, S, ${heads}, ${headDim}] like the cache, got ${shapeStr(q.shape)}`);
  }
  const [R, S] = q.shape;
  if (rows.length !== R || lens.length !== R) {
    throw new RangeError(`${op}: rows (${rows.length}) and lens (${lens.length}) need one entry per query row (${R})`);
  }
  if (S < 1) throw new RangeError(`${op}: q has no query per row (S = 0)`);
  const info = new Uint32Array(2 * R);
  for (let r = 0; r < R; r++) {
    if (!(Number.isInteger(rows[r]) && rows[r] >= 0 && rows[r] < C)) throw new RangeError(`${op}: rows[${r}] = ${rows[r]} is not a cache row (0..${C - 1})`);
    if (!(Number.isInteger(lens[r]) && lens[r] >= S && lens[r] <= capacity)) {
      throw new RangeError(`${op}: lens[${r}] = ${lens[r]} must lie in [S = ${S}, capacity = ${capacity}] (it counts the row's valid keys, its ${S} new ones included)`);
    }
    info[2 * r] = rows[r];
    info[2 * r + 1] = lens[r];
  }
  const maxWg = q.rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (R * S > maxWg) throw new RangeError(`${op}: ${R} x ${S} queries exceed the ${maxWg} workgroups of one grid dimension; decode in smaller batches`);
  const rt = q.rt;
  const o = new Tensor(rt, q.shape, 'f32');
  if (R === 0) return o;
  const infoT = fromArray(rt, info, [2 * R], 'u32');
  rt.dispatch({
    kernel: 'attention.decode',
    code: decodeSrc,
    constants: { HEAD_DIM: headDim },
    buffers: [q.buffer, kCache.buffer, vCache.buffer, infoT.buffer, o.buffer],
    uniform: uniform(S, heads, capacity, f32(1 / Math.sqrt(headDim))),
    workgroups: [R * S, heads],
  });
  infoT.dispose();
  return o;
}
