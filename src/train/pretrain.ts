/**
 * PRTS pre-training (issue 6, item 3; PRTS Sec. 3.2-3.3 and 6.1; DESIGN.md 3-4):
 *   loss = BC + lambda_crl (L_sa->l + L_l->sa) [+ lambda_grounding L_grounding]
 * on task-balanced batches of a LeRobot dataset, AdamW (decay / no-decay groups, global
 * gradient-norm clipping), linear warmup + cosine decay.
 *
 * The caller drives the loop one step() at a time, so pausing is simply not calling it,
 * cancelling is disposing, and a checkpoint can be taken between any two steps
 * (checkpoint.ts). Everything is a function of the config's seed: the parameter init
 * (ParamStore seed), the batch stream (TaskBalancedSampler seed) and the tokenizers
 * (fitted deterministically on the dataset), so two runs of the same config on the same
 * data give the same losses, and a resumed run replays the sampler to its position.
 *
 * No-CRL ablation (lambda_crl = 0): the batches are laid out WITHOUT the CRL_action and
 * CRL_goal blocks, as in the paper's BC baseline, unless train.crlBlocks = true. The
 * samples, their order, the tokenizers, the model (CRL heads included, so parameter
 * names and init are identical), the optimizer groups and the schedule are the same;
 * each BC-only document is exactly the BC prefix of its CRL version, and the role-aware
 * mask makes the BC logits independent of the CRL blocks, so the two runs differ only
 * in the CRL gradient (and the CRL blocks' compute). The CRL heads of a lambda = 0 run
 * get no gradient and stay at their init.
 */
import { backward, zeroGrad } from '../engine/autograd.ts';
import { readInfoNCEDiagnostics } from '../engine/ops/infonce.ts';
import { AdamW } from '../engine/optim.ts';
import type { Runtime } from '../engine/runtime.ts';
import { scale } from '../engine/ops/elementwise.ts';
import { Scope } from '../engine/tensor.ts';
import type { ImageFrame, LeRobotReader } from '../data/index.ts';
import { buildBatch, decodeFrames, SampleIndex, shareGoals, startFrameMultiplicity, TaskBalancedSampler, type PackedBatch, type Sample } from '../model/batch.ts';
import { proprioBins, type WorkbenchConfig } from '../model/config.ts';
import { argmaxAccuracy, groundingTargets } from '../model/grounding.ts';
import { PrtsModel, type PrtsConfig } from '../model/prts.ts';
import { TokenizerBundle, type DocumentLayout, type EmbodimentDescriptor } from '../model/tokenizers/index.ts';
import { augmentRng, jitterStates } from './augment.ts';
import { groundingLabels, summarizeGroundingLabels } from './grounding-labels.ts';
import { applyOptimizer, applyParams, optimizerTensors, type CheckpointData } from './checkpoint.ts';
import { lSaFloor, ThroughputMeter, type PretrainStepMetrics } from './metrics.ts';
import type { NamedTensor } from './safetensors.ts';
import { checkSchedule, lrAt, type LrSchedule } from './schedule.ts';
import type { PretrainResume, TrainerState } from './trainer-state.ts';
import { fillPatchFeatures, patchesPerImage, patchFeatureWidth, type VisionSpec } from './vision.ts';

export class PretrainError extends Error {
  override name = 'PretrainError';
}

/** Training options with every optional config field resolved (see docs/training.md). */
export interface ResolvedTrainOptions {
  steps: number;
  tasksPerBatch: number;
  samplesPerTask: number;
  withCrl: boolean;
  rowTokens: number;
  minLrRatio: number;
  sampleStride: number;
  checkpointEvery: number;
  /** Seed of the batch stream (the model init uses train.seed itself). */
  samplerSeed: number;
  /** Batches whose gradients one optimizer step averages (train.accumulate). */
  accumulate: number;
}

/** One batch's loss terms, read back (PretrainStepMetrics averages them over the step's batches). */
export interface MicroBatchLosses {
  total: number;
  bc: number;
  saL: number | null;
  lSa: number | null;
  accuracy: number | null;
  temperature: number | null;
  grounding: number | null;
  groundingAccuracy: number | null;
  hasGrounding: boolean;
}

function meanLosses(parts: readonly MicroBatchLosses[]): Omit<MicroBatchLosses, 'temperature' | 'hasGrounding'> {
  const mean = (f: (p: MicroBatchLosses) => number | null): number | null => {
    let s = 0;
    for (const p of parts) {
      const v = f(p);
      if (v === null) return null;
      s += v;
    }
    return s / parts.length;
  };
  return {
    total: mean((p) => p.total)!,
    bc: mean((p) => p.bc)!,
    saL: mean((p) => p.saL),
    lSa: mean((p) => p.lSa),
    accuracy: mean((p) => p.accuracy),
    grounding: mean((p) => p.grounding),
    groundingAccuracy: mean((p) => p.groundingAccuracy),
  };
}

export function resolveTrainOptions(cfg: WorkbenchConfig, steps = cfg.train.steps): ResolvedTrainOptions {
  const t = cfg.train;
  const samplesPerTask = t.samplesPerTask ?? (t.batchSize >= 8 ? 4 : 2);
  if (t.batchSize % samplesPerTask !== 0 || t.batchSize < samplesPerTask) {
    throw new PretrainError(`train.samplesPerTask (${samplesPerTask}) must divide train.batchSize (${t.batchSize})`);
  }
  if (!Number.isInteger(steps) || steps < 1) throw new PretrainError(`steps must be a positive integer, got ${steps}`);
  return {
    steps,
    tasksPerBatch: t.batchSize / samplesPerTask,
    samplesPerTask,
    withCrl: t.lambdaCrl > 0 || t.crlBlocks === true,
    rowTokens: t.rowTokens ?? 0,
    minLrRatio: t.minLrRatio ?? 0.1,
    sampleStride: t.sampleStride ?? 1,
    checkpointEvery: t.checkpointEvery ?? 100,
    // Distinct from the init seed so the batch order and the weights are not drawn from one stream.
    samplerSeed: (t.seed + 1) >>> 0,
    accumulate: t.accumulate ?? 1,
  };
}

function summarizeLabels(byEpisode: Int32Array, episodes: number) {
  if (byEpisode.length !== episodes) throw new PretrainError(`groundingLabels has ${byEpisode.length} entries, the dataset ${episodes} episodes`);
  return summarizeGroundingLabels(byEpisode);
}

export function visionSpec(cfg: WorkbenchConfig): VisionSpec {
  return { imageSize: cfg.model.imageSize, patchSize: cfg.model.patchSize, cameras: cfg.model.cameras.length, positions: cfg.model.patchPositions ?? false };
}

/** The PrtsModel config a workbench config implies, for a fitted vocabulary. */
export function prtsConfigOf(cfg: WorkbenchConfig, vocabSize: number): PrtsConfig {
  const m = cfg.model;
  return {
    backbone: {
      vocabSize,
      dModel: m.dModel,
      layers: m.layers,
      heads: m.heads,
      headDim: m.headDim,
      mlpHidden: Math.round(m.mlpRatio * m.dModel),
      ropeBase: 10000,
      normEps: 1e-6,
      patchFeatures: patchFeatureWidth(visionSpec(cfg)),
      actionStartGoal: m.actionStartGoal ?? false,
    },
    crl: { hidden: m.crlHidden, embedDim: m.crlDim, temperatureInit: cfg.train.temperatureInit, maxScale: cfg.train.maxScale },
    gamma: cfg.train.gamma,
    lambdaCrl: cfg.train.lambdaCrl,
    groundingClasses: m.groundingClasses ?? 0,
    lambdaGrounding: cfg.train.lambdaGrounding ?? 0,
    tile: m.attnTile,
    seed: cfg.train.seed,
  };
}

/**
 * Fits the tokenizers on the dataset: FAST (quantile normalisation from the chunks, BPE
 * with config actionVocab) on every action chunk of the index, the word-level
 * instruction tokenizer on the task strings with the embodiment prompt, proprio bins
 * from the state's q01/q99 stats (10^stateDigits bins: a state value carries as much
 * resolution as stateDigits decimal digits, in one token).
 */
export function fitTokenizers(cfg: WorkbenchConfig, reader: LeRobotReader, index: SampleIndex): TokenizerBundle {
  const st = reader.stats['observation.state'];
  if (!st?.q01 || !st?.q99) throw new PretrainError('the dataset has no q01/q99 stats for "observation.state" (meta/stats.json); the proprio tokenizer needs them');
  const embodiment: EmbodimentDescriptor = {
    robot: reader.info.robot_type ?? 'robot',
    arms: 1,
    control: 'ee-delta',
    rateHz: reader.fps,
    chunk: cfg.model.chunkLength,
    actionDims: index.actionDim,
  };
  return TokenizerBundle.fit(
    { instructions: reader.tasks, chunks: index.chunks(), stateStats: { q01: st.q01, q99: st.q99 }, embodiment },
    {
      instruction: { mode: 'word', maxWords: cfg.model.textVocab, promptStyle: cfg.model.embodimentPrompt ?? 'compact' },
      fast: { horizon: cfg.model.chunkLength, actionDim: index.actionDim, scale: cfg.model.fastScale, vocabSize: cfg.model.actionVocab },
      proprioBins: proprioBins(cfg.model),
    },
  );
}

export interface PretrainerOptions {
  /** Overrides train.steps (e.g. the CLI's --steps). */
  steps?: number;
  /** Resume from a loaded checkpoint (checkpoint.ts loadCheckpoint). */
  resume?: PretrainResume;
  /** Progress of the setup (index, tokenizers, model), for long datasets. */
  onProgress?: (message: string) => void;
  /**
   * Grounding label of each episode (-1: none) in place of the ones the simulator's
   * metadata implies (grounding-labels.ts): datasets labelled elsewhere, and tests.
   */
  groundingLabels?: Int32Array;
}

export class Pretrainer {
  readonly options: ResolvedTrainOptions;
  readonly schedule: LrSchedule;
  readonly vision: VisionSpec;
  readonly imagePatches: number[];
  /** Every step's metrics since the start of the run (restored on resume). */
  readonly history: PretrainStepMetrics[];
  private stepIndex: number;
  private tokensSeen: number;
  private secondsSpent: number;
  private readonly meter = new ThroughputMeter();
  private disposed = false;

  private constructor(
    readonly config: WorkbenchConfig,
    readonly reader: LeRobotReader,
    readonly index: SampleIndex,
    readonly bundle: TokenizerBundle,
    readonly model: PrtsModel,
    readonly optimizer: AdamW,
    readonly sampler: TaskBalancedSampler,
    options: ResolvedTrainOptions,
    start: { step: number; tokens: number; seconds: number; history: PretrainStepMetrics[] },
    /** Grounding label of each episode (-1: none), when train.lambdaGrounding > 0. */
    private readonly groundingByEpisode: Int32Array | null = null,
  ) {
    this.options = options;
    this.schedule = { lr: config.train.lr, warmup: Math.min(config.train.warmupSteps, options.steps), steps: options.steps, minRatio: options.minLrRatio };
    checkSchedule(this.schedule);
    this.vision = visionSpec(config);
    this.imagePatches = config.model.cameras.map(() => patchesPerImage(this.vision));
    this.stepIndex = start.step;
    this.tokensSeen = start.tokens;
    this.secondsSpent = start.seconds;
    this.history = start.history;
  }

  static async create(rt: Runtime, config: WorkbenchConfig, reader: LeRobotReader, opts: PretrainerOptions = {}): Promise<Pretrainer> {
    const log = opts.onProgress ?? (() => {});
    const resume = opts.resume;
    const options = resolveTrainOptions(config, opts.steps ?? resume?.trainer.steps ?? config.train.steps);
    if (resume && resume.trainer.withCrl !== options.withCrl) {
      throw new PretrainError(`the checkpoint was trained ${resume.trainer.withCrl ? 'with' : 'without'} CRL blocks but the config asks for ${options.withCrl ? 'them' : 'none'} (train.lambdaCrl / train.crlBlocks changed)`);
    }
    log(`indexing the dataset (${reader.episodes.length} episodes, ${reader.totalFrames} frames)`);
    const index = await SampleIndex.fromReader(reader, { horizon: config.model.chunkLength, cameras: config.model.cameras, stride: options.sampleStride });
    if (index.actionDim > config.model.actionDim) {
      throw new PretrainError(`model.actionDim (${config.model.actionDim}) is smaller than the dataset's action dimension (${index.actionDim})`);
    }
    if (index.stateDim > config.model.stateDim) {
      throw new PretrainError(`model.stateDim (${config.model.stateDim}) is smaller than the dataset's state dimension (${index.stateDim})`);
    }
    let grounding: Int32Array | null = null;
    if ((config.train.lambdaGrounding ?? 0) > 0) {
      const labels = opts.groundingLabels ? summarizeLabels(opts.groundingLabels, reader.episodes.length) : groundingLabels(reader.episodes);
      if (labels.labelled === 0) {
        throw new PretrainError(`train.lambdaGrounding is ${config.train.lambdaGrounding} but no episode of the dataset names a goal object standing in a task region (the grounding labels need episodes the simulator wrote, with meta task_id and init_index)`);
      }
      const classes = config.model.groundingClasses ?? 0;
      if (labels.classes > classes) throw new PretrainError(`model.groundingClasses is ${classes} but the dataset's tasks have ${labels.classes} regions`);
      log(`grounding labels on ${labels.labelled} of ${reader.episodes.length} episodes (${labels.classes} regions)`);
      grounding = labels.byEpisode;
    }
    log(`${index.size} samples over ${index.tasks.length} tasks; ${resume ? 'loading the checkpoint tokenizers' : 'fitting tokenizers'}`);
    const bundle = resume?.tokenizers ?? fitTokenizers(config, reader, index);
    const model = new PrtsModel(rt, prtsConfigOf(config, bundle.vocab.size));
    const optimizer = new AdamW(
      [
        { params: model.store.decayed(), weightDecay: config.train.weightDecay },
        { params: model.store.notDecayed(), weightDecay: 0 },
      ],
      { betas: [0.9, 0.95], eps: 1e-8, maxGradNorm: config.train.gradClip },
    );
    const sampler = new TaskBalancedSampler(index.taskOfSample, {
      tasksPerBatch: options.tasksPerBatch,
      samplesPerTask: options.samplesPerTask,
      seed: options.samplerSeed,
      multiplicity: startFrameMultiplicity(index, config.train.startFrames),
    });
    let start = { step: 0, tokens: 0, seconds: 0, history: [] as PretrainStepMetrics[] };
    try {
      if (resume) {
        applyParams(model.store, resume.params);
        applyOptimizer(optimizer, resume.optimizer, resume.optimizerSteps);
        if (resume.trainer.samplerSeed !== options.samplerSeed) {
          throw new PretrainError(`the checkpoint's sampler seed ${resume.trainer.samplerSeed} differs from the config's (${options.samplerSeed}); train.seed changed`);
        }
        sampler.skip(resume.trainer.samplerStep);
        start = { step: resume.trainer.step, tokens: resume.trainer.tokens, seconds: resume.trainer.seconds, history: [...resume.metrics] };
        log(`resumed at step ${start.step}`);
      }
    } catch (e) {
      optimizer.dispose();
      model.store.dispose();
      throw e;
    }
    log(`model: ${model.store.count.toLocaleString('en-US')} parameters, vocabulary ${bundle.vocab.size}, CRL blocks ${options.withCrl ? 'on' : 'off'}`);
    return new Pretrainer(config, reader, index, bundle, model, optimizer, sampler, options, start, grounding);
  }

  /** Optimizer steps completed. */
  get completedSteps(): number {
    return this.stepIndex;
  }

  get done(): boolean {
    return this.stepIndex >= this.options.steps;
  }

  get tokens(): number {
    return this.tokensSeen;
  }

  get seconds(): number {
    return this.secondsSpent;
  }

  /**
   * Lays out and packs the samples of one drawn batch and fills its patch features.
   * Public so benchmarks can time the two layouts on the same samples. shareGoalBlocks:
   * see BuildBatchOptions (default true; false lays out every sample's goal copy).
   */
  async assemble(samples: readonly Sample[], withCrl = this.options.withCrl, shareGoalBlocks = true): Promise<PackedBatch> {
    const layouts = new Map<Sample, DocumentLayout>();
    const layout = (s: Sample, o: { crl: boolean; imagePatches: readonly number[] }) => {
      let d = layouts.get(s);
      if (!d) {
        d = this.bundle.layout({ imagePatches: o.imagePatches, state: s.state, instruction: s.instruction, actions: s.actions }, { crl: o.crl });
        layouts.set(s, d);
      }
      return d;
    };
    const tile = this.config.model.attnTile;
    let maxTokens = this.options.rowTokens;
    if (maxTokens === 0) {
      // One row per batch: documents never share a tile with another row's padding, and the
      // block map keeps cross-document tiles EMPTY, so a single row is the least padding.
      const docs = shareGoals(samples, samples.map((s) => layout(s, { crl: withCrl, imagePatches: this.imagePatches })), { withCrl, shareGoalBlocks });
      const sum = docs.docs.reduce((a, d) => a + d.ids.length, 0);
      maxTokens = Math.ceil(sum / tile) * tile;
    }
    const batch = buildBatch(samples, layout, { maxTokens, tile, gamma: this.config.train.gamma, imagePatches: this.imagePatches, withCrl, shareGoalBlocks });
    const images: ImageFrame[] = await decodeFrames(this.reader, batch.frames.flat());
    fillPatchFeatures(batch, images, this.vision);
    const labels = this.groundingByEpisode;
    if (labels) batch.grounding = groundingTargets(batch, (e) => labels[e] ?? -1);
    return batch;
  }

  /** The next batch of the seeded stream (advances the sampler); train.stateNoise jitters its states (augment.ts). */
  async nextBatch(): Promise<PackedBatch> {
    const drawn = this.sampler.next();
    const samples = Array.from(drawn.ids, (id) => this.index.sample(id));
    const noise = this.config.train.stateNoise ?? 0;
    return this.assemble(noise > 0 ? jitterStates(samples, this.bundle.proprio, noise, augmentRng(this.options.samplerSeed, drawn.step)) : samples);
  }

  /**
   * One optimizer step on train.accumulate batches of the stream (default 1); returns its
   * metrics (also appended to `history`).
   */
  async step(): Promise<PretrainStepMetrics> {
    if (this.disposed) throw new PretrainError('step(): the trainer was disposed');
    if (this.done) throw new PretrainError(`step(): the run is complete (${this.options.steps} steps)`);
    const t0 = performance.now();
    const batches: PackedBatch[] = [];
    for (let k = 0; k < this.options.accumulate; k++) batches.push(await this.nextBatch());
    return this.stepOn(batches, t0);
  }

  /**
   * Adds `weight` x the gradient of one batch's loss to the parameters' gradients (they
   * accumulate until the optimizer step zeroes them) and reads its loss terms back. The
   * readbacks are queued before the batch's tensors are freed and awaited by the caller,
   * so a step waits on the GPU once, after its optimizer update, however many batches it
   * accumulates.
   */
  backwardOn(batch: PackedBatch, weight = 1): Promise<MicroBatchLosses> {
    const { model } = this;
    const map = model.blockMap(batch);
    const scope = new Scope();
    try {
      const out = scope.run(() => {
        const L = model.losses(batch, map);
        backward(weight === 1 ? L.total : scale(L.total, weight));
        return L;
      });
      const crl = out.crl;
      const g = out.grounding;
      return Promise.all([
        out.total.item(),
        out.bc.item(),
        crl ? crl.lossSaL.item() : null,
        crl ? crl.lossLSa.item() : null,
        crl ? readInfoNCEDiagnostics(crl.diagnostics) : null,
        g ? g.loss.item() : null,
        g ? g.logits.read().then((l) => argmaxAccuracy(l as Float32Array, g.labels)) : null,
      ]).then(([total, bc, saL, lSa, diag, grounding, groundingAccuracy]) => ({
        total, bc, saL, lSa, accuracy: diag?.accuracy ?? null, temperature: diag?.temperature ?? null, grounding, groundingAccuracy, hasGrounding: g !== null && g !== undefined,
      }));
    } finally {
      scope.dispose();
      map.release();
    }
  }

  /**
   * One optimizer step on given batches (step() = nextBatch() x accumulate + stepOn()):
   * the gradient is the mean of the batches' gradients, as the PyTorch twin's --accum
   * averages them, and the logged losses are their means. Public for the benchmark, which
   * times the CRL and BC-only layouts of the same samples, and for twin:check; `t0` is
   * when batch assembly started (its time counts into `ms` and `dataMs`).
   */
  async stepOn(batchOrBatches: PackedBatch | readonly PackedBatch[], t0 = performance.now()): Promise<PretrainStepMetrics> {
    if (this.disposed) throw new PretrainError('stepOn(): the trainer was disposed');
    const batches = Array.isArray(batchOrBatches) ? (batchOrBatches as readonly PackedBatch[]) : [batchOrBatches as PackedBatch];
    if (batches.length === 0) throw new PretrainError('stepOn(): no batch given');
    const dataMs = performance.now() - t0;
    const step = this.stepIndex;
    const lr = lrAt(step, this.schedule);
    const { optimizer } = this;
    try {
      const pending = batches.map((b) => this.backwardOn(b, 1 / batches.length));
      optimizer.step(lr);
      const [parts, gradNorm] = await Promise.all([Promise.all(pending), optimizer.lastGradNorm()]);
      const L = meanLosses(parts);
      if (!Number.isFinite(L.total)) throw new PretrainError(`step ${step}: the loss is ${L.total} (bc ${L.bc}); lower train.lr or check the data`);
      const ms = performance.now() - t0;
      const sum = (f: (b: PackedBatch) => number) => batches.reduce((a, b) => a + f(b), 0);
      const tokens = sum((b) => b.n - b.padTokens);
      this.meter.update(ms / 1000, tokens);
      this.stepIndex++;
      this.tokensSeen += tokens;
      this.secondsSpent += ms / 1000;
      const withCrl = parts[0].saL !== null;
      const m: PretrainStepMetrics = {
        step,
        lr,
        total: L.total,
        bc: L.bc,
        saL: L.saL,
        lSa: L.lSa,
        lSaFloor: withCrl ? sum((b) => lSaFloor(b, this.config.train.gamma)) / batches.length : null,
        accuracy: L.accuracy,
        temperature: parts[parts.length - 1].temperature,
        ...(parts[0].hasGrounding ? { grounding: L.grounding, groundingAccuracy: L.groundingAccuracy } : {}),
        gradNorm,
        tokens,
        packedTokens: sum((b) => b.n),
        samples: sum((b) => b.samples),
        goals: sum((b) => b.goals),
        ms,
        dataMs,
        tokensPerSec: this.meter.tokensPerSec,
        etaSec: this.meter.eta(this.options.steps - this.stepIndex),
      };
      this.history.push(m);
      return m;
    } finally {
      zeroGrad(this.optimizer.params);
    }
  }

  /** Trainer state for a checkpoint taken now (between steps). */
  state(): TrainerState {
    return {
      type: 'prts-trainer',
      version: 1,
      kind: 'pretrain',
      step: this.stepIndex,
      steps: this.options.steps,
      samplerSeed: this.options.samplerSeed,
      samplerStep: this.sampler.step,
      tokens: this.tokensSeen,
      seconds: this.secondsSpent,
      withCrl: this.options.withCrl,
    };
  }

  /** Every named parameter, read back from the GPU (f32). */
  async parameters(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [];
    for (const [name, t] of this.model.store.tensors) out.push({ name, shape: [...t.shape], data: Float32Array.from((await t.read()) as Float32Array) });
    return out;
  }

  /** Everything a checkpoint holds, taken between steps (save it with saveCheckpoint). */
  async checkpoint(): Promise<CheckpointData> {
    const { tensors, steps } = await optimizerTensors(this.optimizer);
    return {
      config: this.config,
      tokenizers: this.bundle.toJSON(),
      params: await this.parameters(),
      optimizer: tensors,
      optimizerSteps: steps,
      trainer: this.state(),
      metrics: [...this.history],
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    this.model.store.dispose();
  }
}
