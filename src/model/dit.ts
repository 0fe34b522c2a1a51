/**
 * The DiT flow-matching action expert (DESIGN.md 4, PRTS Sec. 3.4, Qwen-VLA Sec. 2).
 *
 * Input: a noisy action chunk a_tau [B, H, K] (K padded channels), the flow time tau
 * [B] and, optionally, the backbone's hidden states of each sample's context tokens.
 * Output: the velocity v(a_tau, tau | context) [B, H, K].
 *
 *   c      = MLP(sinusoid(tau))                           timestep conditioning [B, d]
 *   x      = MLP(mask * a_tau) + pos[H]                   action tokens [B, H, d]
 *   block  : x += g1 * SelfAttn(mod(LN(x), s1, b1))       over the H action tokens
 *            x += g2 * CrossAttn(mod(LN(x), s2, b2), ctx) to the sample's context tokens
 *            x += g3 * MLP(mod(LN(x), s3, b3))
 *   out    = linear(mod(LN(x), sF, bF))                   [B, H, K]
 * with mod(h, s, b) = h * (1 + s) + b and all (s_i, b_i, g_i) of a block from one linear
 * of silu(c) split into 9 (6 without context) pieces: adaLN-Zero (Peebles & Xie). Every
 * modulation linear and the output linear start at zero, so each block is exactly the
 * identity at init and the initial velocity is exactly 0.
 *
 * Layout choices:
 * - Attention weights are [d, d] ([in, out], as everywhere in the engine); heads are split
 *   with splitHeads ([rows, d] -> [heads, rows, hd]) and merged back with mergeHeads.
 * - Cross-attention gathers each sample's context rows into a padded [B, L, d] block
 *   (L = the longest context in the batch); padding columns get an additive -1e9 bias, so
 *   a sample of a packed batch attends only to its own document's tokens. -1e9 rather
 *   than -inf: WGSL leaves inf arithmetic implementation-defined, and exp(-1e9 - max)
 *   underflows to exactly 0 anyway.
 * - Two exact layouts of the score computation: 'batched' runs one small product per
 *   (head, sample), [heads*B, H, L]; 'dense' runs one product per head over all rows of
 *   the batch, [heads, B*H, B*L], with a block-diagonal -1e9 bias. Dense wastes FLOPs on
 *   cross-sample pairs but is one big matmul instead of heads*B tiny ones, which is much
 *   faster for small batches (on SwiftShader a batch of 512 tiny products costs seconds,
 *   a 256 x 256 product milliseconds). 'auto' picks dense while the pairs per head stay
 *   under `densePairs`.
 * - The input is multiplied by the validity mask before the input projection, so the
 *   content of padded (step, channel) entries cannot reach the valid outputs (Qwen-VLA:
 *   "the mask preventing padded entries from influencing the gradient").
 */
import {
  Scope,
  RowIndex,
  add,
  addScalar,
  fromArray,
  gatherRows,
  gelu,
  layernorm,
  linear,
  matmul,
  mergeHeads,
  mul,
  scale,
  shapeStr,
  silu,
  softmax,
  split,
  splitHeads,
  type Runtime,
  type Tensor,
} from '../engine/index';
import type { ParamStore } from './params';

export type DitAttentionLayout = 'auto' | 'dense' | 'batched';

export interface DitConfig {
  /** Width of the action tokens. */
  dModel: number;
  heads: number;
  layers: number;
  /** Chunk length H (action tokens per sample). */
  horizon: number;
  /** Padded channel count K of the action tensor. */
  actionDim: number;
  /** Width of the backbone's hidden states; 0 builds a DiT without cross-attention. */
  contextDim: number;
  /** Hidden width of the block MLPs (DiT: 4 dModel). */
  mlpHidden: number;
  /** Sinusoid features of the timestep embedding (even). */
  timeFreqDim: number;
  /** tau in [0, 1] is multiplied by this before the sinusoid, so the DiT frequency range
   * (periods 1 .. maxPeriod on t in [0, 1000]) resolves small changes of tau. */
  timeScale: number;
  normEps: number;
  /** Score layout (see the module comment); both give the same result. */
  attention?: DitAttentionLayout;
  /** 'auto' uses the dense layout while query rows x key rows <= this (default 65536). */
  densePairs?: number;
}

export const DEFAULT_DIT: Omit<DitConfig, 'horizon' | 'actionDim' | 'contextDim'> = {
  dModel: 64,
  heads: 4,
  layers: 2,
  mlpHidden: 256,
  timeFreqDim: 64,
  timeScale: 1000,
  normEps: 1e-6,
};

export function validateDitConfig(c: DitConfig): void {
  const pos = (k: 'dModel' | 'heads' | 'layers' | 'horizon' | 'actionDim' | 'mlpHidden' | 'timeFreqDim') => {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`dit.${k} must be a positive integer, got ${c[k]}`);
  };
  (['dModel', 'heads', 'layers', 'horizon', 'actionDim', 'mlpHidden', 'timeFreqDim'] as const).forEach(pos);
  if (!Number.isInteger(c.contextDim) || c.contextDim < 0) {
    throw new RangeError(`dit.contextDim must be a non-negative integer (0: no context), got ${c.contextDim}`);
  }
  if (c.dModel % c.heads !== 0) throw new RangeError(`dit.dModel (${c.dModel}) must be divisible by dit.heads (${c.heads})`);
  if (c.timeFreqDim % 2 !== 0) throw new RangeError(`dit.timeFreqDim must be even, got ${c.timeFreqDim}`);
  if (!(c.timeScale > 0)) throw new RangeError(`dit.timeScale must be > 0, got ${c.timeScale}`);
  if (!(c.normEps > 0)) throw new RangeError(`dit.normEps must be > 0, got ${c.normEps}`);
  if (c.attention !== undefined && !['auto', 'dense', 'batched'].includes(c.attention)) {
    throw new RangeError(`dit.attention must be 'auto', 'dense' or 'batched', got ${String(c.attention)}`);
  }
  if (c.densePairs !== undefined && !(c.densePairs >= 0)) throw new RangeError(`dit.densePairs must be >= 0, got ${c.densePairs}`);
}

/**
 * DiT's sinusoidal timestep embedding, [B, dim] as (cos(t f_i), sin(t f_i)) with
 * t = timeScale * tau and f_i = maxPeriod^(-i / (dim/2)). Computed on the CPU: tau is
 * sampled there (training) or is a known constant of the Euler step (inference).
 */
export function timestepEmbedding(tau: ArrayLike<number>, dim: number, timeScale = 1000, maxPeriod = 10000): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(tau.length * dim);
  for (let b = 0; b < tau.length; b++) {
    const t = tau[b] * timeScale;
    for (let i = 0; i < half; i++) {
      const f = Math.exp((-Math.log(maxPeriod) * i) / half);
      out[b * dim + i] = Math.cos(t * f);
      out[b * dim + half + i] = Math.sin(t * f);
    }
  }
  return out;
}

/** The backbone's hidden states and, per sample b, its context rows [start[b], end[b]). */
export interface DitContext {
  /** [n, contextDim] hidden states of the packed batch. */
  hidden: Tensor;
  start: ArrayLike<number>;
  end: ArrayLike<number>;
}

/** Context projected once and turned into per-block keys and values; reused across
 * the Euler steps of one sampling call (the context does not depend on tau). */
export interface PreparedContext {
  B: number;
  /** Longest context L in the batch (the padded width). */
  L: number;
  dense: boolean;
  /** Additive bias: [B, 1, L] (batched) or [B*H, B*L] (dense); 0 on a sample's own
   * context tokens, -1e9 elsewhere. */
  bias: Tensor;
  /** Per block: keys and values [heads, B * L, hd]. */
  keys: Tensor[];
  values: Tensor[];
}

export interface DitInput {
  /** [B, H, K] noisy actions a_tau. */
  noisy: Tensor;
  /** [B] flow times (tau = 1 is data). */
  tau: ArrayLike<number>;
  /** [B, H, K] validity mask (1 valid, 0 padded); absent: every entry valid. */
  mask?: Tensor;
  /** Required when contextDim > 0: raw (DitContext) or prepared once (PreparedContext). */
  context?: DitContext | PreparedContext;
}

export interface DitOutput {
  /** [B, H, K] velocity. */
  velocity: Tensor;
  /** Token stream [B, H, d] entering the first block and leaving each block (for the
   * adaLN-Zero identity test and diagnostics). */
  tokens: Tensor[];
}

interface AttnParams {
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  wo: Tensor;
}

interface BlockParams {
  /** [d, pieces * d] and [pieces * d]: (shift, scale, gate) per sub-block. */
  adaW: Tensor;
  adaB: Tensor;
  self: AttnParams;
  cross: AttnParams | null;
  fc1: Tensor;
  fc1b: Tensor;
  fc2: Tensor;
  fc2b: Tensor;
}

const NEG_BIG = -1e9;

function isPrepared(c: DitContext | PreparedContext): c is PreparedContext {
  return (c as PreparedContext).keys !== undefined;
}

/** [rows, cols] additive bias: 0 where rowGroup[r] == colGroup[c] (and the column is
 * valid), -1e9 elsewhere. */
function groupBias(rowGroup: (r: number) => number, rows: number, colGroup: (c: number) => number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const g = rowGroup(r);
    for (let c = 0; c < cols; c++) out[r * cols + c] = colGroup(c) === g ? 0 : NEG_BIG;
  }
  return out;
}

export class Dit {
  readonly cfg: DitConfig;
  readonly rt: Runtime;
  /** Names of this DiT's parameters in the store (prefix `dit.`), for optimizers. */
  readonly paramNames: string[] = [];
  private readonly tW1: Tensor;
  private readonly tB1: Tensor;
  private readonly tW2: Tensor;
  private readonly tB2: Tensor;
  private readonly inW1: Tensor;
  private readonly inB1: Tensor;
  private readonly inW2: Tensor;
  private readonly inB2: Tensor;
  private readonly pos: Tensor;
  private readonly ctxW: Tensor | null;
  private readonly ctxB: Tensor | null;
  private readonly blocks: BlockParams[];
  private readonly finalW: Tensor;
  private readonly finalB: Tensor;
  private readonly outW: Tensor;
  private readonly outB: Tensor;
  /** LayerNorm without affine: fixed ones/zeros, not parameters. */
  private readonly lnOnes: Tensor;
  private readonly lnZeros: Tensor;

  constructor(store: ParamStore, cfg: DitConfig, prefix = 'dit') {
    validateDitConfig(cfg);
    this.cfg = cfg;
    this.rt = store.rt;
    const d = cfg.dModel;
    const before = new Set(store.tensors.keys());
    const attn = (p: string): AttnParams => ({
      wq: store.linear(`${p}.wq`, d, d),
      wk: store.linear(`${p}.wk`, d, d),
      wv: store.linear(`${p}.wv`, d, d),
      wo: store.linear(`${p}.wo`, d, d),
    });
    this.tW1 = store.linear(`${prefix}.time.w1`, cfg.timeFreqDim, d);
    this.tB1 = store.constant(`${prefix}.time.b1`, [d], 0);
    this.tW2 = store.linear(`${prefix}.time.w2`, d, d);
    this.tB2 = store.constant(`${prefix}.time.b2`, [d], 0);
    // Action projection MLP (Qwen-VLA: "action projection MLPs that map between the raw
    // action dimension and the DiT latent space"). A plain linear would not do: every
    // sub-block reads LN(x), and LN(W a) is blind to the magnitude of a (LN is scale
    // invariant), which the velocity needs; silu is not homogeneous, so LN(W2 silu(W1 a))
    // keeps it.
    this.inW1 = store.linear(`${prefix}.action_in.w1`, cfg.actionDim, d);
    this.inB1 = store.constant(`${prefix}.action_in.b1`, [d], 0);
    this.inW2 = store.linear(`${prefix}.action_in.w2`, d, d);
    this.inB2 = store.constant(`${prefix}.action_in.b2`, [d], 0);
    // Small learned positions (std 0.02 as in ViT/DiT learned embeddings): the action
    // projection dominates the token content at init.
    this.pos = store.normal(`${prefix}.pos_embed`, [cfg.horizon, d], 0.02);
    if (cfg.contextDim > 0) {
      this.ctxW = store.linear(`${prefix}.context_proj.w`, cfg.contextDim, d);
      this.ctxB = store.constant(`${prefix}.context_proj.b`, [d], 0);
    } else {
      this.ctxW = null;
      this.ctxB = null;
    }
    const pieces = this.blockPieces;
    this.blocks = Array.from({ length: cfg.layers }, (_, l) => {
      const p = `${prefix}.blocks.${l}`;
      return {
        // adaLN-Zero: the whole modulation starts at zero (shift 0, scale 0, gate 0).
        adaW: store.constant(`${p}.ada.w`, [d, pieces * d], 0),
        adaB: store.constant(`${p}.ada.b`, [pieces * d], 0),
        self: attn(`${p}.self_attn`),
        cross: cfg.contextDim > 0 ? attn(`${p}.cross_attn`) : null,
        fc1: store.linear(`${p}.mlp.fc1`, d, cfg.mlpHidden),
        fc1b: store.constant(`${p}.mlp.fc1_b`, [cfg.mlpHidden], 0),
        fc2: store.linear(`${p}.mlp.fc2`, cfg.mlpHidden, d),
        fc2b: store.constant(`${p}.mlp.fc2_b`, [d], 0),
      };
    });
    this.finalW = store.constant(`${prefix}.final.ada.w`, [d, 2 * d], 0);
    this.finalB = store.constant(`${prefix}.final.ada.b`, [2 * d], 0);
    this.outW = store.constant(`${prefix}.action_out.w`, [d, cfg.actionDim], 0);
    this.outB = store.constant(`${prefix}.action_out.b`, [cfg.actionDim], 0);
    for (const k of store.tensors.keys()) if (!before.has(k)) this.paramNames.push(k);

    const own = (t: Tensor) => {
      Scope.current?.untrack(t);
      return t;
    };
    this.lnOnes = own(fromArray(this.rt, new Float32Array(d).fill(1), [d]));
    this.lnZeros = own(fromArray(this.rt, new Float32Array(d), [d]));
  }

  /** Modulation vectors per block: (shift, scale, gate) x (self, [cross,] mlp). */
  private get blockPieces(): number {
    return this.cfg.contextDim > 0 ? 9 : 6;
  }

  /** The DiT's parameters from `store` (the one passed to the constructor). */
  params(store: ParamStore): Tensor[] {
    return this.paramNames.map((n) => {
      const t = store.tensors.get(n);
      if (!t) throw new Error(`dit.params: '${n}' is not in this store (pass the store the DiT was built with)`);
      return t;
    });
  }

  private useDense(queryRows: number, keyRows: number): boolean {
    const mode = this.cfg.attention ?? 'auto';
    if (mode !== 'auto') return mode === 'dense';
    return queryRows * keyRows <= (this.cfg.densePairs ?? 65536);
  }

  /**
   * Projects the context once and computes every block's cross-attention keys and
   * values. Each sample b attends to rows [start[b], end[b]) of `hidden`, which must be
   * non-empty (a softmax over nothing is undefined).
   */
  prepareContext(ctx: DitContext): PreparedContext {
    const { cfg } = this;
    if (!this.ctxW || !this.ctxB) throw new Error('dit.prepareContext: this DiT was built with contextDim = 0');
    const h = ctx.hidden;
    if (h.rank !== 2 || h.shape[1] !== cfg.contextDim) {
      throw new RangeError(`dit: context.hidden ${shapeStr(h.shape)} must be [n, contextDim = ${cfg.contextDim}]`);
    }
    const B = ctx.start.length;
    if (ctx.end.length !== B) throw new RangeError(`dit: context.start has ${B} entries but context.end has ${ctx.end.length}`);
    const n = h.shape[0];
    let L = 0;
    for (let b = 0; b < B; b++) {
      const s = ctx.start[b];
      const e = ctx.end[b];
      if (!(Number.isInteger(s) && Number.isInteger(e) && s >= 0 && e > s && e <= n)) {
        throw new RangeError(`dit: context range of sample ${b} is [${s}, ${e}); it must be non-empty and inside [0, ${n})`);
      }
      L = Math.max(L, e - s);
    }
    // Padding slots read the sample's first row (any valid row would do): the bias
    // gives them weight exactly 0, so they add nothing to outputs or gradients.
    const rows = new Int32Array(B * L);
    const len = (b: number) => ctx.end[b] - ctx.start[b];
    for (let b = 0; b < B; b++) for (let j = 0; j < L; j++) rows[b * L + j] = j < len(b) ? ctx.start[b] + j : ctx.start[b];
    const H = cfg.horizon;
    const dense = this.useDense(B * H, B * L);
    // Column c of the padded block belongs to sample floor(c / L) if it is not padding.
    // Column c of the padded block belongs to sample floor(c / L) unless it is padding.
    const colGroup = (c: number) => (c % L < len(Math.floor(c / L)) ? Math.floor(c / L) : -1);
    const bias = dense
      ? groupBias((r) => Math.floor(r / H), B * H, colGroup, B * L)
      : groupBias((r) => r, B, (c) => (c % L < len(Math.floor(c / L)) ? Math.floor(c / L) : -1), B * L);
    let biasT: Tensor;
    if (dense) biasT = fromArray(this.rt, bias, [B * H, B * L]);
    else {
      // Batched scores are per sample, so only the diagonal blocks [b, b*L .. (b+1)*L) matter.
      const diag = new Float32Array(B * L);
      for (let b = 0; b < B; b++) diag.set(bias.subarray(b * B * L + b * L, b * B * L + (b + 1) * L), b * L);
      biasT = fromArray(this.rt, diag, [B, 1, L]);
    }
    const gathered = gatherRows(h, new RowIndex(this.rt, rows, n)); // [B*L, contextDim]
    const proj = linear(gathered, this.ctxW, this.ctxB); // [B*L, d]
    // Kept as splitHeads made them (not reshape views) so a caller's tidy may keep them.
    const heads = (w: Tensor) => splitHeads(linear(proj, w), cfg.heads);
    const keys: Tensor[] = [];
    const values: Tensor[] = [];
    for (const blk of this.blocks) {
      keys.push(heads(blk.cross!.wk));
      values.push(heads(blk.cross!.wv));
    }
    return { B, L, dense, bias: biasT, keys, values };
  }

  forward(input: DitInput): DitOutput {
    const { cfg } = this;
    const { noisy } = input;
    const H = cfg.horizon;
    const K = cfg.actionDim;
    const d = cfg.dModel;
    if (noisy.rank !== 3 || noisy.shape[1] !== H || noisy.shape[2] !== K) {
      throw new RangeError(`dit.forward: noisy ${shapeStr(noisy.shape)} must be [B, horizon = ${H}, actionDim = ${K}]`);
    }
    const B = noisy.shape[0];
    if (input.tau.length !== B) throw new RangeError(`dit.forward: tau has ${input.tau.length} entries for a batch of ${B}`);
    if (input.mask && shapeStr(input.mask.shape) !== shapeStr(noisy.shape)) {
      throw new RangeError(`dit.forward: mask ${shapeStr(input.mask.shape)} must match noisy ${shapeStr(noisy.shape)}`);
    }
    let ctx: PreparedContext | null = null;
    if (cfg.contextDim > 0) {
      if (!input.context) throw new Error(`dit.forward: context is required (contextDim = ${cfg.contextDim})`);
      ctx = isPrepared(input.context) ? input.context : this.prepareContext(input.context);
      if (ctx.B !== B) throw new RangeError(`dit.forward: the context has ${ctx.B} samples for a batch of ${B}`);
    } else if (input.context) {
      throw new Error('dit.forward: a context was given but this DiT was built with contextDim = 0');
    }

    // Timestep conditioning c [B, d]; every modulation reads silu(c).
    const temb = fromArray(this.rt, timestepEmbedding(input.tau, cfg.timeFreqDim, cfg.timeScale), [B, cfg.timeFreqDim]);
    const c = linear(silu(linear(temb, this.tW1, this.tB1)), this.tW2, this.tB2);
    const cs = silu(c);
    const modulations = (w: Tensor, b: Tensor, pieces: number) =>
      split(linear(cs, w, b), new Array<number>(pieces).fill(d), 1).map((m) => m.reshape([B, 1, d]));

    const selfDense = H > 1 && this.useDense(B * H, B * H);
    const selfBias = selfDense
      ? fromArray(this.rt, groupBias((r) => Math.floor(r / H), B * H, (c) => Math.floor(c / H), B * H), [B * H, B * H])
      : null;

    const a = input.mask ? mul(noisy, input.mask) : noisy;
    let x = add(linear(silu(linear(a, this.inW1, this.inB1)), this.inW2, this.inB2), this.pos);
    const tokens = [x];
    for (let l = 0; l < this.blocks.length; l++) {
      const blk = this.blocks[l];
      const mods = modulations(blk.adaW, blk.adaB, this.blockPieces);
      let m = 0;
      const sub = (f: (h: Tensor) => Tensor) => {
        const [shift, scl, gate] = [mods[m], mods[m + 1], mods[m + 2]];
        m += 3;
        x = add(x, mul(gate, f(this.modulate(x, shift, scl))));
      };
      sub((h) => this.selfAttention(h, blk.self, B, selfBias));
      if (ctx) {
        const prepared = ctx;
        sub((h) => this.crossAttention(h, blk.cross!, prepared, l));
      }
      sub((h) => linear(gelu(linear(h, blk.fc1, blk.fc1b)), blk.fc2, blk.fc2b));
      tokens.push(x);
    }
    const [shiftF, scaleF] = modulations(this.finalW, this.finalB, 2);
    // Projected from the [B, H, d] stream directly so the result is its own tensor, not a
    // reshape view (tidy keeping a view would free the view's base buffer).
    const velocity = linear(this.modulate(x, shiftF, scaleF), this.outW, this.outB);
    return { velocity, tokens };
  }

  /** LN(x) * (1 + scale) + shift, LayerNorm without affine parameters. */
  private modulate(x: Tensor, shift: Tensor, scl: Tensor): Tensor {
    const h = layernorm(x, this.lnOnes, this.lnZeros, this.cfg.normEps);
    return add(mul(h, addScalar(scl, 1)), shift);
  }

  /** softmax(q k^T / sqrt(hd) + bias) v with q [G, M, hd], k and v [G, N, hd]. */
  private attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null, biasView?: number[]): Tensor {
    const hd = this.cfg.dModel / this.cfg.heads;
    let scores = scale(matmul(q, k, { transB: true }), 1 / Math.sqrt(hd));
    if (bias) {
      const shape = scores.shape;
      scores = add(biasView ? scores.reshape(biasView) : scores, bias).reshape(shape);
    }
    return matmul(softmax(scores), v);
  }

  private selfAttention(h: Tensor, p: AttnParams, B: number, denseBias: Tensor | null): Tensor {
    const { heads, horizon: H, dModel: d } = this.cfg;
    const hd = d / heads;
    const h2 = h.reshape([B * H, d]);
    // One token attends only to itself with weight softmax([s]) = 1 exactly, so the
    // output is its own value: skip the scores and the head split.
    if (H === 1) return linear(linear(h2, p.wv), p.wo).reshape([B, H, d]);
    const q = splitHeads(linear(h2, p.wq), heads); // [heads, B*H, hd]
    const k = splitHeads(linear(h2, p.wk), heads);
    const v = splitHeads(linear(h2, p.wv), heads);
    let o: Tensor;
    if (denseBias) o = this.attend(q, k, v, denseBias);
    else {
      const g = [heads * B, H, hd];
      o = this.attend(q.reshape(g), k.reshape(g), v.reshape(g), null).reshape([heads, B * H, hd]);
    }
    return linear(mergeHeads(o), p.wo).reshape([B, H, d]);
  }

  private crossAttention(h: Tensor, p: AttnParams, ctx: PreparedContext, layer: number): Tensor {
    const { heads, horizon: H, dModel: d } = this.cfg;
    const hd = d / heads;
    const B = ctx.B;
    const q = splitHeads(linear(h.reshape([B * H, d]), p.wq), heads); // [heads, B*H, hd]
    let o: Tensor;
    if (ctx.dense) o = this.attend(q, ctx.keys[layer], ctx.values[layer], ctx.bias);
    else {
      const g = [heads * B, ctx.L, hd];
      const qb = q.reshape([heads * B, H, hd]);
      const k = ctx.keys[layer].reshape(g);
      const v = ctx.values[layer].reshape(g);
      o = this.attend(qb, k, v, ctx.bias, [heads, B, H, ctx.L]).reshape([heads, B * H, hd]);
    }
    return linear(mergeHeads(o), p.wo).reshape([B, H, d]);
  }

  /** Frees the DiT's own constants (its parameters belong to the ParamStore). */
  dispose(): void {
    this.lnOnes.dispose();
    this.lnZeros.dispose();
  }
}
