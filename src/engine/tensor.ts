/**
 * GPU tensors: a contiguous row-major buffer plus shape and dtype. Ownership is by
 * scope (like tf.tidy): every tensor made while a Scope is active belongs to it and
 * is freed by scope.dispose() unless kept, so a training step cannot leak GPU memory.
 */
import type { Runtime } from './runtime';

export type DType = 'f32' | 'i32' | 'u32';
export type TypedArrayFor<D extends DType> = D extends 'f32' ? Float32Array : D extends 'i32' ? Int32Array : Uint32Array;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new RangeError(`bad dimension ${s} in shape [${shape.join(', ')}]`);
    n *= s;
  }
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Records backward closures; defined in autograd.ts, referenced here only by type. */
export interface GradNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  backward(gradOut: Tensor, pending?: PendingGrads): (Tensor | null)[];
}

/**
 * The gradient an input has collected so far from its other consumers, offered to a
 * backward rule that can add it in a kernel's store (a matmul's epilogue) instead of
 * the separate accumulation pass autograd would run. take(j) hands input j's gradient
 * over (null when it has none yet); the rule must then return gradient j with it added.
 */
export interface PendingGrads {
  take(j: number): Tensor | null;
}

let nextId = 1;

/** Whether ops record backward rules (switched off by autograd.noGrad). Lives here so
 * views made by Tensor.reshape can record without a circular import. */
export const gradMode = { enabled: true };

export class Tensor {
  readonly id = nextId++;
  readonly rt: Runtime;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  /** The buffer; shared by reshape views, so only the owner (the base) frees it. */
  readonly buffer: GPUBuffer;
  private base: Tensor | null;
  private disposed = false;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: GradNode | null = null;
  /** Optional label for error messages and checkpoints. */
  name?: string;

  constructor(rt: Runtime, shape: readonly number[], dtype: DType, buffer?: GPUBuffer, base?: Tensor) {
    this.rt = rt;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = numel(shape);
    this.base = base ?? null;
    this.buffer = buffer ?? rt.alloc(this.size * 4);
    Scope.current?.track(this);
  }

  get byteLength(): number {
    return this.size * 4;
  }

  /** The tensor that owns the buffer: itself, or the tensor a reshape view was made from. */
  get owner(): Tensor {
    return this.base ?? this;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Same buffer, new shape (must have the same element count). */
  reshape(shape: readonly number[]): Tensor {
    const resolved = resolveShape(shape, this.size);
    const view = new Tensor(this.rt, resolved, this.dtype, this.buffer, this.base ?? this);
    if (this.requiresGrad && gradMode.enabled) {
      const src = this;
      view.requiresGrad = true;
      view.node = { name: 'reshape', inputs: [src], backward: (g) => [g.reshape(src.shape)] };
    }
    return view;
  }

  assertLive(op: string): void {
    if (this.disposed || this.base?.disposed) {
      throw new Error(`${op}: tensor ${this.name ?? '#' + this.id} ${shapeStr(this.shape)} was already disposed`);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.base) this.rt.release(this.buffer);
  }

  async read(): Promise<Float32Array | Int32Array | Uint32Array> {
    this.assertLive('read');
    const ab = await this.rt.read(this.buffer, this.byteLength);
    return this.dtype === 'f32' ? new Float32Array(ab) : this.dtype === 'i32' ? new Int32Array(ab) : new Uint32Array(ab);
  }

  async toFloat32(): Promise<Float32Array> {
    const a = await this.read();
    return a instanceof Float32Array ? a : Float32Array.from(a);
  }

  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements, shape ${shapeStr(this.shape)}`);
    return (await this.read())[0];
  }
}

function resolveShape(shape: readonly number[], size: number): number[] {
  const out = [...shape];
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const rest = out.reduce((a, s, i) => (i === neg ? a : a * s), 1);
    out[neg] = rest === 0 ? 0 : size / rest;
  }
  if (numel(out) !== size) throw new RangeError(`reshape: cannot view ${size} elements as ${shapeStr(shape)}`);
  return out;
}

/** Tracks tensors created while it is the current scope. Scopes nest. */
export class Scope {
  static current: Scope | null = null;
  private tensors = new Set<Tensor>();
  private parent: Scope | null = null;

  track(t: Tensor): void {
    this.tensors.add(t);
  }

  /** Removes a tensor from this scope and every enclosing one: the caller now owns it. */
  untrack(t: Tensor): Tensor {
    for (let s: Scope | null = this; s; s = s.parent) s.tensors.delete(t);
    return t;
  }

  /** Runs fn with this scope current. */
  run<T>(fn: () => T): T {
    this.parent = Scope.current;
    Scope.current = this;
    try {
      return fn();
    } finally {
      Scope.current = this.parent;
    }
  }

  /** Frees every tracked tensor except `keep` (which move to the enclosing scope). */
  dispose(keep: Iterable<Tensor> = []): void {
    const kept = new Set(keep);
    // A kept reshape view needs its buffer's owner alive too.
    for (const t of [...kept]) kept.add(t.owner);
    for (const t of this.tensors) {
      if (kept.has(t)) this.parent?.track(t);
      else t.dispose();
    }
    this.tensors.clear();
  }
}

/** Runs fn in a fresh scope and frees everything it made except the returned tensors. */
export function tidy<T extends Tensor | Tensor[] | void>(fn: () => T): T {
  const scope = new Scope();
  const result = scope.run(fn);
  const keep = result instanceof Tensor ? [result] : Array.isArray(result) ? result : [];
  scope.dispose(keep);
  return result;
}

export function fromArray(rt: Runtime, data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
  const n = numel(shape);
  if (data.length !== n) throw new RangeError(`fromArray: ${data.length} values for shape ${shapeStr(shape)} (${n} expected)`);
  const arr = dtype === 'f32' ? Float32Array.from(data) : dtype === 'i32' ? Int32Array.from(data) : Uint32Array.from(data);
  const t = new Tensor(rt, shape, dtype);
  if (n > 0) rt.write(t.buffer, arr);
  return t;
}

/** A leaf that is optimised: never freed by scopes, gradients accumulate into .grad. */
export function parameter(rt: Runtime, data: ArrayLike<number>, shape: readonly number[], name?: string): Tensor {
  const t = fromArray(rt, data, shape);
  Scope.current?.untrack(t);
  t.requiresGrad = true;
  t.name = name;
  return t;
}
