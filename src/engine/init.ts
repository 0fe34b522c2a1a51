/**
 * Seeded parameter initialisation. Everything draws from an explicit Rng so a model
 * built from the same seed is bit-identical in Node and in the browser. Weight shapes
 * follow ops/matmul.ts's linear(): [in, out], so fan-in is the product of all but the
 * last dimension and fan-out is the last.
 */
import type { Rng } from './random';
import type { Runtime } from './runtime';
import { numel, parameter, shapeStr, type Tensor } from './tensor';

export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'uniform'; low: number; high: number }
  /** Glorot: U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)). */
  | { kind: 'xavierUniform'; gain?: number }
  /** Glorot: N(0, gain^2 * 2 / (fanIn + fanOut)). */
  | { kind: 'xavierNormal'; gain?: number };

export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new RangeError(`fans: Xavier init needs a matrix, got shape ${shapeStr(shape)}`);
  const fanOut = shape[shape.length - 1];
  return { fanIn: numel(shape) / fanOut, fanOut };
}

export function normalArray(rng: Rng, n: number, std = 1, mean = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = mean + std * rng.normal();
  return a;
}

export function uniformArray(rng: Rng, n: number, low: number, high: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(low, high);
  return a;
}

/** Initial values for a tensor of `shape`. */
export function initArray(rng: Rng, shape: readonly number[], init: Init): Float32Array {
  const n = numel(shape);
  switch (init.kind) {
    case 'zeros':
      return new Float32Array(n);
    case 'ones':
      return new Float32Array(n).fill(1);
    case 'normal':
      return normalArray(rng, n, init.std, init.mean ?? 0);
    case 'uniform':
      return uniformArray(rng, n, init.low, init.high);
    case 'xavierUniform': {
      const { fanIn, fanOut } = fans(shape);
      const a = (init.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
      return uniformArray(rng, n, -a, a);
    }
    case 'xavierNormal': {
      const { fanIn, fanOut } = fans(shape);
      return normalArray(rng, n, (init.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)));
    }
  }
}

/** A trainable parameter of `shape` initialised by `init` from `rng`. */
export function initParameter(rt: Runtime, rng: Rng, shape: readonly number[], init: Init, name?: string): Tensor {
  return parameter(rt, initArray(rng, shape, init), shape, name);
}
