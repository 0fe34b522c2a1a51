/**
 * Input of the vision stem (issue 6, item 1): decoded camera frames -> one feature vector
 * per image patch, scattered to the <|image|> slots of a packed batch.
 *
 * Per patch: the P x P x 3 pixels of a non-overlapping patch, row-major within the
 * patch (y, x, channel), scaled from [0, 255] to [-1, 1], followed by a one-hot camera
 * id and, when `positions` is on, a one-hot patch index within its image. The backbone's
 * linear stem maps these F = P*P*3 + cameras (+ patches) features to d_model, so the
 * one-hot columns of its weight matrix are a learned per-camera embedding (and, since
 * exactly one of them is 1, they also play the role of the stem's bias) and a learned
 * absolute position embedding per patch (ViT's). Why the latter: RoPE only rotates
 * queries and keys, so without it an image token's value says what a patch shows but
 * not where, and a policy that must reach "the red block" has to recover the place
 * from attention patterns alone (docs/results.md round 5).
 * Patches are ordered row-major over the patch grid, cameras in config order: the slot
 * order of PackedBatch.imageSlots.
 *
 * Frames whose size differs from the configured imageSize are resampled
 * (nearest neighbour) to imageSize x imageSize; grey frames are replicated to RGB and an
 * alpha channel is dropped, so every camera yields the same F.
 */
import type { ImageFrame } from '../data/index.ts';
import { scatterSlots, type PackedBatch } from '../model/batch.ts';

export class VisionError extends Error {
  override name = 'VisionError';
}

export interface VisionSpec {
  /** Side of the square image the stem sees (config model.imageSize). */
  imageSize: number;
  /** Patch side P (config model.patchSize); must divide imageSize. */
  patchSize: number;
  /** Number of cameras (config model.cameras.length): width of the one-hot camera id. */
  cameras: number;
  /** Append a one-hot patch index (config model.patchPositions; default off, the older layout). */
  positions?: boolean;
}

export function checkVisionSpec(v: VisionSpec): void {
  for (const f of ['imageSize', 'patchSize', 'cameras'] as const) {
    if (!Number.isInteger(v[f]) || v[f] < 1) throw new VisionError(`vision.${f} must be a positive integer, got ${v[f]}`);
  }
  if (v.imageSize % v.patchSize !== 0) throw new VisionError(`vision.patchSize (${v.patchSize}) must divide vision.imageSize (${v.imageSize})`);
}

/** F = P*P*3 + cameras (+ patches per image with positions): the backbone's patchFeatures. */
export function patchFeatureWidth(v: VisionSpec): number {
  return v.patchSize * v.patchSize * 3 + v.cameras + (v.positions ? patchesPerImage(v) : 0);
}

/** Patches per camera image, (imageSize / patchSize)^2. */
export function patchesPerImage(v: VisionSpec): number {
  const g = v.imageSize / v.patchSize;
  return g * g;
}

/**
 * Writes the features of every patch of one frame into `out` at `offset` (patches *
 * F values). Exposed for tests and for callers that assemble their own slot order.
 */
export function writePatchFeatures(frame: ImageFrame, camera: number, v: VisionSpec, out: Float32Array, offset: number): void {
  const { imageSize: S, patchSize: P } = v;
  if (!Number.isInteger(camera) || camera < 0 || camera >= v.cameras) throw new VisionError(`camera id ${camera} is outside [0, ${v.cameras})`);
  const { width: W, height: Hh, channels: C, data } = frame;
  if (!(W >= 1 && Hh >= 1) || ![1, 3, 4].includes(C)) throw new VisionError(`frame of camera ${camera} is ${W}x${Hh}x${C}; expected a non-empty image with 1, 3 or 4 channels`);
  if (data.length !== W * Hh * C) throw new VisionError(`frame of camera ${camera}: ${data.length} bytes for ${W}x${Hh}x${C} (${W * Hh * C} expected)`);
  const F = patchFeatureWidth(v);
  const grid = S / P;
  const pixels = P * P * 3;
  // Source row/column of each target pixel; the identity when the frame is already S x S.
  const srcX = Int32Array.from({ length: S }, (_, x) => Math.min(W - 1, Math.floor(((x + 0.5) * W) / S)));
  const srcY = Int32Array.from({ length: S }, (_, y) => Math.min(Hh - 1, Math.floor(((y + 0.5) * Hh) / S)));
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const base = offset + (gy * grid + gx) * F;
      let k = base;
      for (let py = 0; py < P; py++) {
        const row = srcY[gy * P + py] * W;
        for (let px = 0; px < P; px++) {
          const src = (row + srcX[gx * P + px]) * C;
          for (let c = 0; c < 3; c++) out[k++] = data[src + (C === 1 ? 0 : c)] / 127.5 - 1;
        }
      }
      for (let cam = 0; cam < v.cameras; cam++) out[base + pixels + cam] = cam === camera ? 1 : 0;
      if (v.positions) {
        const at = base + pixels + v.cameras;
        out.fill(0, at, at + grid * grid);
        out[at + gy * grid + gx] = 1;
      }
    }
  }
}

/**
 * Features of a batch's image slots, in PackedBatch.imageSlots order:
 * images[s * cameras + c] is camera c of sample s (decodeFrames(reader, batch.frames.flat())).
 * Returns [slots * F].
 */
export function slotFeatures(images: readonly ImageFrame[], samples: number, v: VisionSpec): Float32Array {
  checkVisionSpec(v);
  if (images.length !== samples * v.cameras) {
    throw new VisionError(`slotFeatures: ${images.length} images for ${samples} samples x ${v.cameras} cameras (${samples * v.cameras} expected)`);
  }
  const F = patchFeatureWidth(v);
  const per = patchesPerImage(v);
  const out = new Float32Array(images.length * per * F);
  images.forEach((img, i) => writePatchFeatures(img, i % v.cameras, v, out, i * per * F));
  return out;
}

/** Fills batch.patchFeatures ([n * F], zero off the image slots) from the decoded frames of its samples. */
export function fillPatchFeatures(batch: PackedBatch, images: readonly ImageFrame[], v: VisionSpec): void {
  const per = patchesPerImage(v);
  if (batch.imagePatches.length !== v.cameras || batch.imagePatches.some((p) => p !== per)) {
    throw new VisionError(`fillPatchFeatures: the batch was laid out with imagePatches ${JSON.stringify(batch.imagePatches)}, the vision spec gives ${v.cameras} camera(s) x ${per} patches`);
  }
  batch.patchFeatures = scatterSlots(batch, slotFeatures(images, batch.samples, v), patchFeatureWidth(v));
}
