import { describe, expect, test } from 'vitest';
import type { ImageFrame } from '../../../src/data/index.ts';
import { Role } from '../../../src/engine/roles.ts';
import { fillPatchFeatures, patchFeatureWidth, patchesPerImage, slotFeatures, writePatchFeatures } from '../../../src/train/vision.ts';
import { buildBatch } from '../../../src/model/batch.ts';
import { makeFixture } from '../model/batch.dataset.ts';

/** A 4x4 RGB image whose byte at (y, x, c) is 16 * (4y + x) + c. */
function ramp(): ImageFrame {
  const data = new Uint8Array(48);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) data[(y * 4 + x) * 3 + c] = 16 * (4 * y + x) + c;
  return { width: 4, height: 4, channels: 3, data };
}
const px = (y: number, x: number, c: number) => (16 * (4 * y + x) + c) / 127.5 - 1;

describe('vision patch features', () => {
  const v = { imageSize: 4, patchSize: 2, cameras: 2 };

  test('F = P*P*3 + cameras; patches row-major; pixels (y, x, c) in [-1, 1]; camera one-hot last', () => {
    expect(patchFeatureWidth(v)).toBe(14);
    expect(patchesPerImage(v)).toBe(4);
    const out = new Float32Array(4 * 14);
    writePatchFeatures(ramp(), 1, v, out, 0);
    // Patch 1 is the top-right 2x2 block: pixels (0,2), (0,3), (1,2), (1,3).
    const p1 = Array.from(out.subarray(14, 28));
    const want = [
      ...[0, 1, 2].map((c) => px(0, 2, c)),
      ...[0, 1, 2].map((c) => px(0, 3, c)),
      ...[0, 1, 2].map((c) => px(1, 2, c)),
      ...[0, 1, 2].map((c) => px(1, 3, c)),
      0,
      1,
    ];
    p1.forEach((x, i) => expect(x).toBeCloseTo(want[i], 6));
    // Extremes map to exactly -1 and 1.
    const white: ImageFrame = { width: 2, height: 2, channels: 1, data: new Uint8Array([0, 255, 255, 0]) };
    const o = new Float32Array(1 * (12 + 1));
    writePatchFeatures(white, 0, { imageSize: 2, patchSize: 2, cameras: 1 }, o, 0);
    expect(Array.from(o)).toEqual([-1, -1, -1, 1, 1, 1, 1, 1, 1, -1, -1, -1, 1]);
  });

  test('positions append a one-hot patch index after the camera id; the pixels and camera id are unchanged', () => {
    const vp = { ...v, positions: true };
    expect(patchFeatureWidth(vp)).toBe(14 + 4);
    const plain = new Float32Array(4 * 14);
    const withPos = new Float32Array(4 * 18).fill(7); // stale values must be overwritten
    writePatchFeatures(ramp(), 1, v, plain, 0);
    writePatchFeatures(ramp(), 1, vp, withPos, 0);
    for (let p = 0; p < 4; p++) {
      expect(Array.from(withPos.subarray(p * 18, p * 18 + 14))).toEqual(Array.from(plain.subarray(p * 14, p * 14 + 14)));
      const onehot = Array.from(withPos.subarray(p * 18 + 14, p * 18 + 18));
      expect(onehot).toEqual([0, 1, 2, 3].map((q) => (q === p ? 1 : 0)));
    }
    // Same patch index in both cameras: the position embedding is shared, the camera one-hot tells them apart.
    const both = slotFeatures([ramp(), ramp()], 1, vp);
    for (let p = 0; p < 4; p++) {
      expect(Array.from(both.subarray((4 + p) * 18 + 14, (4 + p) * 18 + 18))).toEqual(Array.from(both.subarray(p * 18 + 14, p * 18 + 18)));
      expect(both[(4 + p) * 18 + 13]).toBe(1);
      expect(both[p * 18 + 12]).toBe(1);
    }
  });

  test('a frame of another size is resampled (nearest) to imageSize', () => {
    // 8x8 image made of 2x2 blocks of the ramp: resampled to 4x4 it is the ramp again.
    const r = ramp();
    const big = new Uint8Array(8 * 8 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) for (let c = 0; c < 3; c++) big[(y * 8 + x) * 3 + c] = r.data[((y >> 1) * 4 + (x >> 1)) * 3 + c];
    const a = slotFeatures([r, r], 1, v);
    const b = slotFeatures([{ width: 8, height: 8, channels: 3, data: big }, r], 1, v);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  test('errors name the problem', () => {
    expect(() => slotFeatures([ramp()], 1, v)).toThrow(/1 images for 1 samples x 2 cameras/);
    expect(() => slotFeatures([ramp(), ramp()], 1, { imageSize: 4, patchSize: 3, cameras: 2 })).toThrow(/patchSize \(3\) must divide vision.imageSize \(4\)/);
    expect(() => writePatchFeatures({ width: 4, height: 4, channels: 3, data: new Uint8Array(5) }, 0, v, new Float32Array(56), 0)).toThrow(/5 bytes for 4x4x3/);
  });

  test('fillPatchFeatures puts each sample camera patches at its <|image|> slots, zero elsewhere', async () => {
    const { index, bundle } = await makeFixture();
    const spec = { imageSize: 4, patchSize: 2, cameras: 1 };
    const samples = [index.sample(0), index.sample(20)];
    const batch = buildBatch(samples, bundle, { maxTokens: 256, tile: 32, gamma: 0.99, imagePatches: [4] });
    const img = (k: number): ImageFrame => ({ ...ramp(), data: ramp().data.map((b) => (b + 40 * k) % 256) });
    fillPatchFeatures(batch, [img(0), img(1)], spec);
    const F = patchFeatureWidth(spec);
    const pf = batch.patchFeatures!;
    expect(pf.length).toBe(batch.n * F);
    const per = slotFeatures([img(0), img(1)], 2, spec);
    batch.imageSlots.forEach((row, s) => {
      expect(batch.roles[row]).toBe(Role.VISION_STATE);
      expect(Array.from(pf.subarray(row * F, row * F + F))).toEqual(Array.from(per.subarray(s * F, s * F + F)));
    });
    const slots = new Set(batch.imageSlots);
    for (let i = 0; i < batch.n; i++) if (!slots.has(i)) expect(pf.subarray(i * F, i * F + F).every((x) => x === 0)).toBe(true);
    expect(() => fillPatchFeatures(batch, [img(0), img(1)], { imageSize: 4, patchSize: 1, cameras: 1 })).toThrow(/imagePatches \[4\]/);
  });
});
