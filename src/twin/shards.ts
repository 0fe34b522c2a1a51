/**
 * Batch shards for the PyTorch twin (DESIGN.md 13, torch/README.md): one packed batch
 * per safetensors file, laid out by the workbench's own tokenizers and batch builder, so
 * tokenisation, packing, state noise and patch features are never written twice.
 *
 * Tensor names (every index is into the packed sequence of n tokens):
 *   ids, docs, positions        I32 [n]
 *   roles                       U8  [n]   src/engine/roles.ts (0 vision/state .. 4 CRL_goal)
 *   patch_rows                  I32 [S]   packed rows of the image slots, and
 *   patch_features              F32 [S, width]  their stem inputs (only with a vision stem; every
 *                                             other row's features are zero, so they are not stored)
 *   target_indices, targets     I32 [m]   the AR span's rows and their next-token labels
 *   action_end_index, goal_of, t, T  I32 [B]   (empty without CRL blocks)
 *   goal_end_index              I32 [G]
 *   doc_start, doc_length       I32 [B]
 *   episodes                    I32 [B]   the dataset episode each sample came from
 *   grounding_rows, grounding_labels  I32 [g]  the grounding loss's rows and labels (only with
 *                                             train.lambdaGrounding; src/model/grounding.ts)
 *   actions                     F32 [B, H, K]  the action chunks (DiT targets before normalisation)
 *   action_valid                U8  [B, H]
 *   block_kinds                 U8  [tiles, tiles]    0 empty, 1 full, 2 partial (the block map; FlexAttention's
 *                                                    BlockMask is the same three-way split)
 * Metadata: "format" = "prts-shard/1", "step" (index of the batch in the stream), "tile",
 * "gamma", "with_crl", "samples", "goals", "pad_tokens".
 */
import { TileClass, type BlockMap } from '../engine/blockmap.ts';
import type { PackedBatch } from '../model/batch.ts';
import { decodeSafetensorsTyped, encodeSafetensors, type TypedTensor } from '../train/safetensors.ts';

export const SHARD_FORMAT = 'prts-shard/1';

export class ShardError extends Error {
  override name = 'ShardError';
}

/** The block map as one kind per (query tile, key tile): 0 empty, 1 full, 2 partial. */
export function blockKinds(map: BlockMap): Uint8Array {
  const out = new Uint8Array(map.classes.length);
  for (let i = 0; i < out.length; i++) out[i] = map.classes[i] === TileClass.EMPTY ? 0 : map.classes[i] === TileClass.FULL ? 1 : 2;
  return out;
}

export function encodeShard(batch: PackedBatch, opts: { step: number }): Uint8Array {
  const { n } = batch;
  const B = batch.samples;
  const map = batch.blockMap;
  const t: TypedTensor[] = [
    { name: 'ids', shape: [n], data: batch.ids },
    { name: 'roles', shape: [n], data: batch.roles },
    { name: 'docs', shape: [n], data: batch.docs },
    { name: 'positions', shape: [n], data: batch.positions },
    { name: 'target_indices', shape: [batch.targetIndices.length], data: batch.targetIndices },
    { name: 'targets', shape: [batch.targets.length], data: batch.targets },
    { name: 'action_end_index', shape: [batch.actionEndIndex.length], data: batch.actionEndIndex },
    { name: 'goal_end_index', shape: [batch.goalEndIndex.length], data: batch.goalEndIndex },
    { name: 'goal_of', shape: [batch.goalOf.length], data: batch.goalOf },
    { name: 't', shape: [batch.t.length], data: batch.t },
    { name: 'T', shape: [batch.T.length], data: batch.T },
    { name: 'doc_start', shape: [B], data: batch.docStart },
    { name: 'doc_length', shape: [B], data: batch.docLength },
    { name: 'episodes', shape: [B], data: batch.episodes },
    { name: 'actions', shape: [B, batch.horizon, batch.actionDim], data: batch.actions },
    { name: 'action_valid', shape: [B, batch.horizon], data: batch.actionValid },
    { name: 'block_kinds', shape: [map.numTiles, map.numTiles], data: blockKinds(map) },
  ];
  if (batch.grounding) {
    const g = batch.grounding;
    t.push({ name: 'grounding_rows', shape: [g.rows.length], data: g.rows }, { name: 'grounding_labels', shape: [g.labels.length], data: g.labels });
  }
  if (batch.patchFeatures) {
    const width = batch.patchFeatures.length / n;
    if (!Number.isInteger(width)) throw new ShardError(`patchFeatures has ${batch.patchFeatures.length} values, not a multiple of n = ${n}`);
    const rows = batch.imageSlots;
    const feats = new Float32Array(rows.length * width);
    rows.forEach((r, i) => feats.set(batch.patchFeatures!.subarray(r * width, (r + 1) * width), i * width));
    t.push({ name: 'patch_rows', shape: [rows.length], data: rows }, { name: 'patch_features', shape: [rows.length, width], data: feats });
  }
  return encodeSafetensors(t, {
    format: SHARD_FORMAT,
    step: String(opts.step),
    tile: String(map.tile),
    gamma: String(batch.gamma),
    with_crl: String(batch.withCrl),
    samples: String(B),
    goals: String(batch.goals),
    pad_tokens: String(batch.padTokens),
  });
}

/** The fields of a shard the model reads (src/model/prts.ts ModelBatch), plus its metadata. */
export interface DecodedShard {
  metadata: Record<string, string>;
  tensors: Map<string, TypedTensor>;
}

export function decodeShard(bytes: Uint8Array, what = 'shard'): DecodedShard {
  const { tensors, metadata } = decodeSafetensorsTyped(bytes);
  if (metadata.format !== SHARD_FORMAT) throw new ShardError(`${what}: metadata format is '${metadata.format ?? '(none)'}', expected '${SHARD_FORMAT}'`);
  const map = new Map(tensors.map((x) => [x.name, x]));
  for (const name of ['ids', 'roles', 'docs', 'positions', 'targets', 'target_indices']) {
    if (!map.has(name)) throw new ShardError(`${what}: tensor '${name}' is missing`);
  }
  return { metadata, tensors: map };
}

/** File name of shard `i` of a shard directory. */
export function shardName(i: number): string {
  return `shard-${String(i).padStart(6, '0')}.safetensors`;
}
