/**
 * FAST action tokenizer (Pertsch et al. 2025), as used by PRTS for the AR action tokens.
 *
 *   chunk [H, K] -> quantile-normalize each channel with q01/q99 ([-1, 1] spans q01..q99)
 *                   and clip to [-clip, clip]
 *                -> DCT-II (orthonormal) along time, per channel
 *                -> multiply by `scale` (default 10) and round to integers
 *                -> flatten frequency-major (every channel's lowest frequency first)
 *                -> shift to non-negative symbols -> BPE (fitted on the dataset's chunks)
 *
 * Decoding inverts every step; the only loss is the rounding (and the clipping of values
 * beyond `clip`). Unlike the reference implementation, which sizes its alphabet by
 * the coefficients seen during fitting, the alphabet here covers every coefficient a
 * clipped chunk can produce: the orthonormal DCT preserves the L2 norm, so
 * |X_k| <= ||x||_2 <= clip sqrt(H) and every rounded coefficient lies in
 * [-B, B] with B = ceil(scale * clip * sqrt(H)). Encoding never meets an unknown symbol.
 *
 * Why `clip` and not the reference's clip at 1: with few demonstrations q99 cuts real
 * actions (64 frames: dy's q99 0.570 against a demo's first actions 0.68, 0.66, 0.62),
 * so a policy trained on clipped targets can never reproduce the start of its own
 * demonstration and undershoots (issue 10). fit() therefore sets `clip` to the largest
 * normalised magnitude in the fitted chunks (rounded up to a quarter, at least 1, at
 * most MAX_FIT_CLIP): q01/q99 still set the scale, robust to outliers, and no training
 * value is clipped unless it lies beyond MAX_FIT_CLIP half-ranges. Version-1 JSON (before
 * the field existed) loads with clip 1.
 *
 * Channels marked invalid in the validity mask (Qwen-VLA's zero-padded K channels) are
 * not encoded at all and decode to zero, so padding costs no tokens.
 */
import { Bpe, type BpeJSON } from './bpe.ts';

export class FastError extends Error {
  override name = 'FastError';
}

/** Per-channel quantiles (length K) as in LeRobot's stats.json. */
export interface QuantileStats {
  q01: ArrayLike<number>;
  q99: ArrayLike<number>;
}

export interface FastFitOptions {
  /** Chunk length H (time steps). */
  horizon: number;
  /** Channels K per step (including padded channels). */
  actionDim: number;
  /** DCT coefficient scale before rounding (default 10, as in FAST and PRTS). */
  scale?: number;
  /** BPE vocabulary size including the base alphabet (default 1024). */
  vocabSize?: number;
  /** Minimum pair frequency for a BPE merge (default 2). */
  minFrequency?: number;
  /** q01/q99 per channel; computed from the chunks when omitted. */
  stats?: QuantileStats;
  /**
   * Clip bound in normalised units (>= 1; 1 is the reference FAST). Default: the
   * smallest quarter step covering every fitted value, capped at MAX_FIT_CLIP.
   */
  clip?: number;
  /**
   * Which channels carry signal: a count c (the leading c channels, Qwen-VLA's layout)
   * or a 0/1 mask of length K. Default: all K channels.
   */
  validChannels?: number | ArrayLike<number | boolean>;
}

export interface FastDecodeResult {
  /** H * K values, step-major; invalid (padded) channels are 0. */
  actions: Float32Array;
  /** False when the ids were malformed (unknown ids or the wrong coefficient count). */
  valid: boolean;
  /** Why `valid` is false. */
  reason?: string;
  /** Coefficients the ids expanded to (H * validChannels when well formed). */
  numCoefficients: number;
  /** 1 for channels the tokenizer reconstructs, length K. */
  channelMask: Uint8Array;
}

export interface FastRoundTripReport {
  chunks: number;
  /** Mean and max FAST tokens per chunk. */
  meanTokens: number;
  maxTokens: number;
  /** Coefficients per chunk (H * valid channels) / mean tokens per chunk. */
  compressionRatio: number;
  /**
   * Quantization error: decoded vs. the input clipped to [-clip, clip], over valid
   * channels. `Norm` is in normalized units ([-1, 1] spans q01..q99), `Action` in the
   * data's own units.
   */
  meanAbsNorm: number;
  maxAbsNorm: number;
  meanAbsAction: number;
  maxAbsAction: number;
  /** Decoded vs. the raw input (quantization plus clipping of outliers), action units. */
  meanAbsActionTotal: number;
  maxAbsActionTotal: number;
  /** Fraction of valid values beyond the clip bound (clipped before encoding). */
  clippedFraction: number;
  /** Worst-case normalized error rounding alone can cause: 0.5 * sqrt(H) / scale. */
  boundNorm: number;
}

export interface FastJSON {
  type: 'fast';
  /** 2 added `clip`; version 1 files load with clip 1. */
  version: 1 | 2;
  horizon: number;
  actionDim: number;
  scale: number;
  clip?: number;
  channelMask: number[];
  q01: number[];
  q99: number[];
  bpe: BpeJSON;
}

// As in openpi's quantile normalization: keeps a constant channel (q01 == q99) finite.
// Exported so the DiT's action space (src/train/posttrain-actions.ts) normalises the same way.
export const RANGE_EPS = 1e-6;

/** Largest clip bound fit() chooses: values beyond 4 half-ranges past q01/q99 are outliers. */
export const MAX_FIT_CLIP = 4;

/** The clip bound fit() picks: the largest |normalised value| rounded up to a quarter, in [1, MAX_FIT_CLIP]. */
export function fitClip(chunks: readonly ArrayLike<number>[], K: number, stats: QuantileStats, channelMask: ArrayLike<number>): number {
  let worst = 1;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) {
      const d = i % K;
      if (!channelMask[d]) continue;
      const x = Math.abs(((c[i] - stats.q01[d]) / (stats.q99[d] - stats.q01[d] + RANGE_EPS)) * 2 - 1);
      if (x > worst) worst = x;
    }
  }
  return Math.min(MAX_FIT_CLIP, Math.ceil(worst * 4 - 1e-9) / 4);
}

/** Coefficient alphabet half-width B = ceil(scale * clip * sqrt(H)) (see the module comment). */
export function fastAlphabetBound(horizon: number, scale: number, clip = 1): number {
  return Math.ceil(scale * clip * Math.sqrt(horizon));
}

/** Worst-case max abs error in normalized units from rounding the scaled DCT coefficients. */
export function fastQuantizationBound(horizon: number, scale: number): number {
  // Each coefficient is off by at most 0.5 / scale; a time sample is a combination of
  // H coefficients with orthonormal weights c_k, and sum |c_k| <= sqrt(H).
  return (0.5 * Math.sqrt(horizon)) / scale;
}

/** Orthonormal DCT-II matrix C[k * H + t]; forward X = C x, inverse x = C^T X. */
function dctMatrix(H: number): Float64Array {
  const C = new Float64Array(H * H);
  for (let k = 0; k < H; k++) {
    const alpha = k === 0 ? Math.sqrt(1 / H) : Math.sqrt(2 / H);
    for (let t = 0; t < H; t++) C[k * H + t] = alpha * Math.cos((Math.PI * (2 * t + 1) * k) / (2 * H));
  }
  return C;
}

/** numpy's default (linear-interpolation) quantile of sorted values. */
function sortedQuantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** q01/q99 per channel over every step of every chunk. */
export function quantileStatsOf(chunks: readonly ArrayLike<number>[], dim: number): { q01: number[]; q99: number[] } {
  let steps = 0;
  for (const c of chunks) steps += Math.floor(c.length / dim);
  if (steps === 0) throw new FastError('quantileStatsOf: no data (need at least one chunk with one step)');
  const col = new Float64Array(steps);
  const q01: number[] = [];
  const q99: number[] = [];
  for (let d = 0; d < dim; d++) {
    let o = 0;
    for (const c of chunks) for (let i = d; i < c.length; i += dim) col[o++] = c[i];
    col.sort();
    q01.push(sortedQuantile(col, 0.01));
    q99.push(sortedQuantile(col, 0.99));
  }
  return { q01, q99 };
}

function resolveMask(valid: FastFitOptions['validChannels'], K: number): Uint8Array {
  const mask = new Uint8Array(K);
  if (valid === undefined) return mask.fill(1);
  if (typeof valid === 'number') {
    if (!Number.isInteger(valid) || valid < 1 || valid > K) {
      throw new FastError(`validChannels: a channel count must be an integer in [1, actionDim = ${K}], got ${valid}`);
    }
    mask.fill(1, 0, valid);
    return mask;
  }
  if (valid.length !== K) throw new FastError(`validChannels: mask length ${valid.length} must equal actionDim ${K}`);
  for (let d = 0; d < K; d++) mask[d] = valid[d] ? 1 : 0;
  if (!mask.some((m) => m === 1)) throw new FastError('validChannels: the mask marks no channel valid');
  return mask;
}

export class FastTokenizer {
  readonly horizon: number;
  readonly actionDim: number;
  readonly scale: number;
  /** 1 for encoded channels, length K. */
  readonly channelMask: Uint8Array;
  readonly q01: Float64Array;
  readonly q99: Float64Array;
  /** Normalised values are clipped to [-clip, clip] before the DCT. */
  readonly clip: number;
  readonly bpe: Bpe;
  /** Coefficient c maps to base symbol c + bound. */
  readonly bound: number;
  private readonly channels: Int32Array;
  private readonly dct: Float64Array;

  constructor(init: {
    horizon: number;
    actionDim: number;
    scale: number;
    channelMask: ArrayLike<number>;
    q01: ArrayLike<number>;
    q99: ArrayLike<number>;
    clip?: number;
    bpe: Bpe;
  }) {
    const { horizon: H, actionDim: K, scale } = init;
    const clip = init.clip ?? 1;
    if (!(Number.isFinite(clip) && clip >= 1)) throw new FastError(`clip must be a finite number >= 1, got ${clip}`);
    this.clip = clip;
    if (!Number.isInteger(H) || H < 1) throw new FastError(`horizon must be a positive integer, got ${H}`);
    if (!Number.isInteger(K) || K < 1) throw new FastError(`actionDim must be a positive integer, got ${K}`);
    if (!(Number.isFinite(scale) && scale > 0)) throw new FastError(`scale must be a positive finite number, got ${scale}`);
    this.horizon = H;
    this.actionDim = K;
    this.scale = scale;
    this.channelMask = resolveMask(init.channelMask, K);
    for (const [name, q] of [['q01', init.q01], ['q99', init.q99]] as const) {
      if (q.length !== K) throw new FastError(`stats.${name} has length ${q.length}, expected actionDim = ${K}`);
    }
    this.q01 = Float64Array.from(init.q01);
    this.q99 = Float64Array.from(init.q99);
    const ch: number[] = [];
    for (let d = 0; d < K; d++) {
      if (!this.channelMask[d]) continue;
      ch.push(d);
      if (!Number.isFinite(this.q01[d]) || !Number.isFinite(this.q99[d])) {
        throw new FastError(`stats for channel ${d} must be finite, got q01 = ${this.q01[d]}, q99 = ${this.q99[d]}`);
      }
      if (this.q99[d] < this.q01[d]) {
        throw new FastError(`stats for channel ${d}: q99 (${this.q99[d]}) is below q01 (${this.q01[d]})`);
      }
    }
    this.channels = Int32Array.from(ch);
    this.bound = fastAlphabetBound(H, scale, clip);
    if (init.bpe.baseSize !== 2 * this.bound + 1) {
      throw new FastError(
        `bpe.baseSize ${init.bpe.baseSize} does not match the coefficient alphabet 2 * ceil(scale * clip * sqrt(H)) + 1 = ${2 * this.bound + 1}`,
      );
    }
    this.bpe = init.bpe;
    this.dct = dctMatrix(H);
  }

  /** Fits quantile stats (unless given) and the BPE on the quantized coefficients of `chunks`. */
  static fit(chunks: readonly ArrayLike<number>[], options: FastFitOptions): FastTokenizer {
    const { horizon: H, actionDim: K } = options;
    const scale = options.scale ?? 10;
    if (!Number.isInteger(H) || H < 1) throw new FastError(`fit: horizon must be a positive integer, got ${H}`);
    if (!Number.isInteger(K) || K < 1) throw new FastError(`fit: actionDim must be a positive integer, got ${K}`);
    if (chunks.length === 0) throw new FastError('fit: need at least one chunk');
    chunks.forEach((c, i) => {
      if (c.length !== H * K) throw new FastError(`fit: chunk ${i} has ${c.length} values, expected horizon * actionDim = ${H * K}`);
    });
    const stats = options.stats ?? quantileStatsOf(chunks, K);
    const channelMask = resolveMask(options.validChannels, K);
    const clip = options.clip ?? fitClip(chunks, K, stats, channelMask);
    if (!(Number.isFinite(clip) && clip >= 1)) throw new FastError(`fit: clip must be a finite number >= 1, got ${clip}`);
    const bound = fastAlphabetBound(H, scale, clip);
    // A BPE with no merges gives the encoder its alphabet; quantize with it, then train.
    const base = new FastTokenizer({
      horizon: H,
      actionDim: K,
      scale,
      channelMask,
      q01: stats.q01,
      q99: stats.q99,
      clip,
      bpe: new Bpe(2 * bound + 1, []),
    });
    const symbols = chunks.map((c, i) => base.symbolsOf(c, `fit: chunk ${i}`));
    const vocabSize = options.vocabSize ?? 1024;
    if (!Number.isInteger(vocabSize) || vocabSize < 2 * bound + 1) {
      throw new FastError(
        `fit: vocabSize must be an integer >= the coefficient alphabet 2 * ceil(scale * clip * sqrt(H)) + 1 = ${2 * bound + 1}, got ${vocabSize}`,
      );
    }
    const bpe = Bpe.train(symbols, 2 * bound + 1, { vocabSize, minFrequency: options.minFrequency ?? 2 });
    return new FastTokenizer({ horizon: H, actionDim: K, scale, channelMask: base.channelMask, q01: base.q01, q99: base.q99, clip, bpe });
  }

  /** FAST token ids, in [0, vocabSize). */
  get vocabSize(): number {
    return this.bpe.vocabSize;
  }

  /** Encoded channels (count of 1s in the mask). */
  get numValidChannels(): number {
    return this.channels.length;
  }

  /** Worst-case normalized round-trip error from rounding (values inside [q01, q99]). */
  get quantizationBound(): number {
    return fastQuantizationBound(this.horizon, this.scale);
  }

  private checkChunk(chunk: ArrayLike<number>, what: string): void {
    const n = this.horizon * this.actionDim;
    if (chunk.length !== n) {
      throw new FastError(`${what}: chunk has ${chunk.length} values, expected horizon * actionDim = ${this.horizon} * ${this.actionDim} = ${n}`);
    }
    for (const d of this.channels) {
      for (let t = 0; t < this.horizon; t++) {
        const v = chunk[t * this.actionDim + d];
        if (!Number.isFinite(v)) throw new FastError(`${what}: value at step ${t}, channel ${d} is ${v}, not finite`);
      }
    }
  }

  /** Normalized (clipped) value of channel d. */
  private normalize(v: number, d: number): number {
    const x = ((v - this.q01[d]) / (this.q99[d] - this.q01[d] + RANGE_EPS)) * 2 - 1;
    return x < -this.clip ? -this.clip : x > this.clip ? this.clip : x;
  }

  /**
   * Coefficients each FAST id stands for (its BPE expansion's length), indexed by id: what
   * a decoder needs to keep a generated span at exactly horizon x channels coefficients.
   */
  symbolCounts(): Int32Array {
    return Int32Array.from({ length: this.vocabSize }, (_, id) => this.bpe.expand(id).length);
  }

  /** Longest valid token span of one chunk: every token stands for at least one coefficient. */
  get maxTokens(): number {
    return this.horizon * this.channels.length;
  }

  private unnormalize(x: number, d: number): number {
    return ((x + 1) / 2) * (this.q99[d] - this.q01[d] + RANGE_EPS) + this.q01[d];
  }

  /** Rounded scaled DCT coefficients, frequency-major over the valid channels. */
  coefficients(chunk: ArrayLike<number>): Int32Array {
    this.checkChunk(chunk, 'coefficients');
    const H = this.horizon;
    const K = this.actionDim;
    const C = this.channels.length;
    const out = new Int32Array(H * C);
    const x = new Float64Array(H);
    for (let ci = 0; ci < C; ci++) {
      const d = this.channels[ci];
      for (let t = 0; t < H; t++) x[t] = this.normalize(chunk[t * K + d], d);
      for (let k = 0; k < H; k++) {
        let s = 0;
        for (let t = 0; t < H; t++) s += this.dct[k * H + t] * x[t];
        // The clamp is a no-op by the norm bound; it only guards floating-point edge cases.
        out[k * C + ci] = Math.max(-this.bound, Math.min(this.bound, Math.round(s * this.scale)));
      }
    }
    return out;
  }

  private symbolsOf(chunk: ArrayLike<number>, what: string): Int32Array {
    this.checkChunk(chunk, what);
    const c = this.coefficients(chunk);
    for (let i = 0; i < c.length; i++) c[i] += this.bound;
    return c;
  }

  /** Token ids of one chunk (H * K values, step-major). Throws on malformed input data. */
  encode(chunk: ArrayLike<number>): Int32Array {
    return this.bpe.encode(this.symbolsOf(chunk, 'encode'));
  }

  /**
   * Chunk from token ids. Never throws: ids a model produced may be anything, so unknown
   * ids are skipped, a wrong coefficient count is truncated or zero-padded, and `valid`
   * reports whether any of that happened.
   */
  decode(ids: ArrayLike<number>): FastDecodeResult {
    const H = this.horizon;
    const K = this.actionDim;
    const C = this.channels.length;
    const { symbols, badIds } = this.bpe.decodeLenient(ids);
    const reasons: string[] = [];
    if (badIds > 0) reasons.push(`${badIds} id(s) outside the FAST vocabulary [0, ${this.vocabSize})`);
    if (symbols.length !== H * C) {
      reasons.push(`${symbols.length} coefficients, expected horizon * channels = ${H * C} (${symbols.length > H * C ? 'truncated' : 'zero-padded'})`);
    }
    const coef = new Float64Array(H * C);
    const n = Math.min(symbols.length, H * C);
    for (let i = 0; i < n; i++) coef[i] = (symbols[i] - this.bound) / this.scale;
    const actions = new Float32Array(H * K);
    for (let ci = 0; ci < C; ci++) {
      const d = this.channels[ci];
      for (let t = 0; t < H; t++) {
        let s = 0;
        for (let k = 0; k < H; k++) s += this.dct[k * H + t] * coef[k * C + ci];
        actions[t * K + d] = this.unnormalize(s, d);
      }
    }
    const out: FastDecodeResult = { actions, valid: reasons.length === 0, numCoefficients: symbols.length, channelMask: this.channelMask.slice() };
    if (reasons.length > 0) out.reason = reasons.join('; ');
    return out;
  }

  /** Encodes and decodes every chunk; errors over valid channels, tokens and compression. */
  roundTripError(chunks: readonly ArrayLike<number>[]): FastRoundTripReport {
    if (chunks.length === 0) throw new FastError('roundTripError: need at least one chunk');
    const K = this.actionDim;
    let tokens = 0;
    let maxTokens = 0;
    let sumNorm = 0;
    let maxNorm = 0;
    let sumAct = 0;
    let maxAct = 0;
    let sumTot = 0;
    let maxTot = 0;
    let clipped = 0;
    let count = 0;
    chunks.forEach((chunk, i) => {
      const ids = this.encode(chunk);
      tokens += ids.length;
      maxTokens = Math.max(maxTokens, ids.length);
      const dec = this.decode(ids);
      if (!dec.valid) throw new FastError(`roundTripError: chunk ${i} did not decode cleanly (${dec.reason})`);
      for (let t = 0; t < this.horizon; t++) {
        for (const d of this.channels) {
          const raw = chunk[t * K + d];
          const y = dec.actions[t * K + d];
          const half = (this.q99[d] - this.q01[d] + RANGE_EPS) / 2;
          const xr = (raw - this.q01[d]) / half - 1;
          const isClipped = xr < -this.clip || xr > this.clip;
          // The quantization target is the value the encoder actually saw (clipped).
          const target = isClipped ? this.unnormalize(xr < 0 ? -this.clip : this.clip, d) : raw;
          const eAct = Math.abs(y - target);
          const eNorm = eAct / half;
          const eTot = Math.abs(y - raw);
          if (isClipped) clipped++;
          sumNorm += eNorm;
          sumAct += eAct;
          sumTot += eTot;
          if (eNorm > maxNorm) maxNorm = eNorm;
          if (eAct > maxAct) maxAct = eAct;
          if (eTot > maxTot) maxTot = eTot;
          count++;
        }
      }
    });
    const meanTokens = tokens / chunks.length;
    return {
      chunks: chunks.length,
      meanTokens,
      maxTokens,
      compressionRatio: (this.horizon * this.channels.length) / meanTokens,
      meanAbsNorm: sumNorm / count,
      maxAbsNorm: maxNorm,
      meanAbsAction: sumAct / count,
      maxAbsAction: maxAct,
      meanAbsActionTotal: sumTot / count,
      maxAbsActionTotal: maxTot,
      clippedFraction: clipped / count,
      boundNorm: this.quantizationBound,
    };
  }

  toJSON(): FastJSON {
    return {
      type: 'fast',
      version: 2,
      horizon: this.horizon,
      actionDim: this.actionDim,
      scale: this.scale,
      clip: this.clip,
      channelMask: Array.from(this.channelMask),
      q01: Array.from(this.q01),
      q99: Array.from(this.q99),
      bpe: this.bpe.toJSON(),
    };
  }

  static fromJSON(json: unknown): FastTokenizer {
    const j = json as Partial<FastJSON> | null;
    if (!j || typeof j !== 'object') throw new FastError('FastTokenizer.fromJSON: expected an object');
    if (j.type !== 'fast') throw new FastError(`FastTokenizer.fromJSON: field "type" must be "fast", got ${JSON.stringify(j.type)}`);
    if (j.version !== 1 && j.version !== 2) throw new FastError(`FastTokenizer.fromJSON: unsupported "version" ${JSON.stringify(j.version)} (expected 1 or 2)`);
    if (j.version === 2 && typeof j.clip !== 'number') throw new FastError('FastTokenizer.fromJSON: field "clip" must be a number (version 2)');
    for (const f of ['horizon', 'actionDim', 'scale'] as const) {
      if (typeof j[f] !== 'number') throw new FastError(`FastTokenizer.fromJSON: field "${f}" must be a number`);
    }
    for (const f of ['channelMask', 'q01', 'q99'] as const) {
      if (!Array.isArray(j[f])) throw new FastError(`FastTokenizer.fromJSON: field "${f}" must be an array of numbers`);
    }
    return new FastTokenizer({
      horizon: j.horizon!,
      actionDim: j.actionDim!,
      scale: j.scale!,
      channelMask: j.channelMask!,
      q01: j.q01!,
      q99: j.q99!,
      clip: j.version === 2 ? j.clip : 1,
      bpe: Bpe.fromJSON(j.bpe),
    });
  }
}
