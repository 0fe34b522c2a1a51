/**
 * Post-training batches (posttrain.ts): the prefix-only document layout, each document's
 * DiT context range, and a packed dataset batch turned into the PostTrainBatch the
 * trainer steps on. Separate from the trainer, which only consumes a PostTrainBatch, and
 * from the run, because inference (src/train/inference.ts) finds its DiT context with the
 * same contextRanges.
 */
import { Role, ROLE_NAMES } from '../engine/roles';
import type { LayoutFn, PackedBatch } from '../model/batch';
import type { ModelBatch } from '../model/prts';
import { IGNORE_TARGET, type TokenizerBundle } from '../model/tokenizers/index';
import { toDitActions, type ActionSpace } from './posttrain-actions';

export interface PostTrainBatch {
  /** The packed token batch the backbone reads. */
  model: ModelBatch;
  /** Per sample b: its context rows [contextStart[b], contextEnd[b]) in the packed batch. */
  contextStart: Int32Array;
  contextEnd: Int32Array;
  /** Clean action chunks [B * H * K], zero in padded entries. */
  actions: Float32Array;
  /** Validity mask [B * H * K] (1 valid, 0 padded), Qwen-VLA's per-channel, per-step mask. */
  mask: Float32Array;
}

/**
 * The layout of a post-training document: the inference prompt (TokenizerBundle.prefix:
 * vision + state + embodiment prompt + instruction + <|action_start|>), cut from the
 * BC-only layout so it is token for token what pre-training and inference see. No AR
 * span, no CRL blocks, no BC targets: post-training drops both losses, and the context
 * tokens' hidden states do not depend on anything after them (causal, role-aware mask),
 * so the AR span would only cost compute.
 */
export function prefixLayout(bundle: TokenizerBundle): LayoutFn {
  return (s, o) => {
    const full = bundle.layout({ imagePatches: o.imagePatches, state: s.state, instruction: s.instruction, actions: s.actions }, { crl: false });
    const n = full.spans.arAction.start + 1;
    return {
      ids: full.ids.slice(0, n),
      roles: full.roles.slice(0, n),
      positions: full.positions.slice(0, n),
      targets: new Int32Array(n).fill(IGNORE_TARGET),
      targetIndices: new Int32Array(0),
      actionEndIndex: -1,
      goalEndIndex: -1,
      spans: { ...full.spans, arAction: { start: n - 1, end: n }, crlAction: null, crlGoal: null },
    };
  };
}

/**
 * Each document's DiT context: its leading run of VISION_STATE and INSTRUCTION tokens
 * (images, proprio, prompt, instruction), i.e. everything before <|action_start|>; the
 * AR span and the CRL blocks are never context. Works on full BC/CRL documents and on
 * prefixes alike, and is what inference uses too.
 */
export function contextRanges(batch: { roles: Uint8Array; docStart: ArrayLike<number>; docLength: ArrayLike<number> }): { start: Int32Array; end: Int32Array } {
  const B = batch.docStart.length;
  const start = new Int32Array(B);
  const end = new Int32Array(B);
  const isContext = (r: number) => r === Role.VISION_STATE || r === Role.INSTRUCTION;
  for (let b = 0; b < B; b++) {
    const s = batch.docStart[b];
    const stop = s + batch.docLength[b];
    let e = s;
    while (e < stop && isContext(batch.roles[e])) e++;
    if (e === s) throw new RangeError(`contextRanges: document ${b} starts with a ${ROLE_NAMES[batch.roles[s]] ?? batch.roles[s]} token; it has no vision/state/instruction context`);
    for (let i = e; i < stop; i++) {
      if (isContext(batch.roles[i])) throw new RangeError(`contextRanges: document ${b} has a context token at ${i - s}, after its action span began at ${e - s}`);
    }
    start[b] = s;
    end[b] = e;
  }
  return { start, end };
}

/** A packed dataset batch (buildBatch) as a post-training batch with K padded action channels. */
export function postTrainBatch(packed: PackedBatch, space: ActionSpace, K: number): PostTrainBatch {
  if (packed.actionDim !== space.q01.length) {
    throw new RangeError(`postTrainBatch: the batch has ${packed.actionDim} action channels, the action stats ${space.q01.length}`);
  }
  const { start, end } = contextRanges(packed);
  const { actions, mask } = toDitActions(space, packed.actions, packed.samples, packed.horizon, K, packed.actionValid);
  return { model: packed, contextStart: start, contextEnd: end, actions, mask };
}

