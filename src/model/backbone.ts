/**
 * The PRTS backbone: a decoder-only transformer (RMSNorm, RoPE, SwiGLU) whose attention
 * is the role-aware block-sparse kernel, so the BC and CRL objectives share one forward
 * pass (DESIGN.md 3). Image patches enter through a linear stem added at <|image|>
 * slots; every other token is a plain embedding.
 */
import { noGrad } from '../engine/autograd';
import { attention } from '../engine/ops/attention';
import { decodeAttention, writeKv } from '../engine/ops/decode';
import { add, swiglu } from '../engine/ops/elementwise';
import { linear, linearResidual } from '../engine/ops/matmul';
import { embedding, type RowIndex } from '../engine/ops/embedding';
import { rmsnorm } from '../engine/ops/norm';
import { rope } from '../engine/ops/rope';
import type { GpuBlockMap } from '../engine/blockmap';
import { fromArray, type Tensor } from '../engine/tensor';
import { instructionMeans, type ActionStartGoalPlan } from './action-start-goal';
import type { KvCache } from './kvcache';
import { ParamStore } from './params';

export interface BackboneConfig {
  vocabSize: number;
  dModel: number;
  layers: number;
  heads: number;
  /** 32 or 64: the attention kernels are specialised for these. */
  headDim: number;
  mlpHidden: number;
  ropeBase: number;
  normEps: number;
  /** Features per image patch fed to the linear stem (0: no vision input). */
  patchFeatures: number;
  /** Add the instruction's mean embedding at <|action_start|> (model.actionStartGoal; action-start-goal.ts says why). */
  actionStartGoal?: boolean;
}

export interface BackboneInput {
  /** Token ids of the packed sequence (CPU array, or a RowIndex reused across calls). */
  ids: Int32Array | RowIndex;
  /** [n] RoPE positions (restart per document and inside CRL_goal). */
  positions: Int32Array;
  /** [n, patchFeatures] patch features, zero rows at non-image tokens. */
  patches?: Tensor;
  /** Block map of this batch, shared by every layer. */
  map: GpuBlockMap;
  /** With cfg.actionStartGoal: the batch's pooling (null or absent: nothing to add). */
  goal?: ActionStartGoalPlan | null;
}

/** Where forward() leaves each layer's K (after RoPE) and V: a cache slot per packed token, -1 for none. */
export interface KvWrite {
  cache: KvCache;
  slots: Int32Array;
}

/** New tokens for decode(): S per row, row-major ([R * S] ids and positions). */
export interface DecodeInput {
  ids: Int32Array;
  positions: Int32Array;
  /** The cache row of each of the R rows (distinct; rows may be any subset of the cache). */
  rows: Int32Array;
}

export function validateBackboneConfig(c: BackboneConfig): void {
  const pos = (k: keyof BackboneConfig) => {
    if (!Number.isInteger(c[k]) || (c[k] as number) < 1) throw new RangeError(`backbone.${k} must be a positive integer, got ${c[k]}`);
  };
  (['vocabSize', 'dModel', 'layers', 'heads', 'mlpHidden'] as const).forEach(pos);
  if (c.headDim !== 32 && c.headDim !== 64) throw new RangeError(`backbone.headDim must be 32 or 64, got ${c.headDim}`);
  if (c.heads * c.headDim !== c.dModel) {
    throw new RangeError(`backbone: heads * headDim (${c.heads} * ${c.headDim}) must equal dModel (${c.dModel})`);
  }
  if (!(c.ropeBase > 1)) throw new RangeError(`backbone.ropeBase must be > 1, got ${c.ropeBase}`);
  if (!Number.isInteger(c.patchFeatures) || c.patchFeatures < 0) {
    throw new RangeError(`backbone.patchFeatures must be a non-negative integer, got ${c.patchFeatures}`);
  }
}

interface LayerParams {
  attnNorm: Tensor;
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  wo: Tensor;
  mlpNorm: Tensor;
  wGate: Tensor;
  wUp: Tensor;
  wDown: Tensor;
}

export class Backbone {
  readonly cfg: BackboneConfig;
  private readonly tokEmbed: Tensor;
  private readonly patchStem: Tensor | null;
  private readonly layers: LayerParams[];
  private readonly finalNorm: Tensor;

  constructor(store: ParamStore, cfg: BackboneConfig, prefix = 'backbone') {
    validateBackboneConfig(cfg);
    this.cfg = cfg;
    const d = cfg.dModel;
    // Unit-variance embeddings: pre-norm blocks rescale their inputs anyway, and the
    // residual branches start small (outGain), so tokens dominate the stream at init.
    this.tokEmbed = store.normal(`${prefix}.embed`, [cfg.vocabSize, d], 1);
    this.patchStem = cfg.patchFeatures > 0 ? store.linear(`${prefix}.patch_stem`, cfg.patchFeatures, d) : null;
    // Output projections are scaled down by depth (GPT-2's 1/sqrt(2L)) so the residual
    // stream does not grow with the number of layers at init.
    const outGain = 1 / Math.sqrt(2 * cfg.layers);
    this.layers = Array.from({ length: cfg.layers }, (_, l) => {
      const p = `${prefix}.layers.${l}`;
      return {
        attnNorm: store.constant(`${p}.attn_norm`, [d], 1),
        wq: store.linear(`${p}.attn.wq`, d, d),
        wk: store.linear(`${p}.attn.wk`, d, d),
        wv: store.linear(`${p}.attn.wv`, d, d),
        wo: store.linear(`${p}.attn.wo`, d, d, outGain),
        mlpNorm: store.constant(`${p}.mlp_norm`, [d], 1),
        wGate: store.linear(`${p}.mlp.gate`, d, cfg.mlpHidden),
        wUp: store.linear(`${p}.mlp.up`, d, cfg.mlpHidden),
        wDown: store.linear(`${p}.mlp.down`, cfg.mlpHidden, d, outGain),
      };
    });
    this.finalNorm = store.constant(`${prefix}.final_norm`, [d], 1);
  }

  /**
   * Hidden states [n, dModel] after the final norm. With `kv`, every layer also writes
   * its K and V into the cache (inference: the prompt pass of incremental decoding).
   */
  forward(input: BackboneInput, kv?: KvWrite): Tensor {
    const { cfg } = this;
    const n = input.ids.length;
    let x = embedding(this.tokEmbed, input.ids);
    if (this.patchStem) {
      if (!input.patches) throw new Error('backbone.forward: the config has patchFeatures > 0 but no patches were given');
      x = linearResidual(input.patches, this.patchStem, x);
    }
    if (cfg.actionStartGoal && input.goal) x = add(x, instructionMeans(this.tokEmbed, input.goal));
    // Uploaded once and shared by the q and k rotations of every layer.
    const positions = fromArray(x.rt, input.positions, [n], 'i32');
    this.layers.forEach((L, l) => {
      const h = rmsnorm(x, L.attnNorm, cfg.normEps);
      const heads = (w: Tensor) => linear(h, w).reshape([n, cfg.heads, cfg.headDim]);
      const q = rope(heads(L.wq), positions, { base: cfg.ropeBase });
      const k = rope(heads(L.wk), positions, { base: cfg.ropeBase });
      const v = heads(L.wv);
      if (kv) writeKv(kv.cache.k[l], kv.cache.v[l], k, v, kv.slots);
      const o = attention(q, k, v, input.map).reshape([n, cfg.dModel]);
      x = this.finishLayer(L, x, o);
    });
    return rmsnorm(x, this.finalNorm, cfg.normEps);
  }

  /** The rest of a layer after attention: output projection, residual, SwiGLU MLP. */
  private finishLayer(L: LayerParams, x: Tensor, o: Tensor): Tensor {
    // The residual adds happen in the projections' stores (linearResidual).
    x = linearResidual(o, L.wo, x);
    const h2 = rmsnorm(x, L.mlpNorm, this.cfg.normEps);
    return linearResidual(swiglu(linear(h2, L.wGate), linear(h2, L.wUp)), L.wDown, x);
  }

  /**
   * Incremental decoding (inference only, records no gradients): hidden states
   * [R * S, dModel] of S new tokens per row, each layer appending their K/V to the
   * row's cache and attending causally over everything the row holds. Equals forward()
   * over the whole sequence when every earlier token of the row may be attended, which
   * is the case for AR-action queries of a document without CRL blocks (the caller
   * checks). New tokens carry no patch features: decoded tokens are never <|image|>
   * slots, and the stem has no bias, so forward() adds exactly 0 there too.
   */
  decode(input: DecodeInput, cache: KvCache): Tensor {
    const { cfg } = this;
    const { ids, positions, rows } = input;
    const R = rows.length;
    const S = R === 0 ? 0 : ids.length / R;
    if (!Number.isInteger(S) || S < 1) throw new RangeError(`backbone.decode: ${ids.length} ids do not split into ${R} rows of S >= 1 tokens`);
    if (positions.length !== ids.length) throw new RangeError(`backbone.decode: positions has ${positions.length} entries, ids ${ids.length}`);
    if (cache.shape.layers !== cfg.layers || cache.shape.heads !== cfg.heads || cache.shape.headDim !== cfg.headDim) {
      throw new RangeError(`backbone.decode: the cache is for ${cache.shape.layers} layers x ${cache.shape.heads} heads x ${cache.shape.headDim}, the backbone has ${cfg.layers} x ${cfg.heads} x ${cfg.headDim}`);
    }
    const slots = new Int32Array(R * S);
    const lens = new Int32Array(R);
    const seen = new Set<number>();
    rows.forEach((row, r) => {
      if (!(row >= 0 && row < cache.shape.rows) || seen.has(row)) throw new RangeError(`backbone.decode: rows[${r}] = ${row} is not a distinct cache row (0..${cache.shape.rows - 1})`);
      seen.add(row);
      for (let s = 0; s < S; s++) slots[r * S + s] = cache.slot(row, cache.lengths[row] + s);
      lens[r] = cache.lengths[row] + S;
    });
    const n = R * S;
    const out = noGrad(() => {
      let x = embedding(this.tokEmbed, ids);
      const pos = fromArray(x.rt, positions, [n], 'i32');
      this.layers.forEach((L, l) => {
        const h = rmsnorm(x, L.attnNorm, cfg.normEps);
        const heads = (w: Tensor) => linear(h, w).reshape([n, cfg.heads, cfg.headDim]);
        const q = rope(heads(L.wq), pos, { base: cfg.ropeBase });
        const k = rope(heads(L.wk), pos, { base: cfg.ropeBase });
        writeKv(cache.k[l], cache.v[l], k, heads(L.wv), slots);
        const o = decodeAttention(q.reshape([R, S, cfg.heads, cfg.headDim]), cache.k[l], cache.v[l], rows, lens);
        x = this.finishLayer(L, x, o.reshape([n, cfg.dModel]));
      });
      return rmsnorm(x, this.finalNorm, cfg.normEps);
    });
    rows.forEach((row, r) => (cache.lengths[row] = lens[r]));
    return out;
  }
}
