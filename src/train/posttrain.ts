/**
 * Post-training (PRTS Sec. 3.4, DESIGN.md 4, issue 6 item 4): a freshly initialised DiT
 * action expert is attached to the pre-trained backbone and trained with the masked
 * flow-matching loss alone; the BC and CRL terms are dropped, as in PRTS. Gradients flow
 * into the backbone by default ("Gradients flow through the VLM backbone in both
 * stages"); `freezeBackbone` runs the backbone without recording and optimises the DiT
 * only.
 *
 * This file holds the run: PostTrainRun loads a checkpoint, draws batches, steps and
 * checkpoints, and backboneCheckpoint reads a post-training checkpoint as its backbone's.
 * The pieces it drives are beside it: posttrain-trainer.ts (PostTrainer, the DiT and one
 * flow-matching step), posttrain-batch.ts (prefix layout, context ranges, batches),
 * posttrain-actions.ts (the DiT's normalised action space) and posttrain-sampling.ts
 * (sampleActions, the Euler sampler inference uses).
 */
import { Rng, type Tensor } from '../engine/index';
import { DEFAULT_DIT, validateDitConfig, type DitConfig } from '../model/dit';
import { sampleTau, type TauSampling } from '../model/flow';
import type { Runtime } from '../engine/runtime';
import type { LeRobotReader } from '../data/index';
import { buildBatch, decodeFrames, SampleIndex, startFrameMultiplicity, TaskBalancedSampler, type PackedBatch, type Sample } from '../model/batch';
import type { WorkbenchConfig } from '../model/config';
import { PrtsModel } from '../model/prts';
import { TokenizerBundle } from '../model/tokenizers/index';
import { augmentRng, jitterStates } from './augment';
import { applyOptimizer, applyParams, optimizerTensors, type CheckpointData } from './checkpoint';
import { ThroughputMeter } from './metrics';
import { actionSpaceOf } from './posttrain-actions';
import { postTrainBatch, prefixLayout, type PostTrainBatch } from './posttrain-batch';
import { PostTrainer, prtsBackbone } from './posttrain-trainer';
import { prtsConfigOf, resolveTrainOptions, visionSpec } from './pretrain';
import type { PostTrainerState, PostTrainStepMetrics, TrainerState } from './trainer-state';
import type { NamedTensor } from './safetensors';
import { checkSchedule, lrAt, type LrSchedule } from './schedule';
import { fillPatchFeatures, patchesPerImage, type VisionSpec } from './vision';

/** The DiT a workbench config implies: H = chunk length, K = the padded action dim, context = d_model. */
export function ditConfigFor(cfg: WorkbenchConfig, over: Partial<DitConfig> = {}): DitConfig {
  const c: DitConfig = { ...DEFAULT_DIT, ...over, horizon: cfg.model.chunkLength, actionDim: cfg.model.actionDim, contextDim: cfg.model.dModel };
  validateDitConfig(c);
  return c;
}

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
      // Not the pre-training stream: post-training sees the batches in a different order.
      const samplerSeed = (train.samplerSeed + 0x9e37) >>> 0;
      const sampler = new TaskBalancedSampler(index.taskOfSample, {
        tasksPerBatch: train.tasksPerBatch,
        samplesPerTask: train.samplesPerTask,
        seed: samplerSeed,
        multiplicity: startFrameMultiplicity(index, cfg.train.startFrames),
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
        samplerSeed,
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

/** AdamW moments of zero for these parameters, named as optimizerTensors names them. */
function zeroMoments(params: readonly NamedTensor[]): NamedTensor[] {
  return params.flatMap((t) => [
    { name: `exp_avg.${t.name}`, shape: [...t.shape], data: new Float32Array(t.data.length) },
    { name: `exp_avg_sq.${t.name}`, shape: [...t.shape], data: new Float32Array(t.data.length) },
  ]);
}

/**
 * A post-training checkpoint seen as the pre-training checkpoint of its backbone: the
 * non-DiT parameters (backbone, LM and CRL heads), no DiT, zero AdamW moments, and a
 * 'pretrain' trainer state at the pre-training step it started from. For tools that only
 * read the backbone (CrlProbe: value curves and t-SNE of phi, which go through
 * Pretrainer), never for training on. A pre-training checkpoint is returned as it is,
 * except that a weights-only one (a shipped .prts.zip such as the demo run) gets the same
 * zero moments: Pretrainer's resume requires optimizer state for every parameter.
 */
export function backboneCheckpoint(data: CheckpointData): CheckpointData {
  if (data.trainer.kind !== 'posttrain') {
    if (data.optimizer.length) return data;
    return { ...data, optimizer: zeroMoments(data.params), optimizerSteps: Object.fromEntries(data.params.map((t) => [t.name, 0])) };
  }
  const st = data.trainer as PostTrainerState;
  const params = data.params.filter((t) => !t.name.startsWith('dit.'));
  const optimizer = zeroMoments(params);
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
