/**
 * Shared helpers for kernel tests: random inputs, closeness with a useful message, and
 * finite differences on the float64 TypeScript reference (the GPU runs f32, so its
 * backward is compared against central differences of the exact reference instead of
 * differencing the GPU forward, which f32 rounding would swamp).
 */
import { expect } from 'vitest';
import { Rng } from '../../../src/engine/random';

export function randn(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

export function randInt(rng: Rng, n: number, hi: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(hi);
  return a;
}

/** Asserts |a-b| <= atol + rtol*|b| elementwise, reporting the worst element. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4, what = 'values' }: { atol?: number; rtol?: number; what?: string } = {},
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(a))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

/**
 * Central-difference gradient of L = sum(gOut * f(inputs)) with respect to each input
 * listed in `wrt`, in float64.
 */
export function numericGrad(
  f: (inputs: Float64Array[]) => ArrayLike<number>,
  inputs: ArrayLike<number>[],
  gOut: ArrayLike<number>,
  wrt: number[] = inputs.map((_, i) => i),
  eps = 1e-5,
): Float64Array[] {
  const xs = inputs.map((x) => Float64Array.from(x));
  const loss = () => {
    const y = f(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += gOut[i] * y[i];
    return s;
  };
  return wrt.map((k) => {
    const x = xs[k];
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i];
      x[i] = keep + eps;
      const up = loss();
      x[i] = keep - eps;
      const down = loss();
      x[i] = keep;
      g[i] = (up - down) / (2 * eps);
    }
    return g;
  });
}
