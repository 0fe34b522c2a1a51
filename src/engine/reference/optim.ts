/** Float64 reference for optim.ts: one AdamW step on one parameter, in place. */
export interface RefAdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export function refAdamWStep(
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  step: number,
  clipScale: number,
  c: RefAdamWConfig,
): void {
  const bc1 = 1 - Math.pow(c.beta1, step);
  const bc2 = 1 - Math.pow(c.beta2, step);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * clipScale;
    m[i] = c.beta1 * m[i] + (1 - c.beta1) * gi;
    v[i] = c.beta2 * v[i] + (1 - c.beta2) * gi * gi;
    p[i] = p[i] * (1 - c.lr * c.weightDecay) - (c.lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + c.eps);
  }
}

/** min(1, maxNorm / (norm + 1e-6)) over the concatenation of all gradients. */
export function refClipScale(grads: ArrayLike<number>[], maxNorm: number): { norm: number; scale: number } {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const norm = Math.sqrt(s);
  return { norm, scale: maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1 };
}
