/**
 * PRTS pre-training objective in one forward pass (DESIGN.md 3-4): the backbone runs
 * once over the packed batch with the role-aware mask; BC reads the logits of the AR
 * action span, CRL reads phi at <|action_end|> and psi at <|goal_end|>.
 *   loss = BC + lambda_crl (L_sa->l + L_l->sa) [+ lambda_grounding L_grounding]
 * With lambdaCrl = 0 and a batch laid out without CRL blocks this is the BC-only
 * ablation with everything else identical.
 */
import { uploadBlockMap, buildBlockMap, type BlockMap, type GpuBlockMap } from '../engine/blockmap';
import { add, scale } from '../engine/ops/elementwise';
import { infoNCE, type InfoNCEOutput } from '../engine/ops/infonce';
import { crossEntropy } from '../engine/ops/xent';
import { PRTS_RULE } from '../engine/roles';
import type { Runtime } from '../engine/runtime';
import { fromArray, type Tensor } from '../engine/tensor';
import { planActionStartGoal } from './action-start-goal';
import { Backbone, type BackboneConfig, type KvWrite } from './backbone';
import { GroundingHead, type GroundingTargets } from './grounding';
import { CrlHeads, LmHead, type CrlHeadConfig } from './heads';
import { ParamStore } from './params';

export interface PrtsConfig {
  backbone: BackboneConfig;
  crl: CrlHeadConfig;
  /** Discount of the CRL weights gamma^(T - t) (paper 0.995, PRTS code 0.99). */
  gamma: number;
  lambdaCrl: number;
  /** Classes of the grounding head (src/model/grounding.ts); 0 or absent: no head. */
  groundingClasses?: number;
  /** Weight of the grounding loss (needs groundingClasses); default 0. */
  lambdaGrounding?: number;
  /** Attention tile (32 or 64). */
  tile: number;
  seed: number;
}

/** The packed batch fields the model reads (src/model/batch.ts and the engine check produce them). */
export interface ModelBatch {
  n: number;
  ids: Int32Array;
  roles: Uint8Array;
  docs: Int32Array;
  positions: Int32Array;
  /** [n * patchFeatures] or absent when the model has no vision stem. */
  patchFeatures?: Float32Array;
  targetIndices: Int32Array;
  targets: Int32Array;
  actionEndIndex: Int32Array;
  goalEndIndex: Int32Array;
  goalOf: Int32Array;
  t: Int32Array;
  T: Int32Array;
  /** The block map, when the batch builder already made it (built here otherwise). */
  blockMap?: BlockMap;
  /** Rows and labels of the grounding loss (src/model/grounding.ts groundingTargets). */
  grounding?: GroundingTargets | null;
}

export interface PrtsLosses {
  total: Tensor;
  bc: Tensor;
  /** Present when the batch carries CRL blocks and lambdaCrl > 0 (or CRL is evaluated). */
  crl: InfoNCEOutput | null;
  /** Present when the model has a grounding head and the batch carries grounding targets. */
  grounding: { loss: Tensor; logits: Tensor; labels: Int32Array } | null;
}

export class PrtsModel {
  readonly cfg: PrtsConfig;
  readonly store: ParamStore;
  readonly backbone: Backbone;
  readonly lmHead: LmHead;
  readonly crlHeads: CrlHeads;
  readonly groundingHead: GroundingHead | null;

  constructor(rt: Runtime, cfg: PrtsConfig) {
    if (!(cfg.gamma > 0 && cfg.gamma <= 1)) throw new RangeError(`gamma must be in (0, 1], got ${cfg.gamma}`);
    if (!(cfg.lambdaCrl >= 0)) throw new RangeError(`lambdaCrl must be >= 0, got ${cfg.lambdaCrl}`);
    const lg = cfg.lambdaGrounding ?? 0;
    if (!(lg >= 0)) throw new RangeError(`lambdaGrounding must be >= 0, got ${lg}`);
    if (lg > 0 && !cfg.groundingClasses) throw new RangeError(`lambdaGrounding is ${lg} but the model has no grounding head (groundingClasses is 0)`);
    this.cfg = cfg;
    this.store = new ParamStore(rt, cfg.seed);
    this.backbone = new Backbone(this.store, cfg.backbone);
    this.lmHead = new LmHead(this.store, cfg.backbone.dModel, cfg.backbone.vocabSize);
    this.crlHeads = new CrlHeads(this.store, cfg.backbone.dModel, cfg.crl);
    // Created last so that the other parameters draw the same initial values with or without it.
    this.groundingHead = cfg.groundingClasses ? new GroundingHead(this.store, cfg.backbone.dModel, cfg.groundingClasses) : null;
  }

  get rt(): Runtime {
    return this.store.rt;
  }

  blockMap(batch: ModelBatch): GpuBlockMap {
    const map = batch.blockMap ?? buildBlockMap(batch.docs, batch.roles, { tile: this.cfg.tile, rule: PRTS_RULE });
    if (map.tile !== this.cfg.tile) throw new RangeError(`batch.blockMap uses tile ${map.tile}, the model is configured for ${this.cfg.tile}`);
    return uploadBlockMap(this.rt, map);
  }

  /** Hidden states of the packed batch; `kv` also fills a KV cache (inference). */
  hidden(batch: ModelBatch, map: GpuBlockMap, kv?: KvWrite): Tensor {
    const rt = this.rt;
    const { n } = batch;
    const pf = this.cfg.backbone.patchFeatures;
    let patches: Tensor | undefined;
    if (pf > 0) {
      if (!batch.patchFeatures || batch.patchFeatures.length !== n * pf) {
        throw new RangeError(`batch.patchFeatures must hold n * patchFeatures = ${n * pf} values, got ${batch.patchFeatures?.length ?? 0}`);
      }
      patches = fromArray(rt, batch.patchFeatures, [n, pf]);
    }
    return this.backbone.forward({
      ids: batch.ids,
      positions: batch.positions,
      patches,
      map,
      goal: this.cfg.backbone.actionStartGoal ? planActionStartGoal(batch.ids, batch.roles, batch.docs) : null,
    }, kv);
  }

  /** Logits of the AR action span: [targets, vocab]. */
  arLogits(hidden: Tensor, batch: ModelBatch): Tensor {
    return this.lmHead.logits(hidden, batch.targetIndices);
  }

  phi(hidden: Tensor, batch: ModelBatch): Tensor {
    return this.crlHeads.phi(hidden, batch.actionEndIndex);
  }

  psi(hidden: Tensor, batch: ModelBatch): Tensor {
    return this.crlHeads.psi(hidden, batch.goalEndIndex);
  }

  /** The grounding loss of a batch (mean cross-entropy of its counted samples), or null without head or targets. */
  groundingLoss(hidden: Tensor, batch: ModelBatch): PrtsLosses['grounding'] {
    const g = batch.grounding;
    if (!this.groundingHead || !g) return null;
    const logits = this.groundingHead.logits(hidden, g.rows);
    return { loss: crossEntropy(logits, g.labels), logits, labels: g.labels };
  }

  /**
   * BC + lambda (L_sa->l + L_l->sa) [+ lambda_grounding L_grounding]; CRL is skipped for
   * batches without CRL blocks, grounding for batches without grounding targets.
   * The block map must stay alive until backward has run (release it after the step).
   */
  losses(batch: ModelBatch, map: GpuBlockMap): PrtsLosses {
    const h = this.hidden(batch, map);
    const logits = this.arLogits(h, batch);
    const bc = crossEntropy(logits, batch.targets);
    let total = bc;
    const grounding = this.groundingLoss(h, batch);
    const lg = this.cfg.lambdaGrounding ?? 0;
    if (grounding && lg > 0) total = add(total, lg === 1 ? grounding.loss : scale(grounding.loss, lg));
    const hasCrl = batch.actionEndIndex.length > 0 && batch.goalEndIndex.length > 0;
    if (!hasCrl) return { total, bc, crl: null, grounding };
    const lambda = this.cfg.lambdaCrl;
    const crl = infoNCE(this.phi(h, batch), this.psi(h, batch), {
      goalOf: batch.goalOf,
      t: batch.t,
      T: batch.T,
      gamma: this.cfg.gamma,
      logScale: this.crlHeads.logScale,
      maxScale: this.cfg.crl.maxScale,
      weights: { saL: lambda, lSa: lambda },
    });
    return { total: lambda > 0 ? add(total, crl.loss) : total, bc, crl, grounding };
  }
}
