/**
 * Per-layer keys (after RoPE) and values of every row's tokens so far, so autoregressive
 * decoding feeds only the new token of each row through the backbone
 * (Backbone.forward with a KvWrite fills it from the prompt, Backbone.decode appends).
 * Inference only: the caches are written in place and never take part in autograd.
 */
import type { Runtime } from '../engine/runtime';
import { Scope, Tensor } from '../engine/tensor';

export interface KvCacheShape {
  layers: number;
  /** Sequences held (one per environment row). */
  rows: number;
  /** Token slots per row: the longest prompt plus the tokens it may still feed. */
  capacity: number;
  heads: number;
  headDim: number;
}

export class KvCache {
  /** Per layer, [rows, capacity, heads, headDim]. */
  readonly k: Tensor[];
  readonly v: Tensor[];
  /** Valid slots per row (the CPU's view: every layer holds the same count). */
  readonly lengths: Int32Array;
  readonly shape: KvCacheShape;

  constructor(rt: Runtime, shape: KvCacheShape) {
    for (const key of ['layers', 'rows', 'capacity', 'heads', 'headDim'] as const) {
      if (!Number.isInteger(shape[key]) || shape[key] < 1) throw new RangeError(`KvCache: ${key} must be a positive integer, got ${shape[key]}`);
    }
    this.shape = { ...shape };
    const dims = [shape.rows, shape.capacity, shape.heads, shape.headDim];
    // The cache outlives the scopes of the steps that fill it; dispose() frees it.
    const make = () => Array.from({ length: shape.layers }, () => Scope.current?.untrack(new Tensor(rt, dims, 'f32')) ?? new Tensor(rt, dims, 'f32'));
    this.k = make();
    this.v = make();
    this.lengths = new Int32Array(shape.rows);
  }

  /** The flat slot of token `pos` of row `row` (writeKv's slot numbering). */
  slot(row: number, pos: number): number {
    if (!(pos >= 0 && pos < this.shape.capacity)) {
      throw new RangeError(`KvCache: position ${pos} of row ${row} is past the capacity of ${this.shape.capacity} tokens`);
    }
    return row * this.shape.capacity + pos;
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}
