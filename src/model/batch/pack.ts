/**
 * Packing of PRTS documents into fixed-length rows and the per-batch arrays the model
 * reads (DESIGN.md 3): tokens with their doc id, role and position, the BC targets, the
 * phi read positions (<|action_end|>, one per sample), the psi read positions
 * (<|goal_end|>, one per unique goal), the CRL integers (goalOf, t, T), the image slots
 * the vision stem scatters patch embeddings into, and the block map, built once here
 * and shared by every layer.
 *
 * Rows: documents are packed first-fit (longest first) into rows of `maxTokens` tokens,
 * never split; each row's tail is padding. The rows are concatenated into one flat
 * sequence, n = rows * maxTokens: with block-sparse attention a document never reaches
 * past itself, so the rows need no separate launch and the tile pairs between rows are
 * EMPTY. Padding runs are documents of their own (doc ids after the samples, one per
 * row, <|pad|> tokens with role VISION_STATE), so no real token ever attends to them;
 * they carry no targets and are never read by a head.
 */
import type { GroundingTargets } from '../grounding';
import { buildBlockMap, type BlockMap } from '../../engine/blockmap.ts';
import { uniqueGoals } from '../../engine/ops/infonce.ts';
import { PRTS_RULE, Role, type MaskRule } from '../../engine/roles.ts';
import { IGNORE_TARGET, SPECIAL, type DocumentLayout, type TokenizerBundle } from '../tokenizers/index.ts';
import type { FrameRef, Sample } from './samples.ts';

export class BatchError extends Error {
  override name = 'BatchError';
}

/** Lays out one sample as a document (the TokenizerBundle, or a custom tokenization). */
export type LayoutFn = (sample: Sample, options: { crl: boolean; imagePatches: readonly number[] }) => DocumentLayout;

/** The bundle's layout of a sample: images enter as patch counts, the state as proprio text, the chunk as FAST tokens. */
export function bundleLayout(bundle: TokenizerBundle): LayoutFn {
  return (s, o) => bundle.layout({ imagePatches: o.imagePatches, state: s.state, instruction: s.instruction, actions: s.actions }, { crl: o.crl });
}

export interface PackOptions {
  /** Tokens per row. */
  maxTokens: number;
  /** Fail when more rows would be needed (fixed-shape training); default unlimited. */
  maxRows?: number;
}

export interface Packing {
  rows: number;
  maxTokens: number;
  /** [docs] row of each document and its first token in the flat sequence. */
  docRow: Int32Array;
  docStart: Int32Array;
  /** [rows] tokens used in each row. */
  rowUsed: Int32Array;
  padTokens: number;
  /** padTokens / (rows * maxTokens). */
  paddingFraction: number;
}

/**
 * First-fit decreasing: documents in order of decreasing length (ties by index), each
 * into the first row with room. Deterministic; never splits a document.
 */
export function packDocuments(lengths: ArrayLike<number>, options: PackOptions): Packing {
  const { maxTokens } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new BatchError(`packDocuments: maxTokens must be a positive integer, got ${maxTokens}`);
  const m = lengths.length;
  if (m === 0) throw new BatchError('packDocuments: no documents to pack');
  for (let i = 0; i < m; i++) {
    const len = lengths[i];
    if (!Number.isInteger(len) || len < 1) throw new BatchError(`packDocuments: document ${i} has length ${len}; lengths must be positive integers`);
    if (len > maxTokens) throw new BatchError(`packDocuments: document ${i} has ${len} tokens, more than maxTokens = ${maxTokens}; raise maxTokens (documents are never split)`);
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const used: number[] = [];
  const docRow = new Int32Array(m);
  const offset = new Int32Array(m);
  for (const d of order) {
    let r = used.findIndex((u) => u + lengths[d] <= maxTokens);
    if (r < 0) {
      r = used.length;
      used.push(0);
    }
    docRow[d] = r;
    offset[d] = used[r];
    used[r] += lengths[d];
  }
  const rows = used.length;
  if (options.maxRows !== undefined && rows > options.maxRows) {
    throw new BatchError(`packDocuments: the documents need ${rows} rows of ${maxTokens} tokens, more than maxRows = ${options.maxRows}`);
  }
  const docStart = Int32Array.from(docRow, (r, d) => r * maxTokens + offset[d]);
  const padTokens = rows * maxTokens - used.reduce((a, b) => a + b, 0);
  return { rows, maxTokens, docRow, docStart, rowUsed: Int32Array.from(used), padTokens, paddingFraction: padTokens / (rows * maxTokens) };
}

export interface BuildBatchOptions extends PackOptions {
  /** Attention tile of the block map (32 or 64; ModelConfig.attnTile). */
  tile: number;
  /** Discount of the CRL weights gamma^(T - t) reported per sample. */
  gamma: number;
  /** Patches per camera; must match the samples' frame references. */
  imagePatches: readonly number[];
  /** false: the BC-only layout (no CRL blocks; each document is a prefix of its CRL version). Default true. */
  withCrl?: boolean;
  rule?: MaskRule;
  /**
   * Lay out the CRL_goal block once per unique goal (in the goal's first sample) instead
   * of once per sample. Default true. Exact under any rule where only CRL_goal attends to
   * CRL_goal (PRTS_RULE): psi is read from the first copy only, and no other token sees
   * the copies, so they cost attention and MLP work without touching any loss or
   * gradient. With samplesPerTask samples per task that removes (1 - 1/samplesPerTask)
   * of the goal tokens, most of CRL's extra sequence length after the FAST copy.
   */
  shareGoalBlocks?: boolean;
}

/** True when no role but CRL_goal may attend to CRL_goal tokens, so unread goal copies can be dropped. */
function goalBlocksPrivate(rule: MaskRule): boolean {
  return rule.every((row, qr) => qr === Role.CRL_GOAL || !row[Role.CRL_GOAL]);
}

/** The document without its CRL_goal block (the last block of a PRTS document). */
function withoutGoalBlock(d: DocumentLayout): DocumentLayout {
  const g = d.spans.crlGoal;
  if (!g || g.end !== d.ids.length) throw new BatchError('buildBatch: a CRL_goal block must end its document to be shared');
  const cut = g.start;
  return {
    ...d,
    ids: d.ids.slice(0, cut),
    roles: d.roles.slice(0, cut),
    positions: d.positions.slice(0, cut),
    targets: d.targets.slice(0, cut),
    goalEndIndex: -1,
    spans: { ...d.spans, crlGoal: null },
  };
}

/**
 * One packed training batch. The fields the model forward reads (n .. goals) have the
 * names and types of src/train/tinycheck-data.ts's PackedBatch and src/model/prts.ts's
 * ModelBatch, so one forward serves both; the rest describe the samples.
 */
export interface PackedBatch {
  /** Total tokens, rows * maxTokens. */
  n: number;
  ids: Int32Array;
  roles: Uint8Array;
  /** Sample index for real tokens; samples + row for a row's padding. */
  docs: Int32Array;
  positions: Int32Array;
  /** [n * width] features at image slots, when the caller fills them (scatterSlots); absent otherwise. */
  patchFeatures?: Float32Array;
  /** Packed indices whose logits are trained (the AR action span) and their next-token labels. */
  targetIndices: Int32Array;
  targets: Int32Array;
  /** [samples] where phi is read (<|action_end|>); empty without CRL. */
  actionEndIndex: Int32Array;
  /** [goals] where psi is read (<|goal_end|> of the goal's first sample); empty without CRL. */
  goalEndIndex: Int32Array;
  /** [samples] goal row of each sample (goals deduplicated by instruction). */
  goalOf: Int32Array;
  t: Int32Array;
  T: Int32Array;
  samples: number;
  goals: number;

  withCrl: boolean;
  rows: number;
  maxTokens: number;
  /** [samples] first packed token and length of each document. */
  docStart: Int32Array;
  docLength: Int32Array;
  padTokens: number;
  paddingFraction: number;
  /** [samples] gamma^(T - t), the CRL weights (for logging; the loss recomputes them in float64). */
  crlWeights: Float32Array;
  gamma: number;
  /** [goals] sample whose CRL_goal block is read, and the goal's instruction. */
  goalSample: Int32Array;
  goalInstructions: string[];
  /** [samples] dataset identity of each sample. */
  sampleIds: Int32Array;
  episodes: Int32Array;
  tasks: Int32Array;
  /** Rows and labels of the grounding loss, when the trainer attaches them (src/model/grounding.ts). */
  grounding?: GroundingTargets | null;
  /** Patches per camera, and the offset of each camera's patches within a sample's slots. */
  imagePatches: number[];
  cameraSlotOffset: Int32Array;
  /**
   * [samples * sum(imagePatches)] packed index of patch p of camera c of sample s at
   * (s * sum(imagePatches) + cameraSlotOffset[c] + p): the vision stem computes patch
   * embeddings in that order and scatters them to these rows.
   */
  imageSlots: Int32Array;
  /** [samples][camera] the frames to decode for the slots. */
  frames: FrameRef[][];
  /** [samples * stateDim] state at t. */
  state: Float32Array;
  stateDim: number;
  /** [samples * H * actionDim] chunks and [samples * H] validity (the action expert's targets). */
  actions: Float32Array;
  actionValid: Uint8Array;
  horizon: number;
  actionDim: number;
  blockMap: BlockMap;
  /** blockMap.visitedFraction: the share of the tile grid the attention kernels compute. */
  visitedFraction: number;
}

function checkSamples(samples: readonly Sample[], imagePatches: readonly number[]): { stateDim: number; horizon: number; actionDim: number } {
  if (samples.length === 0) throw new BatchError('buildBatch: no samples');
  const first = samples[0];
  const stateDim = first.state.length;
  const actionDim = first.actionDim;
  const horizon = first.valid.length;
  samples.forEach((s, i) => {
    const where = `samples[${i}] (episode ${s.episode}, t ${s.t})`;
    if (!(Number.isInteger(s.t) && Number.isInteger(s.T) && s.t >= 0 && s.t < s.T)) throw new BatchError(`buildBatch: ${where}: t must satisfy 0 <= t < T, got t = ${s.t}, T = ${s.T}`);
    if (s.state.length !== stateDim) throw new BatchError(`buildBatch: ${where}: state has ${s.state.length} values, samples[0] has ${stateDim}`);
    if (s.actionDim !== actionDim || s.valid.length !== horizon || s.actions.length !== horizon * actionDim) {
      throw new BatchError(`buildBatch: ${where}: actions are ${s.valid.length} x ${s.actionDim} (${s.actions.length} values), samples[0] has ${horizon} x ${actionDim}`);
    }
    if (s.frames.length !== imagePatches.length) {
      throw new BatchError(`buildBatch: ${where}: ${s.frames.length} camera frames, but imagePatches lists ${imagePatches.length} cameras`);
    }
  });
  return { stateDim, horizon, actionDim };
}

/**
 * Goals of a batch and its documents as they will be packed. Same instruction = same
 * goal (DESIGN.md 4): the CRL_goal block holds only the task instruction, so psi is
 * identical for every sample of a task and a task must never be its own negative; with
 * shareGoalBlocks only each goal's first sample keeps its CRL_goal block.
 */
export function shareGoals(
  samples: readonly Pick<Sample, 'instruction'>[],
  docs: readonly DocumentLayout[],
  options: { withCrl: boolean; rule?: MaskRule; shareGoalBlocks?: boolean },
): { goals: ReturnType<typeof uniqueGoals>; docs: DocumentLayout[] } {
  const goals = uniqueGoals(samples.map((s) => s.instruction));
  const share = options.withCrl && (options.shareGoalBlocks ?? true) && goalBlocksPrivate(options.rule ?? PRTS_RULE);
  return { goals, docs: share ? docs.map((d, k) => (goals.firstSample[goals.goalOf[k]] === k ? d : withoutGoalBlock(d))) : [...docs] };
}

/** Lays out, packs and indexes one batch of samples (in the sampler's order; doc k = samples[k]). */
export function buildBatch(samples: readonly Sample[], layout: LayoutFn | TokenizerBundle, options: BuildBatchOptions): PackedBatch {
  const withCrl = options.withCrl ?? true;
  const { gamma, imagePatches } = options;
  if (!(gamma > 0 && gamma <= 1)) throw new BatchError(`buildBatch: gamma must be in (0, 1], got ${gamma}`);
  imagePatches.forEach((p, c) => {
    if (!Number.isInteger(p) || p < 0) throw new BatchError(`buildBatch: imagePatches[${c}] must be a non-negative integer, got ${p}`);
  });
  const { stateDim, horizon, actionDim } = checkSamples(samples, imagePatches);
  const layoutFn = typeof layout === 'function' ? layout : bundleLayout(layout);
  const B = samples.length;
  const rule = options.rule ?? PRTS_RULE;
  const laidOut = samples.map((s) => layoutFn(s, { crl: withCrl, imagePatches }));
  laidOut.forEach((d, i) => {
    const imageSpans = d.spans.image;
    if (imageSpans.length !== imagePatches.length || imageSpans.some((sp, c) => sp.end - sp.start !== imagePatches[c])) {
      throw new BatchError(`buildBatch: the layout of samples[${i}] has image spans ${JSON.stringify(imageSpans.map((sp) => sp.end - sp.start))}, expected imagePatches ${JSON.stringify(imagePatches)}`);
    }
    if (withCrl && (d.actionEndIndex < 0 || d.goalEndIndex < 0)) throw new BatchError(`buildBatch: the layout of samples[${i}] has no CRL blocks although withCrl is true`);
    if (!withCrl && (d.spans.crlAction || d.spans.crlGoal)) throw new BatchError(`buildBatch: the layout of samples[${i}] has CRL blocks although withCrl is false`);
  });
  const { goals, docs } = shareGoals(samples, laidOut, { withCrl, rule, shareGoalBlocks: options.shareGoalBlocks });
  const packing = packDocuments(
    docs.map((d) => d.ids.length),
    options,
  );
  const { rows, maxTokens } = packing;
  const n = rows * maxTokens;

  const ids = new Int32Array(n).fill(SPECIAL.pad);
  const roles = new Uint8Array(n).fill(Role.VISION_STATE);
  const docIds = new Int32Array(n);
  const positions = new Int32Array(n);
  // Padding first: every token belongs to its row's padding document until a sample claims it.
  for (let r = 0; r < rows; r++) {
    for (let j = packing.rowUsed[r]; j < maxTokens; j++) {
      docIds[r * maxTokens + j] = B + r;
      positions[r * maxTokens + j] = j - packing.rowUsed[r];
    }
  }
  let targetCount = 0;
  for (const d of docs) targetCount += d.targetIndices.length;
  const targetIndices = new Int32Array(targetCount);
  const targets = new Int32Array(targetCount);
  const actionEndIndex = new Int32Array(withCrl ? B : 0);
  const slotsPerSample = imagePatches.reduce((a, b) => a + b, 0);
  const cameraSlotOffset = new Int32Array(imagePatches.length);
  for (let c = 1; c < imagePatches.length; c++) cameraSlotOffset[c] = cameraSlotOffset[c - 1] + imagePatches[c - 1];
  const imageSlots = new Int32Array(B * slotsPerSample);

  // Targets are emitted in sample order (doc k's targets before doc k+1's), not packed order,
  // so the label stream of a batch does not depend on how the rows were filled.
  let tk = 0;
  docs.forEach((d, k) => {
    const base = packing.docStart[k];
    ids.set(d.ids, base);
    roles.set(d.roles, base);
    positions.set(d.positions, base);
    docIds.fill(k, base, base + d.ids.length);
    for (const i of d.targetIndices) {
      if (d.targets[i] === IGNORE_TARGET) throw new BatchError(`buildBatch: the layout of samples[${k}] lists target index ${i} without a label`);
      targetIndices[tk] = base + i;
      targets[tk++] = d.targets[i];
    }
    if (withCrl) actionEndIndex[k] = base + d.actionEndIndex;
    d.spans.image.forEach((sp, c) => {
      for (let p = 0; p < sp.end - sp.start; p++) imageSlots[k * slotsPerSample + cameraSlotOffset[c] + p] = base + sp.start + p;
    });
  });

  const goalEndIndex = withCrl ? Int32Array.from(goals.firstSample, (s) => packing.docStart[s] + docs[s].goalEndIndex) : new Int32Array(0);

  const state = new Float32Array(B * stateDim);
  const actions = new Float32Array(B * horizon * actionDim);
  const actionValid = new Uint8Array(B * horizon);
  samples.forEach((s, k) => {
    state.set(s.state, k * stateDim);
    actions.set(s.actions, k * horizon * actionDim);
    actionValid.set(s.valid, k * horizon);
  });

  const blockMap = buildBlockMap(docIds, roles, { tile: options.tile, rule });
  return {
    n,
    ids,
    roles,
    docs: docIds,
    positions,
    targetIndices,
    targets,
    actionEndIndex,
    goalEndIndex,
    goalOf: goals.goalOf,
    t: Int32Array.from(samples, (s) => s.t),
    T: Int32Array.from(samples, (s) => s.T),
    samples: B,
    goals: goals.G,
    withCrl,
    rows,
    maxTokens,
    docStart: packing.docStart,
    docLength: Int32Array.from(docs, (d) => d.ids.length),
    padTokens: packing.padTokens,
    paddingFraction: packing.paddingFraction,
    crlWeights: Float32Array.from(samples, (s) => Math.pow(gamma, s.T - s.t)),
    gamma,
    goalSample: goals.firstSample,
    goalInstructions: Array.from(goals.firstSample, (s) => samples[s].instruction),
    sampleIds: Int32Array.from(samples, (s) => s.id),
    episodes: Int32Array.from(samples, (s) => s.episode),
    tasks: Int32Array.from(samples, (s) => s.task),
    imagePatches: [...imagePatches],
    cameraSlotOffset,
    imageSlots,
    frames: samples.map((s) => s.frames.map((f) => ({ ...f }))),
    state,
    stateDim,
    actions,
    actionValid,
    horizon,
    actionDim,
    blockMap,
    visitedFraction: blockMap.visitedFraction,
  };
}

/**
 * Scatters per-slot vectors (slot order of batch.imageSlots, `width` values each) into a
 * [n * width] array that is zero off the image slots: the patchFeatures input of the
 * model's forward.
 */
export function scatterSlots(batch: Pick<PackedBatch, 'n' | 'imageSlots'>, values: ArrayLike<number>, width: number): Float32Array {
  if (!Number.isInteger(width) || width < 1) throw new BatchError(`scatterSlots: width must be a positive integer, got ${width}`);
  const slots = batch.imageSlots.length;
  if (values.length !== slots * width) throw new BatchError(`scatterSlots: values hold ${values.length} numbers, expected imageSlots (${slots}) * width (${width}) = ${slots * width}`);
  const out = new Float32Array(batch.n * width);
  for (let s = 0; s < slots; s++) {
    const dst = batch.imageSlots[s] * width;
    for (let f = 0; f < width; f++) out[dst + f] = values[s * width + f];
  }
  return out;
}
