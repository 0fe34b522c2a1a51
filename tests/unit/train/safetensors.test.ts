import { describe, expect, test } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../../src/train/safetensors.ts';

describe('safetensors', () => {
  test('round trip with metadata; tensors sorted by name; header padded to 8 bytes', () => {
    const a = { name: 'b.weight', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) };
    const b = { name: 'a.bias', shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) };
    const bytes = encodeSafetensors([a, b], { step: '12' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({
      __metadata__: { step: '12' },
      'a.bias': { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
      'b.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [12, 36] },
    });
    expect(bytes.length).toBe(8 + n + 36);
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ step: '12' });
    expect(back.tensors.map((t) => t.name)).toEqual(['a.bias', 'b.weight']);
    expect([...back.tensors[1].data]).toEqual([...a.data]);
    expect(back.tensors[0].data).toEqual(b.data);
  });

  test('bytes are little-endian f32 (a file written by the Python library reads the same)', () => {
    // safetensors.torch.save_file({"x": torch.tensor([1.0, -2.0])}) writes exactly this.
    const header = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const hb = new TextEncoder().encode(header.padEnd(Math.ceil(header.length / 8) * 8, ' '));
    const file = new Uint8Array(8 + hb.length + 8);
    new DataView(file.buffer).setBigUint64(0, BigInt(hb.length), true);
    file.set(hb, 8);
    new DataView(file.buffer).setFloat32(8 + hb.length, 1, true);
    new DataView(file.buffer).setFloat32(8 + hb.length + 4, -2, true);
    expect([...decodeSafetensors(file).tensors[0].data]).toEqual([1, -2]);
    expect(encodeSafetensors([{ name: 'x', shape: [2], data: Float32Array.from([1, -2]) }])).toEqual(file);
  });

  test('F16 and BF16 are widened', () => {
    const header = '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}';
    const hb = new TextEncoder().encode(header.padEnd(Math.ceil(header.length / 8) * 8, ' '));
    const file = new Uint8Array(8 + hb.length + 6);
    const dv = new DataView(file.buffer);
    dv.setBigUint64(0, BigInt(hb.length), true);
    file.set(hb, 8);
    dv.setUint16(8 + hb.length, 0x3c00, true); // 1.0
    dv.setUint16(8 + hb.length + 2, 0xc000, true); // -2.0
    dv.setUint16(8 + hb.length + 4, 0x4040, true); // bf16 3.0
    const t = decodeSafetensors(file).tensors;
    expect([...t.find((x) => x.name === 'h')!.data]).toEqual([1, -2]);
    expect([...t.find((x) => x.name === 'b')!.data]).toEqual([3]);
  });

  test('errors name the tensor and the problem', () => {
    expect(() => encodeSafetensors([{ name: 'w', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/"w" has shape \[2,2\] \(4 values\) but 3 values/);
    expect(() => encodeSafetensors([{ name: 'w', shape: [1], data: new Float32Array(1) }, { name: 'w', shape: [1], data: new Float32Array(1) }])).toThrow(/duplicate tensor name "w"/);
    expect(() => decodeSafetensors(new Uint8Array(4))).toThrow(/shorter than/);
    const ok = encodeSafetensors([{ name: 'w', shape: [4], data: new Float32Array(4) }]);
    expect(() => decodeSafetensors(ok.subarray(0, ok.length - 4))).toThrow(/"w" offsets \[0, 16\] fall outside the file/);
    const i8 = '{"q":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}';
    const hb = new TextEncoder().encode(i8.padEnd(56, ' '));
    const f = new Uint8Array(8 + hb.length + 1);
    new DataView(f.buffer).setBigUint64(0, BigInt(hb.length), true);
    f.set(hb, 8);
    expect(() => decodeSafetensors(f)).toThrow(/"q" has dtype I8/);
  });
});
