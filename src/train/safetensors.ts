/**
 * Checkpoint tensor files (moved here from src/ui/lib: src/train owns checkpoints and the
 * UI imports it from this layer).
 *
 * safetensors (https://github.com/huggingface/safetensors) for f32 tensors:
 *   8 bytes  little-endian u64 N, the header length
 *   N bytes  UTF-8 JSON: { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: { str: str } }
 *            padded with spaces to a multiple of 8 so the data is aligned
 *   rest     raw little-endian tensor bytes; offsets are relative to the end of the header
 * Tensors are written in name order (as the reference implementation does), so the same
 * weights always give the same file.
 */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A tensor of any dtype the workbench exchanges: F32 parameters, I32 token ids and indices, U8 roles and masks (the PyTorch twin's batch shards). */
export interface TypedTensor {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

function dtypeOf(data: TypedTensor['data']): 'F32' | 'I32' | 'U8' {
  return data instanceof Float32Array ? 'F32' : data instanceof Int32Array ? 'I32' : 'U8';
}

export interface SafetensorsFile {
  tensors: NamedTensor[];
  metadata: Record<string, string>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeSafetensors(tensors: readonly TypedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const t of sorted) {
    if (seen.has(t.name)) throw new Error(`safetensors: duplicate tensor name "${t.name}"`);
    if (t.name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved');
    seen.add(t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: tensor "${t.name}" has shape [${t.shape}] (${n} values) but ${t.data.length} values`);
    header[t.name] = { dtype: dtypeOf(t.data), shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const t of sorted) {
    if (LITTLE_ENDIAN || t.data instanceof Uint8Array) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else if (t.data instanceof Int32Array) {
      for (let i = 0; i < t.data.length; i++) dv.setInt32(pos + 4 * i, t.data[i], true);
    } else {
      for (let i = 0; i < t.data.length; i++) dv.setFloat32(pos + 4 * i, t.data[i], true);
    }
    pos += t.data.byteLength;
  }
  return out;
}

/** The 8-byte length, the JSON header and where the data starts; shared by both readers. */
function readHeader(bytes: Uint8Array): { dv: DataView; header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) throw new Error('safetensors: file shorter than the 8-byte header length');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8 || n > 100_000_000) throw new Error(`safetensors: header length ${n} exceeds the file (${bytes.length} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`safetensors: header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  return { dv, header, dataStart };
}

/** Reads F32 tensors (F16/BF16/F64 are widened to f32); other dtypes are rejected by name. */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  const { dv, header, dataStart } = readHeader(bytes);
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: NamedTensor[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!info || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) throw new Error(`safetensors: tensor "${name}" lacks shape or data_offsets`);
    const [b, e] = info.data_offsets;
    const count = info.shape.reduce((a, c) => a * c, 1);
    if (!(b >= 0 && e >= b && dataStart + e <= bytes.length)) throw new Error(`safetensors: tensor "${name}" offsets [${b}, ${e}] fall outside the file`);
    const width = info.dtype === 'F32' ? 4 : info.dtype === 'F16' || info.dtype === 'BF16' ? 2 : info.dtype === 'F64' ? 8 : 0;
    if (!width) throw new Error(`safetensors: tensor "${name}" has dtype ${info.dtype}; only F32, F16, BF16, F64 are read`);
    if (e - b !== count * width) throw new Error(`safetensors: tensor "${name}" has ${e - b} bytes, shape [${info.shape}] needs ${count * width}`);
    const data = new Float32Array(count);
    const base = dataStart + b;
    for (let i = 0; i < count; i++) {
      const o = base + i * width;
      if (width === 4) data[i] = dv.getFloat32(o, true);
      else if (width === 8) data[i] = dv.getFloat64(o, true);
      else if (info.dtype === 'BF16') data[i] = bf16(dv.getUint16(o, true));
      else data[i] = f16(dv.getUint16(o, true));
    }
    tensors.push({ name, shape: info.shape, data });
  }
  return { tensors, metadata };
}

const scratch = new DataView(new ArrayBuffer(4));
function bf16(h: number): number {
  scratch.setUint32(0, h << 16);
  return scratch.getFloat32(0);
}
function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/** Reads F32, I32 and U8 tensors as their own typed arrays (batch shards); other dtypes are rejected by name. */
export function decodeSafetensorsTyped(bytes: Uint8Array): { tensors: TypedTensor[]; metadata: Record<string, string> } {
  const { dv, header, dataStart } = readHeader(bytes);
  const tensors: TypedTensor[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!info || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) throw new Error(`safetensors: tensor "${name}" lacks shape or data_offsets`);
    const [b, e] = info.data_offsets;
    const count = info.shape.reduce((a, c) => a * c, 1);
    const width = info.dtype === 'F32' || info.dtype === 'I32' ? 4 : info.dtype === 'U8' ? 1 : 0;
    if (!width) throw new Error(`safetensors: tensor "${name}" has dtype ${info.dtype}; only F32, I32 and U8 are read here`);
    if (!(b >= 0 && e >= b && dataStart + e <= bytes.length)) throw new Error(`safetensors: tensor "${name}" offsets [${b}, ${e}] fall outside the file`);
    if (e - b !== count * width) throw new Error(`safetensors: tensor "${name}" has ${e - b} bytes, shape [${info.shape}] needs ${count * width}`);
    const base = dataStart + b;
    let data: TypedTensor['data'];
    if (info.dtype === 'U8') data = bytes.slice(base, base + count);
    else if (info.dtype === 'I32') {
      data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = dv.getInt32(base + 4 * i, true);
    } else {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = dv.getFloat32(base + 4 * i, true);
    }
    tensors.push({ name, shape: info.shape, data });
  }
  return { tensors, metadata: (header.__metadata__ ?? {}) as Record<string, string> };
}
