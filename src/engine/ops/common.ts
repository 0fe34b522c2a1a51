/**
 * Small helpers shared by the op families: argument checks that name the op and the
 * argument, output allocation, and packing of uniform structs (u32/i32/f32 words).
 */
import { Tensor, shapeStr, type DType } from '../tensor';
import { grid1d } from '../autograd';

export { grid1d };

/** A tagged number so uniform() knows to write it as f32 / i32 rather than u32. */
export interface Word {
  kind: 'f32' | 'i32';
  value: number;
}
export const f32 = (value: number): Word => ({ kind: 'f32', value });
export const i32 = (value: number): Word => ({ kind: 'i32', value });

/** Packs words into a uniform buffer image (padded to 16 bytes as WGSL structs require). */
export function uniform(...words: (number | Word)[]): Uint32Array {
  const n = Math.max(4, Math.ceil(words.length / 4) * 4);
  const buf = new ArrayBuffer(n * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  const s = new Int32Array(buf);
  words.forEach((w, k) => {
    if (typeof w === 'number') {
      if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new RangeError(`uniform word ${k}: ${w} is not a u32`);
      u[k] = w;
    } else if (w.kind === 'f32') f[k] = w.value;
    else s[k] = w.value;
  });
  return u;
}

export function assertDType(op: string, arg: string, t: Tensor, dtype: DType): void {
  t.assertLive(op);
  if (t.dtype !== dtype) throw new TypeError(`${op}: ${arg} must be ${dtype}, got ${t.dtype} ${shapeStr(t.shape)}`);
}

export function assertRank(op: string, arg: string, t: Tensor, min: number, max = Infinity): void {
  if (t.rank < min || t.rank > max) {
    const want = max === min ? `${min}` : max === Infinity ? `>= ${min}` : `${min}..${max}`;
    throw new RangeError(`${op}: ${arg} must have rank ${want}, got ${shapeStr(t.shape)}`);
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

export function assertSameShape(op: string, names: [string, string], a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new RangeError(`${op}: ${names[0]} ${shapeStr(a.shape)} and ${names[1]} ${shapeStr(b.shape)} must have the same shape`);
  }
}

/** A fresh f32 (default) tensor on the same runtime as `like`. */
export function empty(like: Tensor, shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return new Tensor(like.rt, shape, dtype);
}

/** Rows and row length of a tensor viewed as [rows, last]. */
export function rowsOf(t: Tensor): { rows: number; cols: number } {
  const cols = t.rank === 0 ? 1 : t.shape[t.rank - 1];
  return { rows: cols === 0 ? 0 : t.size / cols, cols };
}

/** Workgroups for one workgroup per row, split over x/y to respect the 65535 limit. */
export function gridRows(rows: number): [number, number] {
  return grid1d(rows, 1);
}

/**
 * Drops size-1 dimensions and merges neighbours that every operand walks the same way
 * (both contiguous or both broadcast), so kernels index in as few dimensions as possible.
 */
export function collapseDims(shape: readonly number[], strides: number[][]): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k][last] === s[i] * shape[i])) {
      dims[last] *= shape[i];
      strides.forEach((s, k) => (st[k][last] = s[i]));
    } else {
      dims.push(shape[i]);
      strides.forEach((s, k) => st[k].push(s[i]));
    }
  }
  if (!dims.length) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: dims, strides: st };
}

/** Packs up to 8 dims as array<vec4u, 2> words. */
export function dims8(op: string, values: readonly number[]): number[] {
  if (values.length > 8) throw new RangeError(`${op}: more than 8 non-mergeable dimensions (${shapeStr(values)})`);
  const w = new Array<number>(8).fill(0);
  values.forEach((v, i) => (w[i] = v));
  return w;
}
