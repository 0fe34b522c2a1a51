/**
 * AdamW with decoupled weight decay, bias correction, parameter groups and global-norm
 * gradient clipping, entirely on the GPU: the norm is reduced on the GPU and the clip
 * factor is read by the update kernel from a GPU buffer, so a step never waits on a
 * readback. The learning rate is an argument of step() so warmup / cosine schedules
 * live in the training loop.
 */
import sumsqCode from '../../shaders/adamw_sumsq.wgsl?raw';
import clipCode from '../../shaders/adamw_clip.wgsl?raw';
import type { Runtime } from './runtime';
import { Scope, Tensor, shapeStr } from './tensor';
import { zeroGrad } from './autograd';
import { f32, uniform } from './ops/common';
import { adamwGroup, dispatchAdamwUpdates, type UpdateItem } from './adamw-multi';
import { SUMSQ_WG, sumsqPartials } from './sumsq-multi';

const CHUNK = 2048;

/**
 * How the global norm's first stage is dispatched: 'multi' reads many gradients per
 * dispatch (sumsq-multi.ts), 'each' one dispatch per parameter (adamw_sumsq.wgsl). Both
 * write the same partials in the same order, so the norm is the same to the bit; 'each'
 * stays as the reference the tests compare against.
 */
export const adamwKernels: { sumsq: 'multi' | 'each'; update: 'multi' | 'each' } = { sumsq: 'multi', update: 'multi' };

export interface ParamGroup {
  params: Tensor[];
  /** Multiplies the learning rate given to step() (default 1). */
  lrScale?: number;
  /** Decoupled weight decay for this group (default: the optimizer's). */
  weightDecay?: number;
}

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
  /** Default weight decay of groups that do not set their own (default 0.01). */
  weightDecay?: number;
  /** Clip the global gradient norm to this value; undefined or 0 disables clipping. */
  maxGradNorm?: number;
}

/** Serializable optimizer state, in parameter order. */
export interface AdamWState {
  names: (string | undefined)[];
  steps: number[];
  m: Float32Array[];
  v: Float32Array[];
}

interface Slot {
  param: Tensor;
  lrScale: number;
  weightDecay: number;
  step: number;
  /** Which moment arena holds this parameter's m and v, and at what float offset (m,
   * then v at offset + size). */
  arena: number;
  offset: number;
}

/**
 * The usual convention: matrices (weights, embeddings) decay, vectors (norm gains,
 * biases) and scalars (e.g. the CRL log-temperature) do not.
 */
export function decayGroups(params: Tensor[], weightDecay: number): ParamGroup[] {
  return [
    { params: params.filter((p) => p.rank >= 2), weightDecay },
    { params: params.filter((p) => p.rank < 2), weightDecay: 0 },
  ];
}

export class AdamW {
  readonly rt: Runtime;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  maxGradNorm: number;
  private slots: Slot[] = [];
  /** Floats per moment arena, and the arenas (allocated and zeroed on first use). */
  private arenaSizes: number[] = [];
  private arenas: Tensor[] | null = null;
  /** (global grad norm, clip scale) of the last step, on the GPU. */
  private clip: Tensor;

  constructor(groups: ParamGroup[] | Tensor[], opts: AdamWOptions = {}) {
    const list: ParamGroup[] = groups.length && groups[0] instanceof Tensor ? [{ params: groups as Tensor[] }] : (groups as ParamGroup[]);
    const all = list.flatMap((g) => g.params);
    if (!all.length) throw new RangeError('AdamW: no parameters given');
    this.rt = all[0].rt;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.maxGradNorm = opts.maxGradNorm ?? 0;
    const seen = new Set<Tensor>();
    for (const g of list) {
      for (const p of g.params) {
        if (seen.has(p)) throw new RangeError(`AdamW: parameter ${p.name ?? '#' + p.id} ${shapeStr(p.shape)} is in two groups`);
        if (!p.requiresGrad || p.dtype !== 'f32') {
          throw new TypeError(`AdamW: ${p.name ?? '#' + p.id} ${shapeStr(p.shape)} is not an f32 parameter (make it with parameter())`);
        }
        seen.add(p);
        this.slots.push({
          param: p,
          lrScale: g.lrScale ?? 1,
          weightDecay: g.weightDecay ?? opts.weightDecay ?? 0.01,
          step: 0,
          arena: 0,
          offset: 0,
        });
      }
    }
    // Moment arenas: every parameter's m and v side by side, so one update dispatch binds
    // them all at once (adamw-multi.ts). A new arena starts where one binding would
    // outgrow the device's limits.
    const maxFloats = Math.floor(Math.min(this.rt.device.limits.maxStorageBufferBindingSize, this.rt.device.limits.maxBufferSize) / 4);
    let used = 0;
    for (const s of this.slots) {
      const need = 2 * s.param.size;
      if (need > maxFloats) throw new RangeError(`AdamW: ${s.param.name ?? '#' + s.param.id} ${shapeStr(s.param.shape)} needs ${need * 4} bytes of moments, more than one storage binding holds (${maxFloats * 4})`);
      if (used + need > maxFloats) {
        this.arenaSizes.push(used);
        used = 0;
      }
      s.arena = this.arenaSizes.length;
      s.offset = used;
      used += need;
    }
    this.arenaSizes.push(used);
    this.clip = this.persistent([2]);
    this.rt.write(this.clip.buffer, new Float32Array([0, 1]));
  }

  get params(): Tensor[] {
    return this.slots.map((s) => s.param);
  }

  /** A tensor owned by the optimizer, outside every scope. */
  private persistent(shape: readonly number[]): Tensor {
    const t = new Tensor(this.rt, shape, 'f32');
    Scope.current?.untrack(t);
    return t;
  }

  /** The moment arenas, zeroed when first needed (pooled buffers come back dirty). */
  private moments(): Tensor[] {
    if (!this.arenas) {
      const zeros = new Float32Array(Math.min(1 << 22, Math.max(...this.arenaSizes, 1)));
      this.arenas = this.arenaSizes.map((n) => {
        const t = this.persistent([Math.max(n, 1)]);
        for (let o = 0; o < n; o += zeros.length) this.rt.write(t.buffer, zeros.subarray(0, Math.min(zeros.length, n - o)), 4 * o);
        return t;
      });
    }
    return this.arenas;
  }

  /**
   * One update of every parameter that has a gradient, with learning rate `lr` (times
   * its group's lrScale). Parameters without a gradient are left alone, and their step
   * count (bias correction) does not advance, as in torch.
   */
  step(lr: number): void {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`AdamW.step: learning rate ${lr} must be a finite number >= 0`);
    const active = this.slots.filter((s) => s.param.grad);
    for (const s of active) {
      if (s.param.grad!.size !== s.param.size) {
        throw new RangeError(`AdamW.step: gradient ${shapeStr(s.param.grad!.shape)} of ${s.param.name ?? '#' + s.param.id} ${shapeStr(s.param.shape)} has the wrong size`);
      }
    }
    this.globalNorm(active);
    const arenas = this.moments();
    const group = adamwKernels.update === 'multi' ? adamwGroup(this.rt) : 1;
    const hyper = { beta1: this.beta1, beta2: this.beta2, eps: this.eps };
    const byArena = arenas.map((): UpdateItem[] => []);
    for (const s of active) {
      s.step++;
      byArena[s.arena].push({
        param: s.param,
        grad: s.param.grad!,
        offset: s.offset,
        lr: lr * s.lrScale,
        weightDecay: s.weightDecay,
        bc1: 1 - Math.pow(this.beta1, s.step),
        bc2: 1 - Math.pow(this.beta2, s.step),
      });
    }
    byArena.forEach((items, a) => {
      if (items.length) dispatchAdamwUpdates(this.rt, items, arenas[a], this.clip, hyper, group);
    });
  }

  /** Reduces the squared gradients into (norm, clip scale) in this.clip. */
  private globalNorm(active: Slot[]): void {
    const chunks = active.map((s) => Math.ceil(s.param.size / CHUNK));
    const count = chunks.reduce((a, b) => a + b, 0) * SUMSQ_WG;
    const partial = new Tensor(this.rt, [Math.max(count, 1)], 'f32');
    if (adamwKernels.sumsq === 'multi') {
      if (active.length) sumsqPartials(this.rt, active.map((s) => s.param.grad!), partial, CHUNK);
    } else {
      let base = 0;
      active.forEach((s, i) => {
        this.rt.dispatch({
          kernel: 'adamw.sumsq',
          code: sumsqCode,
          constants: { CHUNK },
          buffers: [s.param.grad!.buffer, partial.buffer],
          uniform: uniform(s.param.size, base),
          workgroups: [chunks[i]],
        });
        base += chunks[i];
      });
    }
    this.rt.dispatch({
      kernel: 'adamw.clip',
      code: clipCode,
      buffers: [partial.buffer, this.clip.buffer],
      uniform: uniform(count, f32(this.maxGradNorm > 0 ? this.maxGradNorm : 0)),
      workgroups: [1],
    });
    partial.dispose();
  }

  /** The global gradient norm (before clipping) of the last step; reads back, so for logging. */
  async lastGradNorm(): Promise<number> {
    return (await this.clip.read())[0];
  }

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    zeroGrad(this.params);
  }

  async state(): Promise<AdamWState> {
    const all = this.arenas ? await Promise.all(this.arenas.map(async (t) => (await t.read()) as Float32Array)) : null;
    const part = (s: Slot, at: number) => (all ? all[s.arena].slice(at, at + s.param.size) : new Float32Array(s.param.size));
    return {
      names: this.slots.map((s) => s.param.name),
      steps: this.slots.map((s) => s.step),
      m: this.slots.map((s) => part(s, s.offset)),
      v: this.slots.map((s) => part(s, s.offset + s.param.size)),
    };
  }

  /** Restores state() output; parameters must match in number, order and size. */
  load(state: AdamWState): void {
    if (state.steps.length !== this.slots.length) {
      throw new RangeError(`AdamW.load: state has ${state.steps.length} parameters, the optimizer ${this.slots.length}`);
    }
    this.slots.forEach((s, i) => {
      if (state.m[i].length !== s.param.size || state.v[i].length !== s.param.size) {
        throw new RangeError(
          `AdamW.load: parameter ${i} (${s.param.name ?? 'unnamed'} ${shapeStr(s.param.shape)}) has ${s.param.size} elements, the state ${state.m[i].length}`,
        );
      }
      const arena = this.moments()[s.arena];
      this.rt.write(arena.buffer, state.m[i], 4 * s.offset);
      this.rt.write(arena.buffer, state.v[i], 4 * (s.offset + s.param.size));
      s.step = state.steps[i];
    });
  }

  dispose(): void {
    for (const t of this.arenas ?? []) t.dispose();
    this.arenas = null;
    this.clip.dispose();
  }
}
