/**
 * Flow matching for the DiT action expert (DESIGN.md 4). Conventions:
 *   tau = 1 is data, tau = 0 is noise;  a_tau = tau a + (1 - tau) eps,  eps ~ N(0, I)
 *   target velocity v = d a_tau / d tau = a - eps
 *   tau ~ Beta(1.5, 1) clamped to [tauMin, tauMax] = [0.001, 0.999]
 *   loss = masked MSE over the valid (step, channel) entries only
 *   sampling: a_0 = eps, a_{tau + dt} = a_tau + dt v(a_tau, tau), 5 Euler steps, dt = 1/5
 *
 * Beta(1.5, 1) has density proportional to sqrt(tau), so with tau = 1 as data it puts
 * more weight near the clean end, which is DESIGN.md's literal rule and what Qwen-VLA
 * describes ("a Beta distribution, which concentrates density toward the clean end").
 * pi0 instead draws tau = s (1 - u), u ~ Beta(1.5, 1), emphasising the noisy end; that
 * is available as `emphasis: 'noise'`. The clamp keeps tau off the exact endpoints,
 * like pi0's s = 0.999.
 *
 * Loss normalisation. The loss is sum(W * (v_pred - v)^2) with weights W built on the
 * CPU from the mask:
 *  - 'perChannel' (default, Qwen-VLA Eqs. 1-2): per sample, each active channel k
 *    averages over its valid steps, the active channels are averaged, then the samples:
 *    W[b,h,k] = M[b,h,k] / (sum_h M[b,h,k]) / c_b / B_active, where c_b is the number of
 *    channels of sample b with at least one valid step and B_active the number of
 *    samples with any valid entry. Every control dimension weighs the same whatever the
 *    embodiment's channel count or chunk length.
 *  - 'global': W = M / sum(M), i.e. sum(mask (v_pred - v)^2) / sum(mask).
 * The two agree when every sample has the same full rectangle of valid entries.
 */
import { noGrad } from '../engine/autograd';
import { add, mul, scale, square, sub } from '../engine/ops/elementwise';
import { sum } from '../engine/ops/reduce';
import type { Rng } from '../engine/random';
import type { Runtime } from '../engine/runtime';
import { Scope, fromArray, shapeStr, tidy, type Tensor } from '../engine/tensor';

export type LossNormalization = 'perChannel' | 'global';

export interface TauSampling {
  /** Beta parameters (default 1.5, 1). */
  alpha: number;
  beta: number;
  tauMin: number;
  tauMax: number;
  /** 'data': tau = u (DESIGN.md, Qwen-VLA); 'noise': tau = 1 - u (pi0). */
  emphasis: 'data' | 'noise';
}

export const DEFAULT_TAU: TauSampling = { alpha: 1.5, beta: 1, tauMin: 0.001, tauMax: 0.999, emphasis: 'data' };

export function sampleTau(rng: Rng, n: number, opts: Partial<TauSampling> = {}): Float32Array {
  const o = { ...DEFAULT_TAU, ...opts };
  if (!(o.alpha > 0 && o.beta > 0)) throw new RangeError(`tau sampling: alpha and beta must be > 0, got ${o.alpha}, ${o.beta}`);
  if (!(o.tauMin >= 0 && o.tauMin < o.tauMax && o.tauMax <= 1)) {
    throw new RangeError(`tau sampling: need 0 <= tauMin < tauMax <= 1, got [${o.tauMin}, ${o.tauMax}]`);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.beta(o.alpha, o.beta);
    const t = o.emphasis === 'data' ? u : 1 - u;
    out[i] = Math.min(o.tauMax, Math.max(o.tauMin, t));
  }
  return out;
}

export function sampleNoise(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/** Checks a [B, H, K] mask of 0/1 values. */
function checkMask(mask: ArrayLike<number>, shape: readonly [number, number, number]): void {
  const [B, H, K] = shape;
  if (mask.length !== B * H * K) throw new RangeError(`flow: mask has ${mask.length} values for [B, H, K] = [${B}, ${H}, ${K}]`);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== 0 && mask[i] !== 1) throw new RangeError(`flow: mask[${i}] = ${mask[i]}; the mask must be 0 or 1`);
  }
}

/** Per-entry loss weights W [B*H*K] (see the module comment); zero where the mask is 0. */
export function lossWeights(
  mask: ArrayLike<number>,
  shape: readonly [number, number, number],
  normalization: LossNormalization = 'perChannel',
): Float32Array {
  checkMask(mask, shape);
  const [B, H, K] = shape;
  const w = new Float32Array(B * H * K);
  if (normalization === 'global') {
    let total = 0;
    for (let i = 0; i < mask.length; i++) total += mask[i];
    if (total === 0) throw new RangeError('flow: the mask has no valid entry, so the loss is undefined');
    for (let i = 0; i < mask.length; i++) w[i] = mask[i] / total;
    return w;
  }
  const perSample: { steps: Float64Array; c: number }[] = [];
  let active = 0;
  for (let b = 0; b < B; b++) {
    const s = new Float64Array(K);
    for (let h = 0; h < H; h++) for (let k = 0; k < K; k++) s[k] += mask[(b * H + h) * K + k];
    let c = 0;
    for (let k = 0; k < K; k++) if (s[k] > 0) c++;
    if (c > 0) active++;
    perSample.push({ steps: s, c });
  }
  if (active === 0) throw new RangeError('flow: the mask has no valid entry, so the loss is undefined');
  for (let b = 0; b < B; b++) {
    const { steps: s, c } = perSample[b];
    if (c === 0) continue;
    for (let h = 0; h < H; h++) {
      for (let k = 0; k < K; k++) {
        const i = (b * H + h) * K + k;
        if (mask[i]) w[i] = 1 / (s[k] * c * active);
      }
    }
  }
  return w;
}

export interface FlowBatch {
  /** a_tau [B*H*K]. */
  noisy: Float32Array;
  /** v = a - eps [B*H*K]. */
  target: Float32Array;
  tau: Float32Array;
  eps: Float32Array;
}

/** Draws tau and eps for clean chunks `actions` [B, H, K] and forms a_tau and v. */
export function flowBatch(rng: Rng, actions: ArrayLike<number>, shape: readonly [number, number, number], tauOpts: Partial<TauSampling> = {}): FlowBatch {
  const [B, H, K] = shape;
  const n = B * H * K;
  if (actions.length !== n) throw new RangeError(`flow: actions has ${actions.length} values for [B, H, K] = [${B}, ${H}, ${K}]`);
  const tau = sampleTau(rng, B, tauOpts);
  const eps = sampleNoise(rng, n);
  const noisy = new Float32Array(n);
  const target = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = tau[Math.floor(i / (H * K))];
    noisy[i] = t * actions[i] + (1 - t) * eps[i];
    target[i] = actions[i] - eps[i];
  }
  return { noisy, target, tau, eps };
}

/** GPU loss sum(W * (vPred - target)^2), a scalar tensor. */
export function flowMatchingLoss(vPred: Tensor, target: Tensor, weights: Tensor): Tensor {
  if (shapeStr(vPred.shape) !== shapeStr(target.shape) || shapeStr(vPred.shape) !== shapeStr(weights.shape)) {
    throw new RangeError(
      `flowMatchingLoss: vPred ${shapeStr(vPred.shape)}, target ${shapeStr(target.shape)} and weights ${shapeStr(weights.shape)} must have one shape`,
    );
  }
  return sum(mul(weights, square(sub(vPred, target))));
}

/** Float64 reference of the loss for tests: sum_i W_i (vPred_i - target_i)^2. */
export function flowMatchingLossRef(vPred: ArrayLike<number>, target: ArrayLike<number>, weights: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < vPred.length; i++) {
    const e = vPred[i] - target[i];
    s += weights[i] * e * e;
  }
  return s;
}

/** Anything that maps (a_tau [B, H, K], tau [B]) to a velocity [B, H, K]. */
export type VelocityFn = (noisy: Tensor, tau: Float32Array) => Tensor;

export interface EulerOptions {
  steps?: number;
  /** [B*H*K] validity mask: padded entries of the result are set to 0. */
  mask?: ArrayLike<number>;
  /** Start from this a_0 instead of fresh N(0, I) noise (tests, common random numbers). */
  noise?: Float32Array;
}

/**
 * Euler integration of da/dtau = v(a, tau) from a_0 = eps (tau = 0) to tau = 1 in
 * `steps` equal steps (default 5), without recording gradients. The chunk stays on the
 * GPU between steps; only the result is read back: [B*H*K] on the CPU.
 */
export async function eulerSample(
  rt: Runtime,
  velocity: VelocityFn,
  shape: readonly [number, number, number],
  rng: Rng,
  opts: EulerOptions = {},
): Promise<Float32Array> {
  const steps = opts.steps ?? 5;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`eulerSample: steps must be a positive integer, got ${steps}`);
  const [B, H, K] = shape;
  const n = B * H * K;
  if (opts.mask) checkMask(opts.mask, shape);
  if (opts.noise && opts.noise.length !== n) throw new RangeError(`eulerSample: noise has ${opts.noise.length} values, expected ${n}`);
  const dt = 1 / steps;
  // The loop records GPU work synchronously; the scope owns every intermediate.
  const scope = new Scope();
  const last = scope.run(() => {
    let a = fromArray(rt, opts.noise ?? sampleNoise(rng, n), [B, H, K]);
    for (let s = 0; s < steps; s++) {
      const tau = new Float32Array(B).fill(s * dt);
      const cur = a;
      a = noGrad(() => tidy(() => add(cur, scale(velocity(cur, tau), dt))));
      cur.dispose();
    }
    return a;
  });
  let out: Float32Array;
  try {
    out = await last.toFloat32();
  } finally {
    scope.dispose();
  }
  if (opts.mask) for (let i = 0; i < n; i++) if (!opts.mask[i]) out[i] = 0;
  return out;
}
