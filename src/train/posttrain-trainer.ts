/**
 * The post-training step (posttrain.ts): PostTrainer attaches a DiT action expert to a
 * backbone and takes AdamW steps on the masked flow-matching loss. Separate from the run
 * (PostTrainRun), which adds the dataset, the schedule and checkpoints around it; tests
 * and tools drive PostTrainer directly on hand-made batches.
 *
 * One step: backbone forward on the packed batch -> hidden [n, d]; each sample's DiT
 * cross-attends to its own context rows [contextStart[b], contextEnd[b]); tau, eps and
 * a_tau are drawn on the CPU from the step's seeded Rng; loss = sum(W (v_pred - v)^2)
 * with W from the validity mask (src/model/flow.ts); AdamW over the DiT and, unless
 * frozen, the backbone's parameters.
 */
import { AdamW, Rng, backward, decayGroups, fromArray, noGrad, tidy, zeroGrad, type Tensor } from '../engine/index';
import { Dit, type DitConfig } from '../model/dit';
import { flowBatch, flowMatchingLoss, lossWeights, type LossNormalization, type TauSampling } from '../model/flow';
import { ParamStore } from '../model/params';
import type { GpuBlockMap } from '../engine/blockmap';
import type { ModelBatch } from '../model/prts';
import type { PostTrainBatch } from './posttrain-batch';

/** What post-training needs from a backbone (PrtsModel satisfies it through prtsBackbone). */
export interface PostTrainBackbone {
  /** Hidden states [n, dModel] of a packed batch, and a release() for whatever the
   * forward needs alive until backward has run (the PRTS block map). */
  hidden(batch: ModelBatch): { hidden: Tensor; release(): void };
  /** The parameters that receive the flow-matching gradient unless frozen. */
  params(): Tensor[];
  readonly dModel: number;
}

/** A PrtsModel as a post-training backbone: its `backbone.*` parameters only (the LM and
 * CRL heads get no gradient once BC and CRL are dropped). */
export function prtsBackbone(model: {
  hidden(batch: ModelBatch, map: GpuBlockMap): Tensor;
  blockMap(batch: ModelBatch): GpuBlockMap;
  store: ParamStore;
  cfg: { backbone: { dModel: number } };
}): PostTrainBackbone {
  return {
    hidden: (batch) => {
      const map = model.blockMap(batch);
      return { hidden: model.hidden(batch, map), release: () => map.release() };
    },
    params: () => [...model.store.tensors.entries()].filter(([n]) => n.startsWith('backbone.')).map(([, t]) => t),
    dModel: model.cfg.backbone.dModel,
  };
}

export interface PostTrainConfig {
  /** The DiT; its contextDim must equal the backbone's dModel. */
  dit: DitConfig;
  /** Train the DiT only (default false: gradients flow into the backbone). */
  freezeBackbone?: boolean;
  /** Multiplies the learning rate of the backbone's parameters (default 1). */
  backboneLrScale?: number;
  weightDecay?: number;
  /** Global gradient-norm clip (default 1; 0 disables). */
  maxGradNorm?: number;
  normalization?: LossNormalization;
  tau?: Partial<TauSampling>;
  /** Seeds the DiT's initialisation and the step noise. */
  seed: number;
}

export class PostTrainer {
  readonly cfg: PostTrainConfig;
  readonly backbone: PostTrainBackbone;
  readonly store: ParamStore;
  readonly dit: Dit;
  readonly optimizer: AdamW;
  private readonly rng: Rng;
  stepCount = 0;

  constructor(backbone: PostTrainBackbone, cfg: PostTrainConfig) {
    if (cfg.dit.contextDim !== backbone.dModel) {
      throw new RangeError(`posttrain: dit.contextDim (${cfg.dit.contextDim}) must equal the backbone's dModel (${backbone.dModel})`);
    }
    const scale = cfg.backboneLrScale ?? 1;
    if (!(scale >= 0)) throw new RangeError(`posttrain: backboneLrScale must be >= 0, got ${scale}`);
    this.cfg = cfg;
    this.backbone = backbone;
    const rt = backbone.params()[0]?.rt;
    if (!rt) throw new Error('posttrain: the backbone has no parameters');
    this.store = new ParamStore(rt, cfg.seed);
    this.dit = new Dit(this.store, cfg.dit);
    const wd = cfg.weightDecay ?? 0.01;
    const groups = decayGroups(this.dit.params(this.store), wd);
    if (!cfg.freezeBackbone) {
      for (const g of decayGroups(backbone.params(), wd)) groups.push({ ...g, lrScale: scale });
    }
    this.optimizer = new AdamW(
      groups.filter((g) => g.params.length > 0),
      { weightDecay: wd, maxGradNorm: cfg.maxGradNorm ?? 1 },
    );
    this.rng = new Rng(cfg.seed ^ 0x5eed);
  }

  /** The batch's [B, H, K] shape, checking every per-sample field against it. */
  private shapeOf(batch: PostTrainBatch): [number, number, number] {
    const { horizon: H, actionDim: K } = this.cfg.dit;
    const B = batch.contextStart.length;
    if (batch.contextEnd.length !== B) {
      throw new RangeError(`posttrain: contextStart has ${B} entries but contextEnd has ${batch.contextEnd.length}`);
    }
    if (batch.actions.length !== B * H * K) {
      throw new RangeError(`posttrain: actions has ${batch.actions.length} values, expected B * H * K = ${B} * ${H} * ${K}`);
    }
    if (batch.mask.length !== B * H * K) {
      throw new RangeError(`posttrain: mask has ${batch.mask.length} values, expected B * H * K = ${B} * ${H} * ${K}`);
    }
    return [B, H, K];
  }

  /**
   * Flow-matching loss of one batch (the backbone is not recorded when frozen). Call
   * release() once backward has run.
   */
  loss(batch: PostTrainBatch, rng: Rng = this.rng): { loss: Tensor; release(): void } {
    const rt = this.store.rt;
    const shape = this.shapeOf(batch);
    const fb = flowBatch(rng, batch.actions, shape, this.cfg.tau);
    const bb = this.cfg.freezeBackbone ? noGrad(() => this.backbone.hidden(batch.model)) : this.backbone.hidden(batch.model);
    const hidden = bb.hidden;
    const mask = fromArray(rt, batch.mask, shape);
    const out = this.dit.forward({
      noisy: fromArray(rt, fb.noisy, shape),
      tau: fb.tau,
      mask,
      context: { hidden, start: batch.contextStart, end: batch.contextEnd },
    });
    const weights = fromArray(rt, lossWeights(batch.mask, shape, this.cfg.normalization), shape);
    return { loss: flowMatchingLoss(out.velocity, fromArray(rt, fb.target, shape), weights), release: bb.release };
  }

  /**
   * One AdamW step on the flow-matching loss; returns the loss (read back). `rng` draws
   * the step's tau and noise (default: the trainer's own stream); a run that must resume
   * exactly passes one seeded by the step index (PostTrainRun does).
   */
  async step(batch: PostTrainBatch, lr: number, rng: Rng = this.rng): Promise<number> {
    const params = this.optimizer.params;
    zeroGrad(params);
    const loss = tidy(() => {
      const { loss: l, release } = this.loss(batch, rng);
      try {
        backward(l);
      } finally {
        release();
      }
      this.optimizer.step(lr);
      return l;
    });
    this.stepCount++;
    try {
      return await loss.item();
    } finally {
      loss.dispose();
      zeroGrad(params);
    }
  }

  dispose(): void {
    this.dit.dispose();
    this.store.dispose();
  }
}

