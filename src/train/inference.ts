/**
 * A PRTS checkpoint as a policy (issue 6 item 5; PRTS Sec. 3.4): observations +
 * instructions -> action chunks [H x 7] in the simulation's [-1, 1] action space.
 *
 * One act() call, for a batch of environments:
 *   1. Per environment, the inference prompt (TokenizerBundle.prefix: <|bos|>, one
 *      <|image|> slot per patch and camera, proprio tokens, embodiment prompt,
 *      instruction, <|action_start|>), exactly the prefix of a training document.
 *   2. Packing: one document per row, every row starting on an attention tile and all
 *      rows of one length (the longest document, rounded up to the tile). A document's
 *      tokens then meet the same tiles whether it runs alone or in a batch, so batched
 *      and one-by-one inference compute the same numbers. Row tails are padding
 *      documents of their own that no real token attends to.
 *   3. Patch features of the camera images (src/train/vision.ts) at the <|image|> slots;
 *      the backbone runs once, without recording gradients.
 *   4a. 'dit' (default when the checkpoint is post-trained): the DiT samples the chunk
 *      with `steps` Euler steps from tau = 0 (sampleActions), cross-attending to each
 *      document's vision/state/instruction hidden states (the same context ranges as
 *      post-training, contextRanges). The starting noise of each environment comes from
 *      its own Rng, seeded at reset from (policy seed, EpisodeStart.seed), so results do
 *      not depend on batching. Samples are mapped back from FAST's normalised units with
 *      the checkpoint's q01/q99 (fromDitActions).
 *   4b. 'ar': greedy decoding of FAST tokens with the LM head, constrained to FAST ids and
 *      <|action_end_ar|> (the only targets BC ever trained), until <|action_end_ar|> or
 *      maxArTokens, per row (finished rows leave the batch). maxArTokens defaults to the
 *      longest span a valid chunk can have (H x valid channels + the end token: every
 *      FAST token stands for at least one coefficient), not to config.fastTokens, which
 *      only sizes estimates: a cap below a real chunk's length cuts valid decodes. With the KV cache (default,
 *      option kvCache) the prompt runs through the backbone once, every layer keeping its
 *      K (after RoPE) and V in a cache sized for prompt + maxArTokens; each later step
 *      feeds only the previous token of every unfinished row and attends over the row's
 *      cache (src/engine/ops/decode.ts). That is the same attention as the full pass:
 *      at inference a document has no CRL blocks, and under PRTS_RULE an AR_ACTION query
 *      may attend every earlier token of its document (VISION_STATE, INSTRUCTION,
 *      AR_ACTION are plain causal among themselves), so "all cached keys of the row" is
 *      exactly its mask row; decodeAr checks the prompt's roles against the rule. With
 *      kvCache: false every token re-runs the backbone over prompt + tokens so far
 *      (quadratic; the reference path for tests and `npm run bench:decode`). Logits of
 *      the two agree to f32 rounding (summation order differs), so they pick the same
 *      tokens unless two candidates tie within that rounding.
 *      By default (constrainLength) the greedy pick is also kept to spans of exactly
 *      horizon x channels coefficients: a FAST id that would overrun the count is
 *      skipped and the end token comes exactly when the count is reached, so every
 *      span decodes; chunks where that overrode the model are counted (arConstrained).
 *      fast.decode turns the tokens into a chunk. An invalid span (wrong coefficient
 *      count, no end token) still gives fast.decode's lenient chunk: coefficients are
 *      frequency-major, so a short span zero-pads the highest frequencies and a long one
 *      drops them, a smooth approximation of what the model meant. A zero chunk would
 *      freeze the robot, its observation would stop changing and every re-plan would fail
 *      the same way (issue 10), so never that. Every failure is counted in stats
 *      (arFailures, per env in arFailuresByEnv, the last reason) and the evaluation
 *      reports them (policy diagnostics).
 * Actions are clamped to [-1, 1] (the simulator's action box).
 *
 * Runs in the browser and in Node: the checkpoint comes through a WritableDatasetIO.
 */
import type { WritableDatasetIO } from '../data/io.ts';
import type { ImageFrame } from '../data/index.ts';
import { noGrad } from '../engine/autograd.ts';
import { Rng } from '../engine/random.ts';
import { PRTS_RULE, ROLE_NAMES, Role } from '../engine/roles.ts';
import { openRuntime } from '../engine/autotune.ts';
import type { Runtime } from '../engine/runtime.ts';
import { Scope, tidy, type Tensor } from '../engine/tensor.ts';
import { Dit, type DitConfig } from '../model/dit.ts';
import { sampleNoise } from '../model/flow.ts';
import { KvCache } from '../model/kvcache.ts';
import { ParamStore } from '../model/params.ts';
import { PrtsModel } from '../model/prts.ts';
import { SPECIAL, TokenizerBundle, type DocumentLayout, type DocumentPrefix } from '../model/tokenizers/index.ts';
import { ACTION_DIM } from '../sim/index.ts';
import { applyParams, loadCheckpoint, type CheckpointData } from './checkpoint.ts';
import { ModelPolicy, mixSeeds, type EpisodeStart, type PolicyInput } from './policy.ts';
import { actionSpaceOf, ditChannelMask, fromDitActions, type ActionSpace } from './posttrain-actions.ts';
import { contextRanges } from './posttrain-batch.ts';
import { sampleActions } from './posttrain-sampling.ts';
import { prtsConfigOf, visionSpec } from './pretrain.ts';
import { packDocuments, withGenerated, type PackedBatch, type PackDocument } from './inference-pack.ts';
import { bestByValue, checkValueSelect, closestToPlan, rowDots, sampleAllowed, type ValueSelectOptions } from './value-select.ts';
import { patchesPerImage, slotFeatures, type VisionSpec } from './vision.ts';

export class InferenceError extends Error {
  override name = 'InferenceError';
}

export type PrtsPolicyMode = 'dit' | 'ar';

export interface PrtsPolicyOptions {
  /** Default: 'dit' when the checkpoint holds a DiT, else 'ar'. */
  mode?: PrtsPolicyMode;
  /** Euler steps of the DiT sampler (default 5, as PRTS). */
  steps?: number;
  /** Mixed with each episode's seed to seed its DiT noise (default 0). */
  seed?: number;
  /** The GPU runtime; created (and destroyed by dispose()) when absent. */
  rt?: Runtime;
  /** AR mode: most tokens generated per chunk, <|action_end_ar|> included (default: H x valid channels + 1, the longest valid span). */
  maxArTokens?: number;
  /** AR mode: decode with a KV cache (default true); false re-runs the backbone over the whole span per token. */
  kvCache?: boolean;
  /**
   * AR mode: keep every chunk's span at exactly horizon x channels coefficients (default
   * true): a FAST id that would overrun the count is never picked, and <|action_end_ar|>
   * only when the count is reached. Greedy decoding of a small model otherwise produces
   * spans of the wrong length, which FAST's frequency-major order turns into coefficients
   * in the wrong channels (issue 10: 100% of the chunks of a reach policy at step 3000).
   * Chunks where the constraint overrode the model's own pick are counted (arConstrained).
   */
  constrainLength?: boolean;
  /**
   * Value-guided selection (src/train/value-select.ts): propose this many chunks per
   * observation (default 1, the plain policy) and execute the one with the highest CRL
   * value phi(s, a) . psi(instruction). Candidate 0 is the usual chunk; the others are AR
   * samples at `temperature` or DiT samples from further noise.
   */
  candidates?: number;
  /** AR sampling temperature of candidates 1.. (default 1). */
  temperature?: number;
  /**
   * With candidates > 1: select by value on the first this-many act() calls of each
   * episode only, then run the plain policy (default: every call). Re-selecting at every
   * re-plan lets independent critic errors send the arm to a different block each time
   * (issue 10, round 9: 43 of 52 failures came down on no block); choosing once and then
   * letting the policy continue the motion it sees commits to one target.
   */
  selectCalls?: number;
  /**
   * With selectCalls: after those re-plans keep proposing `candidates` chunks and execute
   * the one that best continues the previous chunk's unexecuted actions
   * (value-select.ts closestToPlan) instead of the plain policy's chunk. The plan is
   * assumed executed for `executeSteps` actions. selectCalls 0 is coherent selection
   * alone: the first re-plan runs the plain (greedy) chunk and no critic is asked, so a
   * checkpoint trained without CRL can use it; it is the no-critic control at the same
   * number of proposals (docs/results.md round 13).
   */
  coherent?: boolean;
  /** Actions executed per chunk before re-planning (default the checkpoint's model.executeSteps, else the chunk length). */
  executeSteps?: number;
  /**
   * With candidates > 1: score the proposals with this checkpoint's CRL critic instead of
   * the policy's own (which the policy then need not have). At CPU scale a BC-only run moves
   * better and a CRL run's critic binds the instruction better (docs/results.md round 10);
   * this combines them. The critic must read the same tokens and images: the same
   * tokenizers, vision settings and chunk length (refused otherwise).
   */
  critic?: CheckpointData;
  /** Policy name (default "prts-<mode>(step N)"). */
  name?: string;
}

export interface ArDecodeOptions {
  /** Default: the policy's kvCache option. */
  kvCache?: boolean;
  /** Keep every step's logits row (for tests comparing the two paths). */
  keepLogits?: boolean;
  /** Default: the policy's constrainLength option. */
  constrainLength?: boolean;
}

export interface ArDecodeResult {
  /** Per input row: the generated ids, ending in <|action_end_ar|> unless maxArTokens ran out. */
  tokens: number[][];
  /** With keepLogits: per input row, the [vocab] logits each of its tokens was picked from. */
  logits?: Float32Array[][];
  /** Per input row: whether the length constraint overrode one of the model's own picks. */
  constrained: boolean[];
}

/** Runs `fn` without gradients in its own scope, reads the tensor it returns, frees everything it made. */
async function readScoped(fn: () => Tensor): Promise<Float32Array> {
  const scope = new Scope();
  try {
    return await scope.run(() => noGrad(fn)).toFloat32();
  } finally {
    scope.dispose();
  }
}

/** What propose() returns: see there. */
export interface Proposal {
  candidates: number;
  /** [inputs x candidates] chunks in the simulator's units, observation-major. */
  chunks: Float32Array[];
  /** The CRL value of each chunk under its input's instruction; null with one candidate. */
  values: Float32Array | null;
  /** Per input, the candidate predict() executes. */
  chosen: number[];
}

/** How one observation's chunk is chosen: by the CRL value, by agreement with the previous plan, or the plain policy's. */
type Choice = 'value' | 'coherent' | 'plain';

/** Candidates of one propose() call before selection. */
interface MadeCandidates {
  chunks: Float32Array[];
  /** FAST spans (local ids) the critic scores; empty with one candidate (DiT: no encoding needed). */
  fast: Int32Array[];
  /** Books the executed candidate's problems (AR decoding) against its environment. */
  onChosen?: (row: number, envId: number) => void;
}

export interface InferenceStats {
  /** act() calls and chunks produced. */
  calls: number;
  chunks: number;
  /** AR chunks whose tokens did not decode cleanly (executed as fast.decode's lenient chunk), and the last reason. */
  arFailures: number;
  /** The same per environment slot (PolicyInput.envId) since the slot's last reset. */
  arFailuresByEnv: Record<number, number>;
  lastFailure: string | null;
  /** AR tokens generated in total (forward passes = the longest span per call). */
  arTokens: number;
  /** AR chunks in which the length constraint (constrainLength) overrode at least one of the model's own picks. */
  arConstrained: number;
  /** The same per environment slot since the slot's last reset. */
  arConstrainedByEnv: Record<number, number>;
  /** Value-guided selection: chunks chosen among several candidates, and how many of those were not candidate 0 (the plain policy's chunk). */
  valueSelected: number;
  valueOverrode: number;
  /** Coherent selection (PrtsPolicyOptions.coherent): chunks chosen by agreement with the previous plan, and how many were not candidate 0. */
  coherentSelected: number;
  coherentOverrode: number;
}

/** The loaded model behind a PrtsPolicy; predict() is its ChunkFn. */
export class PrtsInference {
  readonly mode: PrtsPolicyMode;
  readonly horizon: number;
  readonly stats: InferenceStats = { calls: 0, chunks: 0, arFailures: 0, arFailuresByEnv: {}, lastFailure: null, arTokens: 0, arConstrained: 0, arConstrainedByEnv: {}, valueSelected: 0, valueOverrode: 0, coherentSelected: 0, coherentOverrode: 0 };
  private readonly vision: VisionSpec;
  private readonly space: ActionSpace;
  private readonly rngs = new Map<number, Rng>();
  /** act() calls per environment slot since its reset (for select.calls). */
  private readonly callsByEnv = new Map<number, number>();
  /** The chunk each environment slot executes now (for coherent selection). */
  private readonly planByEnv = new Map<number, Float32Array>();
  private disposed = false;

  constructor(
    readonly data: CheckpointData,
    readonly bundle: TokenizerBundle,
    readonly model: PrtsModel,
    readonly dit: { dit: Dit; store: ParamStore } | null,
    readonly opts: {
      mode: PrtsPolicyMode;
      steps: number;
      seed: number;
      maxArTokens: number;
      kvCache: boolean;
      constrainLength: boolean;
      /** The policy's re-planning interval (PrtsPolicyOptions.executeSteps, resolved). */
      executeSteps: number;
      ownRuntime: boolean;
      select: ValueSelectOptions;
      /** Another checkpoint's model that scores the candidates (PrtsPolicyOptions.critic); owned and disposed by this one. */
      critic: PrtsInference | null;
    },
  ) {
    this.mode = opts.mode;
    this.horizon = data.config.model.chunkLength;
    this.vision = visionSpec(data.config);
    this.space = actionSpaceOf(bundle.fast);
  }

  reset(episodes: EpisodeStart[]): void {
    for (const ep of episodes) {
      this.rngs.set(ep.envId, new Rng(mixSeeds(this.opts.seed, ep.seed)));
      this.callsByEnv.set(ep.envId, 0);
      this.planByEnv.delete(ep.envId);
      delete this.stats.arFailuresByEnv[ep.envId];
      delete this.stats.arConstrainedByEnv[ep.envId];
    }
  }

  /** The camera image of one observation as an ImageFrame (HWC uint8, square). */
  private frame(x: PolicyInput, camera: string): ImageFrame {
    const images = x.obs.images as Record<string, Uint8Array> | undefined;
    const data = images?.[camera];
    if (!data) {
      throw new InferenceError(`env ${x.envId}: the observation has no "${camera}" image (the checkpoint's model.cameras = ${JSON.stringify(this.data.config.model.cameras)}); run with the cameras on`);
    }
    const side = Math.round(Math.sqrt(data.length / 3));
    if (side * side * 3 !== data.length) throw new InferenceError(`env ${x.envId}: the "${camera}" image has ${data.length} bytes, not a square RGB image`);
    return { width: side, height: side, channels: 3, data };
  }

  /** The prompt documents and their patch features (sample-major, camera order). */
  private prompts(inputs: PolicyInput[]): { prefixes: DocumentPrefix[]; features: Float32Array } {
    const cams = this.data.config.model.cameras;
    const per = patchesPerImage(this.vision);
    const prefixes = inputs.map((x) => {
      const state = x.obs.proprio.state;
      if (state.length !== this.bundle.proprio.dims) {
        throw new InferenceError(`env ${x.envId}: proprio state has ${state.length} values, the checkpoint's proprio tokenizer ${this.bundle.proprio.dims}`);
      }
      return this.bundle.prefix({ imagePatches: cams.map(() => per), state, instruction: x.instruction });
    });
    const frames = inputs.flatMap((x) => cams.map((c) => this.frame(x, c)));
    return { prefixes, features: slotFeatures(frames, inputs.length, this.vision) };
  }

  /** Packs documents one per tile-aligned row (inference-pack.ts); document r uses the features of sample featureRows[r]. */
  private pack(docs: readonly PackDocument[], features: Float32Array, featureRows: readonly number[]): PackedBatch {
    return packDocuments(this.vision, this.data.config.model.attnTile, docs, features, featureRows);
  }

  /** Dataset-unit chunks [H * D] -> the simulator's [H x 7] in [-1, 1]. */
  private toSim(chunk: ArrayLike<number>): Float32Array {
    const out = new Float32Array(this.horizon * ACTION_DIM);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(-1, Math.min(1, chunk[i]));
    return out;
  }

  async predict(inputs: PolicyInput[]): Promise<Float32Array[]> {
    const p = await this.propose(inputs);
    return p.chosen.map((k, b) => p.chunks[b * p.candidates + k]);
  }

  /**
   * Every candidate chunk of every input (observation-major: candidate k of input b at
   * b * candidates + k, in the simulator's units), their CRL values when there are
   * several, and which one predict() executes. With one candidate this is the plain
   * policy. The Sim tab and analyses read it to see what the critic chose between.
   */
  async propose(inputs: PolicyInput[]): Promise<Proposal> {
    if (this.disposed) throw new InferenceError('predict(): the policy was disposed');
    const C = this.opts.select.candidates;
    if (inputs.length === 0) return { candidates: C, chunks: [], values: null, chosen: [] };
    const how = inputs.map((x): Choice => {
      if (C === 1) return 'plain';
      if ((this.callsByEnv.get(x.envId) ?? 0) < this.opts.select.calls) return 'value';
      return this.opts.select.coherent && this.planByEnv.has(x.envId) ? 'coherent' : 'plain';
    });
    for (const x of inputs) this.callsByEnv.set(x.envId, (this.callsByEnv.get(x.envId) ?? 0) + 1);
    this.stats.calls++;
    this.stats.chunks += inputs.length;
    let out: Proposal;
    if (how.every((h) => h === how[0])) out = await this.proposeGroup(inputs, how[0], C);
    else {
      // Episodes in different phases (value-selected, coherent, plain) are proposed in
      // groups; proposeGroup reports each in the [inputs x C] shape (plain rows repeat their
      // chunk; rows not value-selected have NaN values).
      const chunks: Float32Array[] = new Array(inputs.length * C);
      const values = new Float32Array(inputs.length * C);
      const chosen = new Array<number>(inputs.length);
      for (const want of ['value', 'coherent', 'plain'] as const) {
        const idx = inputs.flatMap((_, b) => (how[b] === want ? [b] : []));
        if (idx.length === 0) continue;
        const g = await this.proposeGroup(idx.map((b) => inputs[b]), want, C);
        idx.forEach((b, i) => {
          for (let k = 0; k < C; k++) {
            chunks[b * C + k] = g.chunks[i * C + k];
            values[b * C + k] = g.values![i * C + k];
          }
          chosen[b] = g.chosen[i];
        });
      }
      out = { candidates: C, chunks, values, chosen };
    }
    inputs.forEach((x, b) => this.planByEnv.set(x.envId, out.chunks[b * C + out.chosen[b]]));
    return out;
  }

  /** propose() for inputs that all choose the same way (plain: one chunk), reported as `shape` candidates per input. */
  private async proposeGroup(inputs: PolicyInput[], how: Choice, shape: number): Promise<Proposal> {
    const C = how === 'plain' ? 1 : shape;
    const { prefixes, features } = this.prompts(inputs);
    const rows = this.candidateRows(inputs.length, C);
    const made = this.mode === 'dit' ? await this.proposeDit(inputs, prefixes, features, rows, C) : await this.proposeAr(inputs, prefixes, features, rows, C);
    let values: Float32Array | null = null;
    let chosen = inputs.map(() => 0);
    if (how === 'value') {
      values = await (this.opts.critic ?? this).candidateValues(inputs, features, made.fast);
      chosen = bestByValue(values, C);
      this.stats.valueSelected += chosen.length;
      this.stats.valueOverrode += chosen.filter((k) => k !== 0).length;
    } else if (how === 'coherent') {
      chosen = closestToPlan(made.chunks, C, inputs.map((x) => this.planByEnv.get(x.envId) ?? null), this.opts.executeSteps, ACTION_DIM);
      this.stats.coherentSelected += chosen.length;
      this.stats.coherentOverrode += chosen.filter((k) => k !== 0).length;
    }
    chosen.forEach((k, b) => made.onChosen?.(b * C + k, inputs[b].envId));
    const vals = shape > 1 && how !== 'value' ? new Float32Array(inputs.length * shape).fill(Number.NaN) : values;
    if (C === shape) return { candidates: C, chunks: made.chunks, values: vals, chosen };
    // A plain group inside a selecting policy: repeat each chunk to the proposal's shape.
    return { candidates: shape, chunks: made.chunks.flatMap((c) => new Array<Float32Array>(shape).fill(c)), values: vals, chosen };
  }

  private rngOf(x: PolicyInput): Rng {
    const rng = this.rngs.get(x.envId);
    if (!rng) throw new InferenceError(`env ${x.envId} was not reset; call reset() with its EpisodeStart first (its seed seeds the sampling noise)`);
    return rng;
  }

  /** Candidate rows, observation-major: row b * K + k proposes chunk k for input b. */
  private candidateRows(B: number, K: number): number[] {
    return Array.from({ length: B * K }, (_, r) => Math.floor(r / K));
  }

  private async proposeDit(inputs: PolicyInput[], prefixes: DocumentPrefix[], features: Float32Array, rows: number[], C: number): Promise<MadeCandidates> {
    const { dit } = this.dit!;
    const { horizon: H, actionDim: K } = dit.cfg;
    const R = rows.length;
    const batch = this.pack(
      rows.map((b) => prefixes[b]),
      features,
      rows,
    );
    // Candidate 0 draws the episode's noise exactly as the plain policy does; the others
    // continue the same stream, so one candidate reproduces the plain policy.
    const noise = new Float32Array(R * H * K);
    const streams = inputs.map((x) => this.rngOf(x));
    rows.forEach((b, r) => noise.set(sampleNoise(streams[b], H * K), r * H * K));
    const { start, end } = contextRanges(batch);
    const map = this.model.blockMap(batch);
    let hidden: Tensor | null = null;
    let actions: Float32Array;
    try {
      // tidy: the layers' intermediates are freed here (only the hidden states are kept).
      hidden = tidy(() => noGrad(() => this.model.hidden(batch, map)));
      const mask = ditChannelMask(this.space, R, H, K);
      const out = await sampleActions(dit, { hidden, start, end }, this.opts.steps, new Rng(0), { mask, noise });
      actions = fromDitActions(this.space, out, R, H, K);
    } finally {
      hidden?.dispose();
      map.release();
    }
    const D = this.space.q01.length;
    const chunkOf = (r: number) => actions.subarray(r * H * D, (r + 1) * H * D);
    return {
      chunks: rows.map((_, r) => this.toSim(chunkOf(r))),
      // The critic reads FAST tokens: each sample is scored as its own tokenization.
      fast: C > 1 ? rows.map((_, r) => this.bundle.fast.encode(chunkOf(r))) : [],
    };
  }

  private async proposeAr(inputs: PolicyInput[], prefixes: DocumentPrefix[], features: Float32Array, rows: number[], C: number): Promise<MadeCandidates> {
    const streams = inputs.map((x) => (C > 1 ? this.rngOf(x) : null));
    const sampling = { temperature: this.opts.select.temperature, rngs: rows.map((b, r) => (r % C === 0 ? null : streams[b])) };
    const { tokens, constrained } = await this.decodeTokens(
      rows.map((b) => prefixes[b]),
      features,
      rows,
      this.opts.kvCache,
      false,
      this.opts.constrainLength,
      sampling,
    );
    const vocab = this.bundle.vocab;
    const D = this.space.q01.length;
    const fast = tokens.map((g) => vocab.fastLocalOf(g));
    const decoded = fast.map((f) => this.bundle.fast.decode(f));
    // Problems count for the executed chunk only: the others were proposals.
    const onChosen = (r: number, env: number) => {
      const g = tokens[r];
      const ended = g[g.length - 1] === SPECIAL.actionEndAr;
      const dec = decoded[r];
      if (constrained[r]) {
        this.stats.arConstrained++;
        this.stats.arConstrainedByEnv[env] = (this.stats.arConstrainedByEnv[env] ?? 0) + 1;
      }
      if (!ended || !dec.valid) {
        this.stats.arFailures++;
        this.stats.arFailuresByEnv[env] = (this.stats.arFailuresByEnv[env] ?? 0) + 1;
        const reasons = [ended ? null : `no <|action_end_ar|> within ${this.opts.maxArTokens} tokens`, dec.valid ? null : dec.reason].filter(Boolean);
        this.stats.lastFailure = `env ${env}: ${reasons.join('; ')}; executed the lenient decode`;
      }
    };
    return { chunks: decoded.map((dec) => this.toSim(dec.actions.subarray(0, this.horizon * D))), fast, onChosen };
  }

  /**
   * The CRL value V = phi(s, a) . psi(l) of candidate FAST spans (local ids; row r
   * belongs to input floor(r / K)), laid out as training documents so phi and psi read
   * exactly what training taught them to. A span that cannot be laid out (empty, or an
   * id outside FAST) gets -Infinity and is never chosen over a valid one.
   */
  async candidateValues(inputs: PolicyInput[], features: Float32Array, fast: readonly Int32Array[]): Promise<Float32Array> {
    const K = fast.length / inputs.length;
    const patches = this.data.config.model.cameras.map(() => patchesPerImage(this.vision));
    const values = new Float32Array(fast.length).fill(-Infinity);
    const layouts: { row: number; doc: DocumentLayout }[] = [];
    fast.forEach((span, r) => {
      if (span.length === 0 || span.some((id) => id < 0 || id >= this.bundle.fast.vocabSize)) return;
      const x = inputs[Math.floor(r / K)];
      layouts.push({ row: r, doc: this.bundle.layoutTokens({ imagePatches: patches, state: x.obs.proprio.state, instruction: x.instruction }, span) });
    });
    if (layouts.length === 0) return values;
    const batch = this.pack(
      layouts.map((l) => l.doc),
      features,
      layouts.map((l) => Math.floor(l.row / K)),
    );
    batch.actionEndIndex = Int32Array.from(layouts, (l, i) => batch.docStart[i] + l.doc.actionEndIndex);
    batch.goalEndIndex = Int32Array.from(layouts, (l, i) => batch.docStart[i] + l.doc.goalEndIndex);
    batch.goalOf = Int32Array.from(layouts, (_, i) => i);
    const map = this.model.blockMap(batch);
    const scope = new Scope();
    try {
      const { phi, psi } = scope.run(() =>
        noGrad(() => {
          const h = this.model.hidden(batch, map);
          return { phi: this.model.phi(h, batch), psi: this.model.psi(h, batch) };
        }),
      );
      const [ph, ps] = (await Promise.all([phi.toFloat32(), psi.toFloat32()])) as [Float32Array, Float32Array];
      const v = rowDots(ph, ps, this.data.config.model.crlDim);
      layouts.forEach((l, i) => (values[l.row] = v[i]));
      return values;
    } finally {
      scope.dispose();
      map.release();
    }
  }

  /**
   * The AR tokens (and optionally logits) for a batch of inputs, without turning them
   * into chunks: what predict() decodes in 'ar' mode (greedy). Works in either mode.
   */
  async decodeAr(inputs: PolicyInput[], opts: ArDecodeOptions = {}): Promise<ArDecodeResult> {
    if (this.disposed) throw new InferenceError('decodeAr(): the policy was disposed');
    if (inputs.length === 0) return { tokens: [], logits: opts.keepLogits ? [] : undefined, constrained: [] };
    const { prefixes, features } = this.prompts(inputs);
    return this.decodeTokens(
      prefixes,
      features,
      prefixes.map((_, b) => b),
      opts.kvCache ?? this.opts.kvCache,
      opts.keepLogits ?? false,
      opts.constrainLength ?? this.opts.constrainLength,
    );
  }

  /**
   * Decodes one span per prompt (prompt r uses the features of sample featureRows[r]).
   * Rows with an Rng in `sampling.rngs` draw each token from softmax(logits / temperature)
   * over the ids the greedy pick may choose from; the others pick greedily.
   */
  private async decodeTokens(
    prefixes: DocumentPrefix[],
    features: Float32Array,
    featureRows: readonly number[],
    cached: boolean,
    keepLogits: boolean,
    constrainLength: boolean,
    sampling?: { temperature: number; rngs: readonly (Rng | null)[] },
  ): Promise<ArDecodeResult> {
    const vocab = this.bundle.vocab;
    const V = vocab.size;
    const res: ArDecodeResult = { tokens: prefixes.map(() => []), logits: keepLogits ? prefixes.map(() => []) : undefined, constrained: prefixes.map(() => false) };
    const finished = new Array<boolean>(prefixes.length).fill(false);
    // Coefficients still owed per row; each FAST id spends symbolCounts[id] of them.
    const counts = this.bundle.fast.symbolCounts();
    const owed = prefixes.map(() => this.bundle.fast.maxTokens);
    const candidates = [SPECIAL.actionEndAr as number, ...Array.from({ length: vocab.fastSize }, (_, i) => vocab.fastOffset + i)];
    // A FAST id or <|action_end_ar|> (the only targets BC ever trained), and with
    // constrainLength only those that keep the span decodable: ids that fit in what is
    // owed, the end exactly when nothing is.
    const allowedFor = (b: number) => (id: number) => {
      if (!constrainLength) return true;
      if (id === SPECIAL.actionEndAr) return owed[b] === 0;
      return owed[b] > 0 && counts[id - vocab.fastOffset] <= owed[b];
    };
    const pick = (active: number[], logits: Float32Array) => {
      active.forEach((b, r) => {
        const row = r * V;
        const allowed = allowedFor(b);
        // The unconstrained greedy pick, to count where the constraint overrode the model.
        let free: number = SPECIAL.actionEndAr;
        let best = -1;
        for (const id of candidates) {
          const v = logits[row + id];
          if (v > logits[row + free]) free = id;
          if (allowed(id) && (best < 0 || v > logits[row + best])) best = id;
        }
        const rng = sampling?.rngs[b];
        if (rng) best = sampleAllowed(logits, row, candidates, allowed, sampling!.temperature, rng);
        if (best < 0) best = SPECIAL.actionEndAr; // unreachable: the end is allowed whenever no FAST id fits
        if (!allowed(free)) res.constrained[b] = true;
        if (best !== SPECIAL.actionEndAr) owed[b] -= counts[best - vocab.fastOffset];
        res.tokens[b].push(best);
        res.logits?.[b].push(logits.slice(r * V, (r + 1) * V));
        this.stats.arTokens++;
        if (best === SPECIAL.actionEndAr || res.tokens[b].length >= this.opts.maxArTokens) finished[b] = true;
      });
    };
    const unfinished = () => finished.flatMap((f, b) => (f ? [] : [b]));
    if (cached) {
      await this.decodeCached(prefixes, features, featureRows, pick, unfinished, res.tokens);
      return res;
    }
    for (let active = unfinished(); active.length > 0; active = unfinished()) {
      const batch = this.pack(
        active.map((b) => withGenerated(prefixes[b], res.tokens[b])),
        features,
        active.map((b) => featureRows[b]),
      );
      const map = this.model.blockMap(batch);
      try {
        pick(active, await readScoped(() => this.model.arLogits(this.model.hidden(batch, map), batch)));
      } finally {
        map.release();
      }
    }
    return res;
  }

  /** Incremental decoding: the prompt once (filling the KV cache), then one token per unfinished row per step. */
  private async decodeCached(
    prefixes: DocumentPrefix[],
    features: Float32Array,
    featureRows: readonly number[],
    pick: (active: number[], logits: Float32Array) => void,
    unfinished: () => number[],
    tokens: number[][],
  ): Promise<void> {
    const cfg = this.model.cfg.backbone;
    const B = prefixes.length;
    const rule = PRTS_RULE[Role.AR_ACTION];
    prefixes.forEach((p, b) => {
      const bad = p.roles.findIndex((r) => !rule[r]);
      if (bad >= 0) {
        throw new InferenceError(`env row ${b}: prompt token ${bad} has role ${ROLE_NAMES[p.roles[bad]] ?? p.roles[bad]}, which an AR_ACTION query may not attend; the KV cache assumes it sees the whole prompt (use kvCache: false)`);
      }
    });
    const batch = this.pack(prefixes, features, featureRows);
    // The last generated token is never fed back, hence - 1.
    const capacity = Math.max(...prefixes.map((p) => p.ids.length)) + this.opts.maxArTokens - 1;
    const cache = new KvCache(this.model.rt, { layers: cfg.layers, rows: B, capacity, heads: cfg.heads, headDim: cfg.headDim });
    try {
      // Row r of the packed prompt batch is cache row r; row padding is not cached.
      const slots = new Int32Array(batch.n).fill(-1);
      for (let r = 0; r < B; r++) {
        for (let i = 0; i < batch.docLength[r]; i++) slots[batch.docStart[r] + i] = cache.slot(r, i);
        cache.lengths[r] = batch.docLength[r];
      }
      const map = this.model.blockMap(batch);
      try {
        pick(
          prefixes.map((_, b) => b),
          await readScoped(() => this.model.arLogits(this.model.hidden(batch, map, { cache, slots }), batch)),
        );
      } finally {
        map.release();
      }
      for (let active = unfinished(); active.length > 0; active = unfinished()) {
        const rows = Int32Array.from(active);
        const ids = Int32Array.from(active, (b) => tokens[b][tokens[b].length - 1]);
        const positions = Int32Array.from(active, (b) => prefixes[b].positions[prefixes[b].positions.length - 1] + tokens[b].length);
        const all = Int32Array.from(active, (_, r) => r);
        pick(active, await readScoped(() => this.model.lmHead.logits(this.model.backbone.decode({ ids, positions, rows }, cache), all)));
      }
    } finally {
      cache.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.dit?.dit.dispose();
    this.dit?.store.dispose();
    this.model.store.dispose();
    this.opts.critic?.dispose();
    if (this.opts.ownRuntime) this.model.rt.destroy();
  }
}

/** A ModelPolicy over a loaded PRTS checkpoint; `inference` exposes its mode and stats. */
export class PrtsPolicy extends ModelPolicy {
  constructor(readonly inference: PrtsInference, name: string) {
    super({
      name,
      chunkSize: inference.horizon,
      executeSteps: inference.opts.executeSteps,
      predict: (inputs) => inference.predict(inputs),
      onReset: (episodes) => inference.reset(episodes),
      dispose: () => inference.dispose(),
      // A chunk the model could not decode alone is a problem of the episode, whether the
      // decoder fell back to the lenient decode or the length constraint corrected it.
      episodeIssues: (envId) => (inference.stats.arFailuresByEnv[envId] ?? 0) + (inference.stats.arConstrainedByEnv[envId] ?? 0),
      diagnostics: () => {
        const { arFailuresByEnv: _perSlot, arConstrainedByEnv: _constrainedPerSlot, ...totals } = inference.stats;
        return { mode: inference.mode, ...totals };
      },
    });
  }
}

/** Builds the policy from loaded checkpoint data (loadPrtsPolicy reads it from a directory). */
export async function prtsPolicyFromCheckpoint(data: CheckpointData, opts: PrtsPolicyOptions = {}): Promise<PrtsPolicy> {
  const mode = opts.mode ?? (data.dit ? 'dit' : 'ar');
  if (mode !== 'dit' && mode !== 'ar') throw new InferenceError(`mode must be 'dit' or 'ar', got ${JSON.stringify(mode)}`);
  if (mode === 'dit' && !data.dit) {
    throw new InferenceError(`the checkpoint (${data.trainer.kind}, step ${data.trainer.step}) has no DiT action expert (dit.json); post-train it first (npm run post-train) or use mode 'ar'`);
  }
  const steps = opts.steps ?? 5;
  if (!Number.isInteger(steps) || steps < 1) throw new InferenceError(`steps must be a positive integer, got ${steps}`);
  const cfg = data.config;
  if (opts.maxArTokens !== undefined && (!Number.isInteger(opts.maxArTokens) || opts.maxArTokens < 1)) {
    throw new InferenceError(`maxArTokens must be a positive integer, got ${opts.maxArTokens}`);
  }
  const kvCache = opts.kvCache ?? true;
  if (typeof kvCache !== 'boolean') throw new InferenceError(`kvCache must be true or false, got ${JSON.stringify(kvCache)}`);
  const constrainLength = opts.constrainLength ?? true;
  if (typeof constrainLength !== 'boolean') throw new InferenceError(`constrainLength must be true or false, got ${JSON.stringify(constrainLength)}`);
  let bundle: TokenizerBundle;
  try {
    bundle = TokenizerBundle.fromJSON(data.tokenizers);
  } catch (e) {
    throw new InferenceError(`checkpoint tokenizers.json: ${(e as Error).message}`);
  }
  if (bundle.fast.actionDim !== ACTION_DIM) {
    throw new InferenceError(`the checkpoint's actions have ${bundle.fast.actionDim} channels, the simulation's ${ACTION_DIM} (6-D end-effector delta + gripper); it was trained on another embodiment`);
  }
  if (bundle.fast.horizon !== cfg.model.chunkLength) throw new InferenceError(`tokenizers.json FAST horizon ${bundle.fast.horizon} differs from config model.chunkLength ${cfg.model.chunkLength}`);
  const maxArTokens = opts.maxArTokens ?? bundle.fast.maxTokens + 1;
  const select = { candidates: opts.candidates ?? 1, temperature: opts.temperature ?? 1, calls: opts.selectCalls ?? Infinity, coherent: opts.coherent ?? false };
  try {
    checkValueSelect(select);
  } catch (e) {
    throw new InferenceError((e as Error).message);
  }
  const executeSteps = opts.executeSteps ?? cfg.model.executeSteps ?? cfg.model.chunkLength;
  if (!Number.isInteger(executeSteps) || executeSteps < 1 || executeSteps > cfg.model.chunkLength) {
    throw new InferenceError(`executeSteps must be an integer in [1, chunkLength = ${cfg.model.chunkLength}], got ${executeSteps}`);
  }
  if (select.coherent && executeSteps >= cfg.model.chunkLength) {
    throw new InferenceError(`coherent: the policy executes whole chunks (executeSteps ${executeSteps} of chunkLength ${cfg.model.chunkLength}), so no planned actions are left to agree with`);
  }
  if (opts.critic && select.calls === 0) throw new InferenceError('critic: with selectCalls 0 (coherent selection alone) no proposal is chosen by value, so a critic would never be asked');
  if (opts.critic) checkCritic(data, opts.critic, select.candidates);
  else if (select.candidates > 1 && select.calls > 0 && !data.trainer.withCrl) {
    throw new InferenceError(`candidates ${select.candidates}: value-guided selection needs the CRL critic, and this checkpoint's backbone was trained without CRL (or give a critic: another checkpoint's CRL critic)`);
  }
  const rt = opts.rt ?? (await openRuntime());
  let model: PrtsModel | null = null;
  let dit: { dit: Dit; store: ParamStore } | null = null;
  let critic: PrtsPolicy | null = null;
  try {
    if (opts.critic) critic = await prtsPolicyFromCheckpoint(opts.critic, { mode: 'ar', rt });
    model = new PrtsModel(rt, prtsConfigOf(cfg, bundle.vocab.size));
    applyParams(model.store, data.params.filter((t) => !t.name.startsWith('dit.')));
    if (mode === 'dit') {
      const store = new ParamStore(rt, 0);
      const ditCfg: DitConfig = data.dit!;
      dit = { dit: new Dit(store, ditCfg), store };
      applyParams(store, data.params.filter((t) => t.name.startsWith('dit.')));
    }
    const inference = new PrtsInference(data, bundle, model, dit, { mode, steps, seed: opts.seed ?? 0, maxArTokens, kvCache, constrainLength, executeSteps, ownRuntime: !opts.rt, select, critic: critic?.inference ?? null });
    const name = `prts-${mode}(${data.trainer.kind} step ${data.trainer.step}${opts.critic ? `, critic ${opts.critic.trainer.kind} step ${opts.critic.trainer.step}` : ''})`;
    return new PrtsPolicy(inference, opts.name ?? name);
  } catch (e) {
    critic?.dispose();
    dit?.dit.dispose();
    dit?.store.dispose();
    model?.store.dispose();
    if (!opts.rt) rt.destroy();
    throw e;
  }
}

/**
 * Refuses a critic checkpoint that cannot score this policy's proposals: it needs its own
 * CRL critic, and must see what the policy sees (images cut the same way) and read the
 * proposals' FAST ids and the instruction as the same tokens.
 */
function checkCritic(policy: CheckpointData, critic: CheckpointData, candidates: number): void {
  if (candidates < 2) throw new InferenceError(`critic: it scores proposals, so it needs candidates of 2 or more, got ${candidates}`);
  if (!critic.trainer.withCrl) throw new InferenceError(`critic: that checkpoint's backbone (${critic.trainer.kind}, step ${critic.trainer.step}) was trained without CRL, so it has no critic`);
  if (JSON.stringify(critic.tokenizers) !== JSON.stringify(policy.tokenizers)) {
    throw new InferenceError('critic: its tokenizers.json differs from the policy\'s (FAST, proprio or text tokens), so it would read the proposals as other tokens');
  }
  const a = policy.config.model;
  const b = critic.config.model;
  for (const k of ['imageSize', 'patchSize', 'cameras', 'patchPositions', 'chunkLength'] as const) {
    if (JSON.stringify(a[k] ?? null) !== JSON.stringify(b[k] ?? null)) throw new InferenceError(`critic: model.${k} is ${JSON.stringify(b[k])}, the policy's ${JSON.stringify(a[k])}`);
  }
}

/**
 * Loads a checkpoint (a run directory's latest.json, or `dir` under `io`) and returns
 * its policy: `mode` 'dit' samples the post-trained action expert, 'ar' decodes FAST
 * tokens with the LM head (works on pre-training checkpoints too).
 */
export async function loadPrtsPolicy(io: WritableDatasetIO, dir?: string, opts: PrtsPolicyOptions = {}): Promise<PrtsPolicy> {
  return prtsPolicyFromCheckpoint(await loadCheckpoint(io, dir), opts);
}
