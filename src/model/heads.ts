/**
 * Heads on the backbone's hidden states: the LM head for BC on FAST tokens, and the two
 * CRL heads of PRTS (DESIGN.md 4): phi = normalize(MLP(h at <|action_end|>)),
 * psi = normalize(MLP(h at <|goal_end|>)), with a learnable log-scale s (logits =
 * exp(s) phi psi^T, initialised at temperature 0.2, clamped at exp(s) <= 100).
 */
import { silu } from '../engine/ops/elementwise';
import { linear } from '../engine/ops/matmul';
import { gatherRows, type RowIndex } from '../engine/ops/embedding';
import { l2normalize } from '../engine/ops/norm';
import type { Tensor } from '../engine/tensor';
import type { ParamStore } from './params';

export interface CrlHeadConfig {
  /** Hidden width of the 2-layer MLPs. */
  hidden: number;
  /** Embedding dimension of phi and psi. */
  embedDim: number;
  /** Initial temperature (PRTS code: 0.2), i.e. s0 = log(1 / temperature). */
  temperatureInit: number;
  /** Upper bound on exp(s). */
  maxScale: number;
}

export class LmHead {
  private readonly w: Tensor;
  constructor(store: ParamStore, dModel: number, vocabSize: number, prefix = 'lm_head') {
    this.w = store.linear(`${prefix}.w`, dModel, vocabSize);
  }

  /** Logits [m, vocab] at the given packed rows only (the AR action span). */
  logits(hidden: Tensor, rows: Int32Array | RowIndex): Tensor {
    return linear(gatherRows(hidden, rows), this.w);
  }
}

class Mlp {
  private readonly w1: Tensor;
  private readonly b1: Tensor;
  private readonly w2: Tensor;
  constructor(store: ParamStore, name: string, dIn: number, hidden: number, dOut: number) {
    this.w1 = store.linear(`${name}.w1`, dIn, hidden);
    this.b1 = store.constant(`${name}.b1`, [hidden], 0);
    this.w2 = store.linear(`${name}.w2`, hidden, dOut);
  }
  forward(x: Tensor): Tensor {
    return linear(silu(linear(x, this.w1, this.b1)), this.w2);
  }
}

export class CrlHeads {
  readonly cfg: CrlHeadConfig;
  private readonly phiMlp: Mlp;
  private readonly psiMlp: Mlp;
  /** s, a [1] parameter; the InfoNCE op applies exp and the clamp. */
  readonly logScale: Tensor;

  constructor(store: ParamStore, dModel: number, cfg: CrlHeadConfig, prefix = 'crl') {
    if (!(cfg.temperatureInit > 0)) throw new RangeError(`crl.temperatureInit must be > 0, got ${cfg.temperatureInit}`);
    if (!(cfg.maxScale > 0)) throw new RangeError(`crl.maxScale must be > 0, got ${cfg.maxScale}`);
    this.cfg = cfg;
    this.phiMlp = new Mlp(store, `${prefix}.phi`, dModel, cfg.hidden, cfg.embedDim);
    this.psiMlp = new Mlp(store, `${prefix}.psi`, dModel, cfg.hidden, cfg.embedDim);
    this.logScale = store.constant(`${prefix}.log_scale`, [1], Math.log(1 / cfg.temperatureInit));
  }

  /** phi(s, a): [B, embedDim], unit rows, read at each sample's <|action_end|>. */
  phi(hidden: Tensor, actionEndRows: Int32Array | RowIndex): Tensor {
    return l2normalize(this.phiMlp.forward(gatherRows(hidden, actionEndRows)));
  }

  /** psi(l): [G, embedDim], unit rows, read at each unique goal's <|goal_end|>. */
  psi(hidden: Tensor, goalEndRows: Int32Array | RowIndex): Tensor {
    return l2normalize(this.psiMlp.forward(gatherRows(hidden, goalEndRows)));
  }
}
