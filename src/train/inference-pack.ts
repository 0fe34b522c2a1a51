/**
 * Packing for inference (src/train/inference.ts): one document per row, every row
 * starting on an attention tile and all rows of one length (the longest document,
 * rounded up to the tile). A document's tokens then meet the same tiles whether it runs
 * alone or in a batch, so batched and one-by-one inference compute the same numbers.
 * Row tails are padding documents of their own that no real token attends to.
 */
import { Role } from '../engine/roles.ts';
import type { ModelBatch } from '../model/prts.ts';
import { SPECIAL, type DocumentPrefix } from '../model/tokenizers/index.ts';
import { patchesPerImage, patchFeatureWidth, type VisionSpec } from './vision.ts';

export class InferencePackError extends Error {
  override name = 'InferencePackError';
}

/** A document to pack: a prompt, a prompt with generated tokens, or a full layout. */
export type PackDocument = DocumentPrefix;

export type PackedBatch = ModelBatch & { docStart: Int32Array; docLength: Int32Array };

/** A prompt followed by tokens the model generated (role AR_ACTION, positions continuing the prompt's). */
export function withGenerated(prefix: DocumentPrefix, generated: readonly number[]): PackDocument {
  if (generated.length === 0) return prefix;
  const n = prefix.ids.length + generated.length;
  const ids = new Int32Array(n);
  const roles = new Uint8Array(n);
  const positions = new Int32Array(n);
  ids.set(prefix.ids);
  roles.set(prefix.roles);
  positions.set(prefix.positions);
  const next = prefix.positions[prefix.positions.length - 1] + 1;
  generated.forEach((id, i) => {
    ids[prefix.ids.length + i] = id;
    roles[prefix.ids.length + i] = Role.AR_ACTION;
    positions[prefix.ids.length + i] = next + i;
  });
  return { ids, roles, positions };
}

/**
 * Packs `docs` one per row. `features` holds slot features sample-major (camera order,
 * see slotFeatures); document r takes those of sample `featureRows[r]`, placed at its
 * <|image|> tokens in order.
 */
export function packDocuments(vision: VisionSpec, attnTile: number, docs: readonly PackDocument[], features: Float32Array, featureRows: readonly number[]): PackedBatch {
  if (docs.length === 0) throw new InferencePackError('packDocuments: no documents');
  if (featureRows.length !== docs.length) throw new InferencePackError(`packDocuments: ${featureRows.length} feature rows for ${docs.length} documents`);
  const F = patchFeatureWidth(vision);
  const slots = vision.cameras * patchesPerImage(vision);
  const lens = docs.map((d) => d.ids.length);
  const rowLen = Math.ceil(Math.max(...lens) / attnTile) * attnTile;
  const B = docs.length;
  const n = B * rowLen;
  const ids = new Int32Array(n).fill(SPECIAL.pad);
  const roles = new Uint8Array(n).fill(Role.VISION_STATE);
  const docIds = new Int32Array(n);
  const positions = new Int32Array(n);
  const patchFeatures = new Float32Array(n * F);
  const docStart = new Int32Array(B);
  const docLength = new Int32Array(B);
  const last = new Int32Array(B);
  docs.forEach((d, r) => {
    const base = r * rowLen;
    const len = lens[r];
    ids.set(d.ids, base);
    roles.set(d.roles, base);
    positions.set(d.positions, base);
    docIds.fill(r, base, base + len);
    // Row padding is its own document (ids after the samples), so no real token sees it.
    for (let j = len; j < rowLen; j++) {
      docIds[base + j] = B + r;
      positions[base + j] = j - len;
    }
    docStart[r] = base;
    docLength[r] = len;
    last[r] = base + len - 1;
    const b = featureRows[r];
    if ((b + 1) * slots * F > features.length) throw new InferencePackError(`packDocuments: document ${r} takes the features of sample ${b}, but only ${features.length / (slots * F)} samples have features`);
    // <|image|> tokens appear camera by camera, patch by patch: the slot order of slotFeatures.
    let k = 0;
    for (let i = 0; i < len; i++) {
      if (d.ids[i] !== SPECIAL.image) continue;
      if (k >= slots) throw new InferencePackError(`the prompt of row ${r} has more <|image|> slots than ${slots}`);
      patchFeatures.set(features.subarray((b * slots + k) * F, (b * slots + k + 1) * F), (base + i) * F);
      k++;
    }
    if (k !== slots) throw new InferencePackError(`the prompt of row ${r} has ${k} <|image|> slots, expected ${slots}`);
  });
  const empty = new Int32Array(0);
  return {
    n,
    ids,
    roles,
    docs: docIds,
    positions,
    patchFeatures,
    targetIndices: last,
    targets: new Int32Array(B),
    actionEndIndex: empty,
    goalEndIndex: empty,
    goalOf: new Int32Array(B),
    t: new Int32Array(B),
    T: new Int32Array(B).fill(1),
    docStart,
    docLength,
  };
}
