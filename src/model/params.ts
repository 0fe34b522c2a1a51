/**
 * Named parameters: one flat, ordered name -> Tensor map per model, so checkpoints
 * (safetensors) and optimizers address parameters by stable names like
 * `layers.0.attn.wq` rather than by object identity.
 */
import { Rng } from '../engine/random';
import type { Runtime } from '../engine/runtime';
import { parameter, type Tensor } from '../engine/tensor';

export class ParamStore {
  readonly rt: Runtime;
  private readonly rng: Rng;
  readonly tensors = new Map<string, Tensor>();

  constructor(rt: Runtime, seed: number) {
    this.rt = rt;
    this.rng = new Rng(seed);
  }

  private add(name: string, data: Float32Array, shape: number[]): Tensor {
    if (this.tensors.has(name)) throw new Error(`parameter '${name}' is defined twice`);
    const t = parameter(this.rt, data, shape, name);
    this.tensors.set(name, t);
    return t;
  }

  /** Normal(0, std) init. */
  normal(name: string, shape: number[], std: number): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = this.rng.normal() * std;
    return this.add(name, data, shape);
  }

  /** A [in, out] weight with std 1/sqrt(in) (unit-variance outputs for unit inputs). */
  linear(name: string, fanIn: number, fanOut: number, gain = 1): Tensor {
    return this.normal(name, [fanIn, fanOut], gain / Math.sqrt(fanIn));
  }

  constant(name: string, shape: number[], value: number): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return this.add(name, new Float32Array(n).fill(value), shape);
  }

  get count(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.size;
    return n;
  }

  /** Parameters that take weight decay: matrices, not norms, biases or scalars. */
  decayed(): Tensor[] {
    return [...this.tensors.values()].filter((t) => t.rank >= 2 && !t.name?.includes('embed'));
  }

  notDecayed(): Tensor[] {
    const d = new Set(this.decayed());
    return [...this.tensors.values()].filter((t) => !d.has(t));
  }

  dispose(): void {
    for (const t of this.tensors.values()) {
      t.grad?.dispose();
      t.dispose();
    }
    this.tensors.clear();
  }
}
