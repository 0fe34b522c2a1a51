/**
 * The grounding loss (train.lambdaGrounding, model.groundingClasses): an auxiliary
 * cross-entropy that asks <|action_start|>'s final hidden state which region of the scene
 * holds the object the instruction names (the reach suite: which of the six slots).
 *
 * Why: BC teaches the binding of a colour word to a block only through the first FAST
 * tokens, about one nat of signal per episode buried in a 3-nat target
 * (docs/results.md round 8), and a small model sits on a plateau there. The grounding label
 * says the same thing as a clean six-way target at every frame, in the spirit of ECoT's
 * bounding-box reasoning steps, without adding tokens to the sequence. The head is a
 * linear map read only in training; inference never runs it. Labels come from the
 * episode's initial state (src/train/grounding-labels.ts); a sample without one (-1) does
 * not count.
 */
import { gatherRows } from '../engine/ops/embedding';
import { linear } from '../engine/ops/matmul';
import { Role } from '../engine/roles';
import type { Tensor } from '../engine/tensor';
import type { ParamStore } from './params';
import { SPECIAL } from './tokenizers/vocab';

/** What the grounding loss reads from one packed batch: a row and a label per counted sample. */
export interface GroundingTargets {
  /** Packed row of each counted sample's first <|action_start|>. */
  rows: Int32Array;
  /** Its region label, in [0, classes). */
  labels: Int32Array;
}

/**
 * The grounding rows and labels of a packed batch: for every sample s whose label
 * `labelOf(episodes[s])` is >= 0, the first <|action_start|> (role AR_ACTION) inside its
 * document [docStart[s], docStart[s] + docLength[s]). Null when no sample counts.
 */
export function groundingTargets(
  batch: { ids: Int32Array; roles: Uint8Array; docStart: Int32Array; docLength: Int32Array; episodes: Int32Array },
  labelOf: (episode: number) => number,
): GroundingTargets | null {
  const B = batch.docStart.length;
  if (batch.docLength.length !== B || batch.episodes.length !== B) {
    throw new RangeError(`groundingTargets: docStart, docLength and episodes must have one entry per sample, got ${B}, ${batch.docLength.length}, ${batch.episodes.length}`);
  }
  const rows: number[] = [];
  const labels: number[] = [];
  for (let s = 0; s < B; s++) {
    const label = labelOf(batch.episodes[s]);
    if (!(label >= 0)) continue;
    const end = batch.docStart[s] + batch.docLength[s];
    for (let r = batch.docStart[s]; r < end; r++) {
      if (batch.ids[r] === SPECIAL.actionStart && batch.roles[r] === Role.AR_ACTION) {
        rows.push(r);
        labels.push(label);
        break;
      }
    }
  }
  return rows.length ? { rows: Int32Array.from(rows), labels: Int32Array.from(labels) } : null;
}

/** Fraction of rows of `logits` [labels.length, classes] whose largest entry is at the row's label. */
export function argmaxAccuracy(logits: Float32Array, labels: Int32Array): number {
  const C = logits.length / labels.length;
  let hits = 0;
  labels.forEach((y, r) => {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[r * C + c] > logits[r * C + best]) best = c;
    if (best === y) hits++;
  });
  return hits / labels.length;
}

/** The linear grounding head: logits [m, classes] = h[rows] W + b. */
export class GroundingHead {
  private readonly w: Tensor;
  private readonly b: Tensor;
  constructor(store: ParamStore, dModel: number, readonly classes: number, prefix = 'grounding') {
    if (!(Number.isInteger(classes) && classes >= 2)) throw new RangeError(`groundingClasses must be an integer >= 2, got ${classes}`);
    this.w = store.linear(`${prefix}.w`, dModel, classes);
    this.b = store.constant(`${prefix}.b`, [classes], 0);
  }

  logits(hidden: Tensor, rows: Int32Array): Tensor {
    return linear(gatherRows(hidden, rows), this.w, this.b);
  }
}
