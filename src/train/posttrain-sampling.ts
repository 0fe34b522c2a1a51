/**
 * The DiT's action sampler (posttrain.ts): Euler integration of the trained DiT's
 * velocity from noise to an action chunk. Separate from training because it is the
 * policy's inference path (src/train/inference.ts) and records no gradients.
 */
import { Rng, fromArray, noGrad, tidy, type Tensor } from '../engine/index';
import type { Dit, DitContext, PreparedContext } from '../model/dit';
import { eulerSample } from '../model/flow';

export interface SampleOptions {
  /** Batch size when there is no context (a context fixes it to its sample count). */
  batch?: number;
  /** Validity mask [B * H * K]: padded entries are fed as 0 and returned as 0. */
  mask?: Float32Array;
  /** Start from this noise instead of drawing it from rng. */
  noise?: Float32Array;
}

/**
 * The policy's action sampler: `steps` Euler steps (default 5) of the DiT's velocity
 * from a_0 = eps to tau = 1, without recording gradients. The context (backbone hidden
 * states and per-sample ranges) is projected once and reused by every step.
 * Returns the chunks [B * H * K].
 */
export async function sampleActions(
  dit: Dit,
  context: DitContext | null,
  steps = 5,
  rng: Rng = new Rng(0),
  opts: SampleOptions = {},
): Promise<Float32Array> {
  const { horizon: H, actionDim: K } = dit.cfg;
  const B = context ? context.start.length : opts.batch;
  if (!B || !Number.isInteger(B) || B < 1) {
    throw new RangeError('sampleActions: pass a context or opts.batch (a positive integer) to fix the batch size');
  }
  if (opts.batch !== undefined && opts.batch !== B) {
    throw new RangeError(`sampleActions: opts.batch (${opts.batch}) differs from the context's ${B} samples`);
  }
  const rt = dit.rt;
  const prepared: { ctx: PreparedContext | undefined; mask: Tensor | undefined } = { ctx: undefined, mask: undefined };
  const keep = noGrad(() =>
    tidy(() => {
      const kept: Tensor[] = [];
      if (context) {
        prepared.ctx = dit.prepareContext(context);
        kept.push(prepared.ctx.bias, ...prepared.ctx.keys, ...prepared.ctx.values);
      }
      if (opts.mask) {
        prepared.mask = fromArray(rt, opts.mask, [B, H, K]);
        kept.push(prepared.mask);
      }
      return kept;
    }),
  );
  try {
    return await eulerSample(
      rt,
      (x, tau) => dit.forward({ noisy: x, tau, mask: prepared.mask, context: prepared.ctx }).velocity,
      [B, H, K],
      rng,
      { steps, mask: opts.mask, noise: opts.noise },
    );
  } finally {
    for (const t of keep) t.dispose();
  }
}
