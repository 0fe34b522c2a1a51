/**
 * Synthetic data for the engine's end-to-end check (issue 2, item 5): documents with
 * the real PRTS role layout (src/model/tokenizers/vocab.ts) packed into one sequence.
 *
 * The task is built so that each loss can only fall if its path through the model works:
 * - The action tokens are a fixed function of (task, latent state). The state is visible
 *   only in the "image" patch features and the task only in the instruction, so BC must
 *   route information from VISION_STATE and INSTRUCTION tokens through attention.
 * - phi (read at <|action_end|>) never sees the instruction, but the CRL_action copy of
 *   the actions identifies the task, so L_sa->l can fall only through the CRL_action
 *   block's attention.
 * - psi (read at <|goal_end|>) sees only the CRL_goal copy of the instruction.
 */
import { Rng } from '../engine/random';
import { Role } from '../engine/roles';
import { Vocab, layoutDocument, IGNORE_TARGET } from '../model/tokenizers/vocab';

export interface TinyTaskConfig {
  tasks: number;
  /** Latent states per task, visible only through the image features. */
  states: number;
  textVocab: number;
  actionVocab: number;
  instructionLength: number;
  actionLength: number;
  patches: number;
  patchFeatures: number;
  /** Samples per task in one batch (>1 so L_l->sa has several positives). */
  samplesPerTask: number;
  /** Episode lengths are drawn from [minT, maxT]. */
  minT: number;
  maxT: number;
  seed: number;
}

export const DEFAULT_TINY_TASK: TinyTaskConfig = {
  tasks: 4,
  states: 3,
  textVocab: 24,
  actionVocab: 12,
  instructionLength: 4,
  actionLength: 5,
  patches: 6,
  patchFeatures: 16,
  samplesPerTask: 4,
  minT: 8,
  maxT: 24,
  seed: 1,
};

export interface PackedBatch {
  /** Total packed tokens. */
  n: number;
  ids: Int32Array;
  roles: Uint8Array;
  docs: Int32Array;
  positions: Int32Array;
  /** [n, patchFeatures]: the image features at <|image|> slots, zero elsewhere. */
  patchFeatures: Float32Array;
  /** Packed indices whose logits are trained, and their labels. */
  targetIndices: Int32Array;
  targets: Int32Array;
  /** One per sample: where phi is read. */
  actionEndIndex: Int32Array;
  /** One per unique goal: where psi is read (the first sample of that goal). */
  goalEndIndex: Int32Array;
  /** [B] goal row of each sample. */
  goalOf: Int32Array;
  t: Int32Array;
  T: Int32Array;
  samples: number;
  goals: number;
}

/** A fixed synthetic world: instructions per task, action table, image patterns. */
export class TinyWorld {
  readonly cfg: TinyTaskConfig;
  readonly vocab: Vocab;
  readonly instructions: Int32Array[];
  /** actionTable[task][state] = action token sequence (local FAST ids). */
  readonly actionTable: Int32Array[][];
  /** statePattern[state] = patchFeatures-dim vector added to every patch. */
  readonly statePattern: Float32Array[];

  constructor(cfg: TinyTaskConfig = DEFAULT_TINY_TASK) {
    this.cfg = cfg;
    const rng = new Rng(cfg.seed);
    this.vocab = new Vocab({ textSize: cfg.textVocab, proprioSize: 1, fastSize: cfg.actionVocab });
    this.instructions = Array.from({ length: cfg.tasks }, () =>
      Int32Array.from({ length: cfg.instructionLength }, () => rng.int(cfg.textVocab)),
    );
    this.actionTable = Array.from({ length: cfg.tasks }, () =>
      Array.from({ length: cfg.states }, () => Int32Array.from({ length: cfg.actionLength }, () => rng.int(cfg.actionVocab))),
    );
    this.statePattern = Array.from({ length: cfg.states }, () =>
      Float32Array.from({ length: cfg.patchFeatures }, () => rng.normal()),
    );
  }

  /**
   * A batch with samplesPerTask samples of every task, packed into one sequence.
   * `withCrl: false` drops the CRL blocks (the BC-only layout, same prefix per document).
   */
  batch(rng: Rng, withCrl = true): PackedBatch {
    const { cfg } = this;
    const ids: number[] = [];
    const roles: number[] = [];
    const docs: number[] = [];
    const positions: number[] = [];
    const feats: number[] = [];
    const targetIndices: number[] = [];
    const targets: number[] = [];
    const actionEnd: number[] = [];
    const goalEnd: number[] = new Array(cfg.tasks).fill(-1);
    const goalOf: number[] = [];
    const ts: number[] = [];
    const Ts: number[] = [];
    const order: number[] = [];
    for (let task = 0; task < cfg.tasks; task++) for (let k = 0; k < cfg.samplesPerTask; k++) order.push(task);
    rng.shuffle(order);
    order.forEach((task, doc) => {
      const state = rng.int(cfg.states);
      const layout = layoutDocument(
        this.vocab,
        {
          imagePatches: [cfg.patches],
          proprio: [],
          prompt: [],
          instruction: this.instructions[task],
          fast: this.actionTable[task][state],
        },
        { crl: withCrl },
      );
      const base = ids.length;
      for (let i = 0; i < layout.ids.length; i++) {
        ids.push(layout.ids[i]);
        roles.push(layout.roles[i]);
        positions.push(layout.positions[i]);
        docs.push(doc);
        const isPatch = layout.ids[i] === 6 /* <|image|> */;
        for (let f = 0; f < cfg.patchFeatures; f++) {
          feats.push(isPatch ? this.statePattern[state][f] + 0.5 * rng.normal() : 0);
        }
        if (layout.targets[i] !== IGNORE_TARGET) {
          targetIndices.push(base + i);
          targets.push(layout.targets[i]);
        }
      }
      if (withCrl) {
        actionEnd.push(base + layout.actionEndIndex);
        if (goalEnd[task] < 0) goalEnd[task] = base + layout.goalEndIndex;
      }
      goalOf.push(task);
      const T = cfg.minT + rng.int(cfg.maxT - cfg.minT + 1);
      Ts.push(T);
      ts.push(rng.int(T));
    });
    return {
      n: ids.length,
      ids: Int32Array.from(ids),
      roles: Uint8Array.from(roles),
      docs: Int32Array.from(docs),
      positions: Int32Array.from(positions),
      patchFeatures: Float32Array.from(feats),
      targetIndices: Int32Array.from(targetIndices),
      targets: Int32Array.from(targets),
      actionEndIndex: Int32Array.from(actionEnd),
      goalEndIndex: Int32Array.from(withCrl ? goalEnd : []),
      goalOf: Int32Array.from(goalOf),
      t: Int32Array.from(ts),
      T: Int32Array.from(Ts),
      samples: order.length,
      goals: cfg.tasks,
    };
  }
}

export { Role };
