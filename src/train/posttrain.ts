/**
 * Post-training (PRTS Sec. 3.4, DESIGN.md 4, issue 6 item 4): a freshly initialised DiT
 * action expert is attached to the pre-trained backbone and trained with the masked
 * flow-matching loss alone; the BC and CRL terms are dropped, as in PRTS. Gradients flow
 * into the backbone by default ("Gradients flow through the VLM backbone in both
 * stages"); `freezeBackbone` runs the backbone without recording and optimises the DiT
 * only.
 *
 * One step: backbone forward on the packed batch -> hidden [n, d]; each sample's DiT
 * cross-attends to its own context rows [contextStart[b], contextEnd[b]); tau, eps and
 * a_tau are drawn on the CPU from the step's seeded Rng; loss = sum(W (v_pred - v)^2)
 * with W from the validity mask (src/model/flow.ts); AdamW over the DiT and, unless
 * frozen, the backbone's parameters.
 */
import { AdamW, Rng, backward, decayGroups, fromArray, noGrad, tidy, zeroGrad, type Tensor } from '../engine/index';
import { DEFAULT_DIT, Dit, validateDitConfig, type DitConfig, type DitContext, type PreparedContext } from '../model/dit';
import { eulerSample, flowBatch, flowMatchingLoss, lossWeights, sampleTau, type LossNormalization, type TauSampling } from '../model/flow';
import { ParamStore } from '../model/params';
import type { GpuBlockMap } from '../engine/blockmap';
import { Role, ROLE_NAMES } from '../engine/roles';
import type { Runtime } from '../engine/runtime';
import type { LeRobotReader } from '../data/index';
import { buildBatch, decodeFrames, SampleIndex, TaskBalancedSampler, type LayoutFn, type PackedBatch, type Sample } from '../model/batch';
import type { WorkbenchConfig } from '../model/config';
import { PrtsModel, type ModelBatch } from '../model/prts';
import { IGNORE_TARGET, TokenizerBundle } from '../model/tokenizers/index';
import { augmentRng, jitterStates } from './augment';
import { applyOptimizer, applyParams, optimizerTensors, type CheckpointData } from './checkpoint';
import { ThroughputMeter } from './metrics';
import { prtsConfigOf, resolveTrainOptions, visionSpec } from './pretrain';
import type { PostTrainerState, PostTrainStepMetrics, TrainerState } from './trainer-state';
import type { NamedTensor } from './safetensors';
import { checkSchedule, lrAt, type LrSchedule } from './schedule';
import { fillPatchFeatures, patchesPerImage, type VisionSpec } from './vision';

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

export interface SampleOptions {
  /** Batch size when there is no context (a context fixes it to its sample count). */
  batch?: number;
  /** Validity mask [B * H * K]: padded entries are fed as 0 and returned as 0. */
  mask?: Float32Array;
  /** Start from this noise instead of drawing it from rng. */
  noise?: Float32Array;
}

/**
 * The policy's action sampler: `steps` Euler steps (default 5) of the DiT's velocity
 * from a_0 = eps to tau = 1, without recording gradients. The context (backbone hidden
 * states and per-sample ranges) is projected once and reused by every step.
 * Returns the chunks [B * H * K].
 */
export async function sampleActions(
  dit: Dit,
  context: DitContext | null,
  steps = 5,
  rng: Rng = new Rng(0),
  opts: SampleOptions = {},
): Promise<Float32Array> {
  const { horizon: H, actionDim: K } = dit.cfg;
  const B = context ? context.start.length : opts.batch;
  if (!B || !Number.isInteger(B) || B < 1) {
    throw new RangeError('sampleActions: pass a context or opts.batch (a positive integer) to fix the batch size');
  }
  if (opts.batch !== undefined && opts.batch !== B) {
    throw new RangeError(`sampleActions: opts.batch (${opts.batch}) differs from the context's ${B} samples`);
  }
  const rt = dit.rt;
  const prepared: { ctx: PreparedContext | undefined; mask: Tensor | undefined } = { ctx: undefined, mask: undefined };
  const keep = noGrad(() =>
    tidy(() => {
      const kept: Tensor[] = [];
      if (context) {
        prepared.ctx = dit.prepareContext(context);
        kept.push(prepared.ctx.bias, ...prepared.ctx.keys, ...prepared.ctx.values);
      }
      if (opts.mask) {
        prepared.mask = fromArray(rt, opts.mask, [B, H, K]);
        kept.push(prepared.mask);
      }
      return kept;
    }),
  );
  try {
    return await eulerSample(
      rt,
      (x, tau) => dit.forward({ noisy: x, tau, mask: prepared.mask, context: prepared.ctx }).velocity,
      [B, H, K],
      rng,
      { steps, mask: opts.mask, noise: opts.noise },
    );
  } finally {
    for (const t of keep) t.dispose();
  }
}

// ------------------------------------------------------------------ batches from a dataset

/**
 * The DiT's action space. The flow's noise is N(0, 1), so the DiT regresses actions in
 * FAST's quantile-normalised units ([-1, 1] spans q01..q99 per channel, clipped to
 * [-clip, clip] with the tokenizer's fitted clip, so no training target is cut; see
 * fast.ts) rather than raw dataset units; inference maps its samples back with the same
 * stats. RANGE_EPS is FastTokenizer's, so both normalisations are the same function.
 */
const RANGE_EPS = 1e-6;

export interface ActionSpace {
  /** Per-channel quantiles of the dataset's actions (length D). */
  q01: ArrayLike<number>;
  q99: ArrayLike<number>;
  /** 1 for channels that carry signal (length D); the others are masked and output 0. */
  channelMask: ArrayLike<number>;
  /** Normalised values are clipped to [-clip, clip] (default 1: the reference FAST). */
  clip?: number;
}

/** The action space of a checkpoint's FAST tokenizer. */
export function actionSpaceOf(fast: { q01: ArrayLike<number>; q99: ArrayLike<number>; channelMask: ArrayLike<number>; clip?: number }): ActionSpace {
  return { q01: fast.q01, q99: fast.q99, channelMask: fast.channelMask, clip: fast.clip ?? 1 };
}

/**
 * Dataset chunks [B * H * D] -> the DiT's normalised, padded tensor [B * H * K] and its
 * validity mask: a (step, channel) entry is valid when the step lies inside the episode
 * (stepValid, [B * H]; all valid when omitted) and the channel is one of the D real,
 * signal-carrying channels (Qwen-VLA's per-channel, per-step mask).
 */
export function toDitActions(space: ActionSpace, chunks: ArrayLike<number>, B: number, H: number, K: number, stepValid?: ArrayLike<number>): { actions: Float32Array; mask: Float32Array } {
  const D = space.q01.length;
  if (D > K) throw new RangeError(`toDitActions: the dataset has ${D} action channels, more than the DiT's K = ${K}`);
  if (chunks.length !== B * H * D) throw new RangeError(`toDitActions: chunks hold ${chunks.length} values, expected B * H * D = ${B} * ${H} * ${D}`);
  if (stepValid && stepValid.length !== B * H) throw new RangeError(`toDitActions: stepValid holds ${stepValid.length} values, expected B * H = ${B * H}`);
  const actions = new Float32Array(B * H * K);
  const mask = new Float32Array(B * H * K);
  const clip = space.clip ?? 1;
  for (let bh = 0; bh < B * H; bh++) {
    if (stepValid && !stepValid[bh]) continue;
    for (let d = 0; d < D; d++) {
      if (!space.channelMask[d]) continue;
      const v = chunks[bh * D + d];
      const x = ((v - space.q01[d]) / (space.q99[d] - space.q01[d] + RANGE_EPS)) * 2 - 1;
      actions[bh * K + d] = x < -clip ? -clip : x > clip ? clip : x;
      mask[bh * K + d] = 1;
    }
  }
  return { actions, mask };
}

/** The validity mask of inference (every step valid, the signal-carrying channels). */
export function ditChannelMask(space: ActionSpace, B: number, H: number, K: number): Float32Array {
  const mask = new Float32Array(B * H * K);
  for (let bh = 0; bh < B * H; bh++) for (let d = 0; d < space.q01.length; d++) if (space.channelMask[d]) mask[bh * K + d] = 1;
  return mask;
}

/** DiT samples [B * H * K] (normalised) -> dataset units [B * H * D]; masked channels are 0. */
export function fromDitActions(space: ActionSpace, out: ArrayLike<number>, B: number, H: number, K: number): Float32Array {
  const D = space.q01.length;
  if (out.length !== B * H * K) throw new RangeError(`fromDitActions: ${out.length} values, expected B * H * K = ${B} * ${H} * ${K}`);
  const res = new Float32Array(B * H * D);
  const clip = space.clip ?? 1;
  for (let bh = 0; bh < B * H; bh++) {
    for (let d = 0; d < D; d++) {
      if (!space.channelMask[d]) continue;
      // Clip like the training targets: the flow may overshoot them slightly.
      const x = Math.max(-clip, Math.min(clip, out[bh * K + d]));
      res[bh * D + d] = ((x + 1) / 2) * (space.q99[d] - space.q01[d] + RANGE_EPS) + space.q01[d];
    }
  }
  return res;
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

/** The DiT a workbench config implies: H = chunk length, K = the padded action dim, context = d_model. */
export function ditConfigFor(cfg: WorkbenchConfig, over: Partial<DitConfig> = {}): DitConfig {
  const c: DitConfig = { ...DEFAULT_DIT, ...over, horizon: cfg.model.chunkLength, actionDim: cfg.model.actionDim, contextDim: cfg.model.dModel };
  validateDitConfig(c);
  return c;
}

// ------------------------------------------------------------------ the post-training run

/** The seed of step k's tau / noise draw: a function of (seed, k) only, so a resumed run draws the same. */
export function stepSeed(seed: number, step: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 13)) >>> 0;
}

export interface PostTrainRunOptions {
  /** Optimizer steps of the run (default: the config's train.steps). */
  steps?: number;
  freezeBackbone?: boolean;
  /** Peak learning rate (default train.lr) and warmup steps (default train.warmupSteps, capped at steps). */
  lr?: number;
  warmup?: number;
  /** Default train.seed. */
  seed?: number;
  /** Overrides of the DiT's DEFAULT_DIT sizes (horizon, K and contextDim come from the config). */
  dit?: Partial<DitConfig>;
  /** Overrides of the flow-time sampling (src/model/flow.ts DEFAULT_TAU); kept in the checkpoint so a resumed run draws the same. */
  tau?: Partial<TauSampling>;
  onProgress?: (message: string) => void;
}

export class PostTrainError extends Error {
  override name = 'PostTrainError';
}

/**
 * Post-training driven one step() at a time, like Pretrainer: load a pre-trained
 * checkpoint (or a post-training one to resume), attach a fresh DiT, draw task-balanced
 * batches of prefix documents, AdamW with warmup + cosine on the masked flow-matching
 * loss, checkpoints with the DiT's `dit.*` parameters and config (checkpoint.ts).
 * Deterministic: the sampler, the DiT init and each step's tau / noise (seeded by the
 * step index) are functions of the seed, so a resumed run takes the same steps.
 */
export class PostTrainRun {
  readonly history: PostTrainStepMetrics[];
  readonly schedule: LrSchedule;
  private stepIndex: number;
  private tokensSeen: number;
  private secondsSpent: number;
  private readonly meter = new ThroughputMeter();
  private disposed = false;

  private constructor(
    readonly source: CheckpointData,
    readonly reader: LeRobotReader,
    readonly index: SampleIndex,
    readonly bundle: TokenizerBundle,
    readonly model: PrtsModel,
    readonly trainer: PostTrainer,
    readonly sampler: TaskBalancedSampler,
    readonly vision: VisionSpec,
    readonly stateBase: Omit<PostTrainerState, 'step' | 'samplerStep' | 'tokens' | 'seconds'>,
    start: { step: number; tokens: number; seconds: number; history: PostTrainStepMetrics[] },
  ) {
    this.schedule = { lr: stateBase.lr, warmup: stateBase.warmup, steps: stateBase.steps, minRatio: source.config.train.minLrRatio ?? 0.1 };
    checkSchedule(this.schedule);
    this.stepIndex = start.step;
    this.tokensSeen = start.tokens;
    this.secondsSpent = start.seconds;
    this.history = start.history;
  }

  /**
   * From a pre-training checkpoint: a fresh DiT. From a post-training checkpoint: resume
   * it (DiT, backbone, optimizer, sampler position, history); options that would change
   * the run (freezeBackbone, DiT sizes, seed) must then agree with it.
   */
  static async create(rt: Runtime, source: CheckpointData, reader: LeRobotReader, opts: PostTrainRunOptions = {}): Promise<PostTrainRun> {
    const log = opts.onProgress ?? (() => {});
    const cfg = source.config;
    const resumed = source.trainer.kind === 'posttrain' ? (source.trainer as PostTrainerState) : null;
    if (resumed && !source.dit) throw new PostTrainError('the post-training checkpoint has no DiT config (dit.json)');
    const steps = opts.steps ?? resumed?.steps ?? cfg.train.steps;
    const train = resolveTrainOptions(cfg, steps);
    const freeze = opts.freezeBackbone ?? resumed?.freezeBackbone ?? false;
    const seed = opts.seed ?? resumed?.seed ?? cfg.train.seed;
    if (resumed) {
      if (freeze !== resumed.freezeBackbone) throw new PostTrainError(`the checkpoint was post-trained with freezeBackbone = ${resumed.freezeBackbone}; resume it the same way`);
      if (seed !== resumed.seed) throw new PostTrainError(`the checkpoint's post-training seed is ${resumed.seed}, not ${seed}`);
    }
    const tau = opts.tau ?? resumed?.tau;
    if (resumed && opts.tau && JSON.stringify(opts.tau) !== JSON.stringify(resumed.tau ?? {})) {
      throw new PostTrainError(`the checkpoint was post-trained with tau sampling ${JSON.stringify(resumed.tau ?? {})}; resume it the same way`);
    }
    if (tau) sampleTau(new Rng(0), 1, tau); // names a bad field before any GPU work
    const ditCfg = resumed ? source.dit! : ditConfigFor(cfg, opts.dit);
    if (resumed && opts.dit && JSON.stringify(ditConfigFor(cfg, opts.dit)) !== JSON.stringify(ditCfg)) {
      throw new PostTrainError('the DiT sizes differ from the checkpoint\'s dit.json; omit them to resume');
    }
    log(`indexing the dataset (${reader.episodes.length} episodes, ${reader.totalFrames} frames)`);
    const index = await SampleIndex.fromReader(reader, { horizon: cfg.model.chunkLength, cameras: cfg.model.cameras, stride: train.sampleStride });
    let bundle: TokenizerBundle;
    try {
      bundle = TokenizerBundle.fromJSON(source.tokenizers);
    } catch (e) {
      throw new PostTrainError(`checkpoint tokenizers.json: ${(e as Error).message}`);
    }
    if (index.actionDim !== bundle.fast.actionDim) {
      throw new PostTrainError(`the dataset has ${index.actionDim} action channels, the checkpoint's FAST tokenizer ${bundle.fast.actionDim}; post-train on data of the same embodiment`);
    }
    if (index.stateDim !== bundle.proprio.dims) {
      throw new PostTrainError(`the dataset's state has ${index.stateDim} dimensions, the checkpoint's proprio tokenizer ${bundle.proprio.dims}`);
    }
    const model = new PrtsModel(rt, prtsConfigOf(cfg, bundle.vocab.size));
    let trainer: PostTrainer | null = null;
    try {
      const ditNames = (t: { name: string }) => t.name.startsWith('dit.');
      applyParams(model.store, source.params.filter((t) => !ditNames(t)));
      trainer = new PostTrainer(prtsBackbone(model), { dit: ditCfg, freezeBackbone: freeze, weightDecay: cfg.train.weightDecay, maxGradNorm: cfg.train.gradClip, seed, ...(tau ? { tau } : {}) });
      const sampler = new TaskBalancedSampler(index.taskOfSample, {
        tasksPerBatch: train.tasksPerBatch,
        samplesPerTask: train.samplesPerTask,
        // Not the pre-training stream: post-training sees the batches in a different order.
        seed: (train.samplerSeed + 0x9e37) >>> 0,
      });
      let start = { step: 0, tokens: 0, seconds: 0, history: [] as PostTrainStepMetrics[] };
      if (resumed) {
        applyParams(trainer.store, source.params.filter(ditNames));
        applyOptimizer(trainer.optimizer, source.optimizer, source.optimizerSteps);
        sampler.skip(resumed.samplerStep);
        start = { step: resumed.step, tokens: resumed.tokens, seconds: resumed.seconds, history: [...(source.postMetrics ?? [])] };
        log(`resumed post-training at step ${start.step}`);
      }
      const base = {
        type: 'prts-trainer' as const,
        version: 1 as const,
        kind: 'posttrain' as const,
        steps,
        samplerSeed: (train.samplerSeed + 0x9e37) >>> 0,
        withCrl: source.trainer.withCrl,
        freezeBackbone: freeze,
        lr: opts.lr ?? resumed?.lr ?? cfg.train.lr,
        warmup: Math.min(opts.warmup ?? resumed?.warmup ?? cfg.train.warmupSteps, steps),
        seed,
        pretrainStep: resumed ? resumed.pretrainStep : source.trainer.step,
        ...(tau ? { tau } : {}),
      };
      log(
        `DiT: ${trainer.dit.params(trainer.store).reduce((a, p) => a + p.size, 0).toLocaleString('en-US')} parameters (d ${ditCfg.dModel}, ${ditCfg.layers} layers, H ${ditCfg.horizon}, K ${ditCfg.actionDim}); ` +
          `backbone ${freeze ? 'frozen' : 'trained'}; ${index.size} samples over ${index.tasks.length} tasks`,
      );
      return new PostTrainRun(source, reader, index, bundle, model, trainer, sampler, visionSpec(cfg), base, start);
    } catch (e) {
      trainer?.dispose();
      model.store.dispose();
      throw e;
    }
  }

  get config(): WorkbenchConfig {
    return this.source.config;
  }

  get completedSteps(): number {
    return this.stepIndex;
  }

  get done(): boolean {
    return this.stepIndex >= this.stateBase.steps;
  }

  get tokens(): number {
    return this.tokensSeen;
  }

  get seconds(): number {
    return this.secondsSpent;
  }

  /** Lays out (prefix documents), packs and fills the patch features of some samples. */
  async assemble(samples: readonly Sample[]): Promise<{ packed: PackedBatch; batch: PostTrainBatch }> {
    const cfg = this.config;
    const imagePatches = cfg.model.cameras.map(() => patchesPerImage(this.vision));
    const layout = prefixLayout(this.bundle);
    const tile = cfg.model.attnTile;
    let maxTokens = cfg.train.rowTokens ?? 0;
    if (maxTokens === 0) {
      let sum = 0;
      for (const s of samples) sum += layout(s, { crl: false, imagePatches }).ids.length;
      maxTokens = Math.ceil(sum / tile) * tile;
    }
    const packed = buildBatch(samples, layout, { maxTokens, tile, gamma: cfg.train.gamma, imagePatches, withCrl: false });
    fillPatchFeatures(packed, await decodeFrames(this.reader, packed.frames.flat()), this.vision);
    return { packed, batch: postTrainBatch(packed, actionSpaceOf(this.bundle.fast), this.trainer.cfg.dit.actionDim) };
  }

  /** One optimizer step on the next batch of the seeded stream. */
  async step(): Promise<PostTrainStepMetrics> {
    if (this.disposed) throw new PostTrainError('step(): the run was disposed');
    if (this.done) throw new PostTrainError(`step(): the run is complete (${this.stateBase.steps} steps)`);
    const t0 = performance.now();
    const drawn = this.sampler.next();
    const samples = Array.from(drawn.ids, (id) => this.index.sample(id));
    const noise = this.config.train.stateNoise ?? 0;
    // Offset from pre-training's stream: the two runs draw different jitter for the same batch index.
    const jittered = noise > 0 ? jitterStates(samples, this.bundle.proprio, noise, augmentRng(this.stateBase.seed ^ 0x9057, drawn.step)) : samples;
    const { packed, batch } = await this.assemble(jittered);
    const step = this.stepIndex;
    const lr = lrAt(step, this.schedule);
    const loss = await this.trainer.step(batch, lr, new Rng(stepSeed(this.stateBase.seed, step)));
    if (!Number.isFinite(loss)) throw new PostTrainError(`step ${step}: the flow-matching loss is ${loss}; lower the learning rate or check the data`);
    const gradNorm = await this.trainer.optimizer.lastGradNorm();
    const ms = performance.now() - t0;
    const tokens = packed.n - packed.padTokens;
    this.meter.update(ms / 1000, tokens);
    this.stepIndex++;
    this.tokensSeen += tokens;
    this.secondsSpent += ms / 1000;
    const m: PostTrainStepMetrics = { step, lr, loss, gradNorm, samples: packed.samples, tokens, ms, etaSec: this.meter.eta(this.stateBase.steps - this.stepIndex) };
    this.history.push(m);
    return m;
  }

  state(): PostTrainerState {
    return { ...this.stateBase, step: this.stepIndex, samplerStep: this.sampler.step, tokens: this.tokensSeen, seconds: this.secondsSpent };
  }

  /** Everything a checkpoint holds: backbone (+ its LM / CRL heads) and `dit.*` parameters, AdamW state, dit.json. */
  async checkpoint(): Promise<CheckpointData> {
    const read = async (name: string, t: Tensor): Promise<NamedTensor> => ({ name, shape: [...t.shape], data: Float32Array.from((await t.read()) as Float32Array) });
    const params: NamedTensor[] = [];
    for (const [name, t] of this.model.store.tensors) params.push(await read(name, t));
    for (const t of this.trainer.dit.params(this.trainer.store)) params.push(await read(t.name!, t));
    const { tensors, steps } = await optimizerTensors(this.trainer.optimizer);
    return {
      config: this.config,
      tokenizers: this.bundle.toJSON(),
      params,
      optimizer: tensors,
      optimizerSteps: steps,
      trainer: this.state(),
      metrics: [...this.source.metrics],
      postMetrics: [...this.history],
      dit: { ...this.trainer.cfg.dit },
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.trainer.optimizer.dispose();
    this.trainer.dispose();
    this.model.store.dispose();
  }
}

/**
 * A post-training checkpoint seen as the pre-training checkpoint of its backbone: the
 * non-DiT parameters (backbone, LM and CRL heads), no DiT, zero AdamW moments, and a
 * 'pretrain' trainer state at the pre-training step it started from. For tools that only
 * read the backbone (CrlProbe: value curves and t-SNE of phi, which go through
 * Pretrainer), never for training on. A pre-training checkpoint is returned as it is.
 */
export function backboneCheckpoint(data: CheckpointData): CheckpointData {
  if (data.trainer.kind !== 'posttrain') return data;
  const st = data.trainer as PostTrainerState;
  const params = data.params.filter((t) => !t.name.startsWith('dit.'));
  const optimizer: NamedTensor[] = params.flatMap((t) => [
    { name: `exp_avg.${t.name}`, shape: [...t.shape], data: new Float32Array(t.data.length) },
    { name: `exp_avg_sq.${t.name}`, shape: [...t.shape], data: new Float32Array(t.data.length) },
  ]);
  const steps = Math.max(1, st.pretrainStep);
  const trainer: TrainerState = {
    type: 'prts-trainer',
    version: 1,
    kind: 'pretrain',
    step: st.pretrainStep,
    steps,
    samplerSeed: resolveTrainOptions(data.config, steps).samplerSeed,
    samplerStep: 0,
    tokens: 0,
    seconds: 0,
    withCrl: st.withCrl,
  };
  return {
    config: data.config,
    tokenizers: data.tokenizers,
    params,
    optimizer,
    optimizerSteps: Object.fromEntries(params.map((t) => [t.name, 0])),
    trainer,
    metrics: data.metrics,
  };
}
