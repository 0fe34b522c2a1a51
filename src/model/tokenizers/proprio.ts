/**
 * Proprioception as discretized text tokens (PRTS Sec. 3.3, after pi0.5 / PaLM-E): each
 * state dimension is quantile-normalized to [-1, 1] with q01/q99 (clipped), cut into N
 * equal bins (default 256), and emitted as one token per dimension. All dimensions share
 * the N bin tokens, as digits do in text; which dimension a token belongs to is given by
 * its position in the state block. Decoding returns bin centres, so a value inside
 * [q01, q99] comes back within half a bin: (q99 - q01) / (2 N).
 */
import type { QuantileStats } from './fast.ts';

export class ProprioError extends Error {
  override name = 'ProprioError';
}

export interface ProprioJSON {
  type: 'proprio';
  version: 1;
  bins: number;
  q01: number[];
  q99: number[];
}

export interface ProprioDecodeResult {
  state: Float32Array;
  /** False when the id count was not `dims` or some id was outside [0, bins). */
  valid: boolean;
  reason?: string;
}

export class ProprioTokenizer {
  readonly bins: number;
  readonly q01: Float64Array;
  readonly q99: Float64Array;

  constructor(stats: QuantileStats, bins = 256) {
    if (!Number.isInteger(bins) || bins < 2) throw new ProprioError(`bins must be an integer >= 2, got ${bins}`);
    if (stats.q01.length !== stats.q99.length) {
      throw new ProprioError(`stats.q01 has length ${stats.q01.length} but stats.q99 has length ${stats.q99.length}`);
    }
    if (stats.q01.length === 0) throw new ProprioError('stats must describe at least one state dimension');
    this.bins = bins;
    this.q01 = Float64Array.from(stats.q01);
    this.q99 = Float64Array.from(stats.q99);
    for (let d = 0; d < this.q01.length; d++) {
      if (!Number.isFinite(this.q01[d]) || !Number.isFinite(this.q99[d]) || this.q99[d] < this.q01[d]) {
        throw new ProprioError(`stats for state dimension ${d} must be finite with q01 <= q99, got q01 = ${this.q01[d]}, q99 = ${this.q99[d]}`);
      }
    }
  }

  /** Number of state dimensions (= tokens per state). */
  get dims(): number {
    return this.q01.length;
  }

  /** Token ids (local, in [0, bins)), one per dimension. Throws on malformed input data. */
  encode(state: ArrayLike<number>): Int32Array {
    if (state.length !== this.dims) throw new ProprioError(`encode: state has ${state.length} values, expected ${this.dims}`);
    const out = new Int32Array(this.dims);
    for (let d = 0; d < this.dims; d++) {
      const v = state[d];
      if (!Number.isFinite(v)) throw new ProprioError(`encode: state dimension ${d} is ${v}, not finite`);
      const range = this.q99[d] - this.q01[d];
      // A constant dimension (q01 == q99) carries no information: it always takes the middle bin.
      const u = range > 0 ? (v - this.q01[d]) / range : 0.5;
      out[d] = Math.max(0, Math.min(this.bins - 1, Math.floor(u * this.bins)));
    }
    return out;
  }

  /** Bin centres. Never throws: out-of-range ids are clamped and a wrong count padded/truncated; `valid` says so. */
  decode(ids: ArrayLike<number>): ProprioDecodeResult {
    const reasons: string[] = [];
    if (ids.length !== this.dims) reasons.push(`${ids.length} ids, expected ${this.dims}`);
    const state = new Float32Array(this.dims);
    let bad = 0;
    for (let d = 0; d < this.dims; d++) {
      let b = d < ids.length ? ids[d] : Math.floor(this.bins / 2);
      if (!Number.isInteger(b) || b < 0 || b >= this.bins) {
        bad++;
        b = Number.isFinite(b) ? Math.max(0, Math.min(this.bins - 1, Math.round(b))) : Math.floor(this.bins / 2);
      }
      state[d] = this.q01[d] + ((b + 0.5) / this.bins) * (this.q99[d] - this.q01[d]);
    }
    if (bad > 0) reasons.push(`${bad} id(s) outside [0, ${this.bins})`);
    const out: ProprioDecodeResult = { state, valid: reasons.length === 0 };
    if (reasons.length > 0) out.reason = reasons.join('; ');
    return out;
  }

  /** Half a bin per dimension: the worst decode error for values inside [q01, q99]. */
  halfBinWidth(): Float64Array {
    return this.q99.map((q, d) => (q - this.q01[d]) / (2 * this.bins));
  }

  toJSON(): ProprioJSON {
    return { type: 'proprio', version: 1, bins: this.bins, q01: Array.from(this.q01), q99: Array.from(this.q99) };
  }

  static fromJSON(json: unknown): ProprioTokenizer {
    const j = json as Partial<ProprioJSON> | null;
    if (!j || typeof j !== 'object') throw new ProprioError('ProprioTokenizer.fromJSON: expected an object');
    if (j.type !== 'proprio') throw new ProprioError(`ProprioTokenizer.fromJSON: field "type" must be "proprio", got ${JSON.stringify(j.type)}`);
    if (j.version !== 1) throw new ProprioError(`ProprioTokenizer.fromJSON: unsupported "version" ${JSON.stringify(j.version)} (expected 1)`);
    if (typeof j.bins !== 'number') throw new ProprioError('ProprioTokenizer.fromJSON: field "bins" must be a number');
    if (!Array.isArray(j.q01) || !Array.isArray(j.q99)) throw new ProprioError('ProprioTokenizer.fromJSON: fields "q01" and "q99" must be arrays of numbers');
    return new ProprioTokenizer({ q01: j.q01, q99: j.q99 }, j.bins);
  }
}
