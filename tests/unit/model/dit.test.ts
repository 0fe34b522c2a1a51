import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backward, zeroGrad } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy, type Tensor } from '../../../src/engine/tensor';
import { Dit, timestepEmbedding, validateDitConfig, type DitConfig, type DitContext } from '../../../src/model/dit';
import { flowBatch, flowMatchingLoss, flowMatchingLossRef, lossWeights } from '../../../src/model/flow';
import { ParamStore } from '../../../src/model/params';
import { expectClose, randn } from '../engine/check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

// Tiny: B = 2 samples, H = 3 steps, K = 4 channels, two packed documents of context.
const B = 2;
const H = 3;
const K = 4;
const CTX = 8;
const N_CTX = 7;
const cfg: DitConfig = {
  dModel: 16,
  heads: 2,
  layers: 2,
  horizon: H,
  actionDim: K,
  contextDim: CTX,
  mlpHidden: 32,
  timeFreqDim: 8,
  timeScale: 1000,
  normEps: 1e-6,
};
// Sample 0 uses channels 0-2 on every step; sample 1 uses channels 0-1 on steps 0-1.
const MASK = Float32Array.from([
  1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, // sample 0
  1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, // sample 1
]);
const START = [0, 4];
const END = [4, 7];

/** Overwrites every DiT parameter with N(0, std^2) values so no gate or output is zero. */
function randomise(store: ParamStore, dit: Dit, rng: Rng, std = 0.4): void {
  for (const t of dit.params(store)) rt.write(t.buffer, randn(rng, t.size, std));
}

function makeDit(seed = 1): { store: ParamStore; dit: Dit } {
  const store = new ParamStore(rt, seed);
  return { store, dit: new Dit(store, cfg) };
}

describe('DiT config and embedding', () => {
  test('validation names the field', () => {
    expect(() => validateDitConfig({ ...cfg, heads: 3 })).toThrow(/dit.dModel \(16\) must be divisible by dit.heads \(3\)/);
    expect(() => validateDitConfig({ ...cfg, contextDim: -1 })).toThrow(/dit.contextDim/);
    expect(() => validateDitConfig({ ...cfg, timeFreqDim: 7 })).toThrow(/dit.timeFreqDim must be even/);
  });

  test('timestep embedding: cos/sin halves, distinct times give distinct embeddings', () => {
    const e = timestepEmbedding([0, 0.2], 8);
    expect(Array.from(e.slice(0, 4))).toEqual([1, 1, 1, 1]);
    expect(Array.from(e.slice(4, 8))).toEqual([0, 0, 0, 0]);
    for (let i = 0; i < 4; i++) expect(e[8 + i] ** 2 + e[12 + i] ** 2).toBeCloseTo(1, 6);
    expect(Math.abs(e[8] - e[0])).toBeGreaterThan(0.1);
  });
});

describe('DiT adaLN-Zero init', () => {
  test('every block is exactly the identity and the initial velocity is exactly 0', async () => {
    const { store, dit } = makeDit(3);
    const rng = new Rng(5);
    const hidden = fromArray(rt, randn(rng, N_CTX * CTX), [N_CTX, CTX]);
    const out = dit.forward({
      noisy: fromArray(rt, randn(rng, B * H * K), [B, H, K]),
      tau: [0.3, 0.9],
      mask: fromArray(rt, MASK, [B, H, K]),
      context: { hidden, start: START, end: END },
    });
    expect(out.tokens.length).toBe(cfg.layers + 1);
    const first = await out.tokens[0].toFloat32();
    expect(first.some((v) => v !== 0)).toBe(true);
    for (let l = 1; l < out.tokens.length; l++) {
      const cur = await out.tokens[l].toFloat32();
      expect(Array.from(cur), `block ${l - 1} output`).toEqual(Array.from(first));
    }
    const v = await out.velocity.toFloat32();
    expect(v.every((x) => x === 0)).toBe(true);
    expect(dit.paramNames.every((n) => n.startsWith('dit.'))).toBe(true);
    dit.dispose();
    store.dispose();
  });
});

describe('DiT masking', () => {
  test('padded channel/step content changes no loss and no gradient', async () => {
    const { store, dit } = makeDit(4);
    randomise(store, dit, new Rng(11));
    const rng = new Rng(12);
    const actions = randn(rng, B * H * K);
    for (let i = 0; i < actions.length; i++) if (!MASK[i]) actions[i] = 0;
    const fb = flowBatch(rng, actions, [B, H, K]);
    const weights = lossWeights(MASK, [B, H, K]);
    const hidden = parameter(rt, randn(rng, N_CTX * CTX), [N_CTX, CTX], 'ctx');
    const params = [...dit.params(store), hidden];

    const run = async (noisy: Float32Array, useInputMask: boolean) => {
      zeroGrad(params);
      const [loss, v] = tidy(() => {
        const ctx: DitContext = { hidden, start: START, end: END };
        const out = dit.forward({
          noisy: fromArray(rt, noisy, [B, H, K]),
          tau: fb.tau,
          mask: useInputMask ? fromArray(rt, MASK, [B, H, K]) : undefined,
          context: ctx,
        });
        const l = flowMatchingLoss(out.velocity, fromArray(rt, fb.target, [B, H, K]), fromArray(rt, weights, [B, H, K]));
        backward(l);
        return [l, out.velocity];
      });
      const res = { loss: await loss.item(), v: await v.toFloat32(), grads: await Promise.all(params.map((p) => p.grad!.toFloat32())) };
      return res;
    };
    const other = Float32Array.from(fb.noisy);
    const junk = new Rng(99);
    for (let i = 0; i < other.length; i++) if (!MASK[i]) other[i] = 10 * junk.normal();

    const a = await run(fb.noisy, true);
    const b = await run(other, true);
    expect(a.loss).toBeGreaterThan(0);
    expect(b.loss).toBe(a.loss);
    for (let i = 0; i < MASK.length; i++) if (MASK[i]) expect(b.v[i]).toBe(a.v[i]);
    a.grads.forEach((g, j) => expect(Array.from(b.grads[j]), `grad of ${params[j].name}`).toEqual(Array.from(g)));
    // The loss mask alone is not enough: without the input mask the padded noise leaks
    // into the valid outputs through the input projection and attention.
    const c = await run(fb.noisy, false);
    const d = await run(other, false);
    expect(Math.abs(c.loss - d.loss)).toBeGreaterThan(1e-4);

    // GPU loss against the float64 reference on the same velocity.
    expect(a.loss).toBeCloseTo(flowMatchingLossRef(a.v, fb.target, weights), 5);
    zeroGrad(params);
    hidden.dispose();
    dit.dispose();
    store.dispose();
  });
});

describe('DiT gradients', () => {
  // Directional derivatives: for each parameter tensor P (and the context hidden
  // states, i.e. the gradient into the backbone) a random unit direction u, the GPU
  // backward's <dL/dP, u> against (L(P + h u) - L(P - h u)) / 2h from two f32 GPU
  // forwards. h = 1e-2 keeps the f32 cancellation error near 1e-5 while the O(h^2)
  // truncation stays below 1e-4 relative; tolerance atol 5e-4 + rtol 2e-2.
  test('masked flow-matching loss: backward matches central differences of the forward', async () => {
    const { store, dit } = makeDit(6);
    randomise(store, dit, new Rng(21));
    const rng = new Rng(22);
    const actions = randn(rng, B * H * K);
    const fb = flowBatch(rng, actions, [B, H, K]);
    const weights = lossWeights(MASK, [B, H, K]);
    const hidden = parameter(rt, randn(rng, N_CTX * CTX), [N_CTX, CTX], 'context.hidden');
    const params = [...dit.params(store), hidden];

    const lossOf = (withGrad: boolean): Tensor =>
      tidy(() => {
        const out = dit.forward({
          noisy: fromArray(rt, fb.noisy, [B, H, K]),
          tau: fb.tau,
          mask: fromArray(rt, MASK, [B, H, K]),
          context: { hidden, start: START, end: END },
        });
        const l = flowMatchingLoss(out.velocity, fromArray(rt, fb.target, [B, H, K]), fromArray(rt, weights, [B, H, K]));
        if (withGrad) backward(l);
        return l;
      });
    zeroGrad(params);
    const l0 = lossOf(true);
    expect(await l0.item()).toBeGreaterThan(0);
    const h = 1e-2;
    const dirRng = new Rng(23);
    const analytic: number[] = [];
    const numeric: number[] = [];
    for (const p of params) {
      const base = await p.toFloat32();
      const g = await p.grad!.toFloat32();
      const u = randn(dirRng, p.size);
      const norm = Math.hypot(...u);
      let dot = 0;
      for (let i = 0; i < u.length; i++) {
        u[i] /= norm;
        dot += g[i] * u[i];
      }
      const shifted = (s: number) => Float32Array.from(base, (x, i) => x + s * u[i]);
      rt.write(p.buffer, shifted(h));
      const up = await lossOf(false).item();
      rt.write(p.buffer, shifted(-h));
      const down = await lossOf(false).item();
      rt.write(p.buffer, base);
      analytic.push(dot);
      numeric.push((up - down) / (2 * h));
    }
    const names = params.map((p) => p.name);
    for (let j = 0; j < params.length; j++) {
      expectClose([analytic[j]], [numeric[j]], { atol: 5e-4, rtol: 2e-2, what: `directional derivative wrt ${names[j]}` });
    }
    // The check has teeth: most directional derivatives are far from zero.
    expect(analytic.filter((x) => Math.abs(x) > 1e-2).length).toBeGreaterThan(params.length / 2);
    zeroGrad(params);
    hidden.dispose();
    dit.dispose();
    store.dispose();
  });
});

describe('DiT attention layouts', () => {
  test("'dense' (block-diagonal bias) and 'batched' (per-sample products) give the same velocity", async () => {
    const outs: Float32Array[] = [];
    for (const attention of ['dense', 'batched'] as const) {
      const store = new ParamStore(rt, 8);
      const dit = new Dit(store, { ...cfg, attention });
      randomise(store, dit, new Rng(31));
      const rng = new Rng(32);
      // Unequal context lengths (4 and 3), so the batched layout pads sample 1.
      const hidden = fromArray(rt, randn(rng, N_CTX * CTX), [N_CTX, CTX]);
      const v = tidy(() =>
        dit.forward({
          noisy: fromArray(rt, randn(rng, B * H * K), [B, H, K]),
          tau: [0.2, 0.7],
          mask: fromArray(rt, MASK, [B, H, K]),
          context: { hidden, start: START, end: END },
        }).velocity,
      );
      outs.push(await v.toFloat32());
      expect(outs[outs.length - 1].some((x) => x !== 0)).toBe(true);
      dit.dispose();
      store.dispose();
    }
    expectClose(outs[1], outs[0], { atol: 1e-5, rtol: 1e-4, what: 'batched vs dense velocity' });
  });
});
