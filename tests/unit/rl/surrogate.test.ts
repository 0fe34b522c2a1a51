/**
 * The GRPO/SRPO objective (src/rl): group advantages, the clipped surrogate with its KL
 * term, and the claim the AR policy gradient rests on: a backward pass of the summed
 * token NLL weighted by -dLoss/dlogp gives the objective's gradient exactly.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backward } from '../../../src/engine/autograd';
import { crossEntropy } from '../../../src/engine/ops/xent';
import { Rng } from '../../../src/engine/random';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy } from '../../../src/engine/tensor';
import { groupAdvantages } from '../../../src/rl/advantages';
import { chunkLogProbs, clippedSurrogate, tokenWeights } from '../../../src/rl/surrogate';
import { expectClose, randn } from '../engine/check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

describe('group advantages', () => {
  test('each group is centred with unit population std; a group without spread gets 0 and is reported', () => {
    const rng = new Rng(3);
    const groupOf = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2];
    const rewards = groupOf.map((g) => (g === 1 ? 0.8 : rng.uniform(0, 1)));
    const { advantages, degenerate, stats } = groupAdvantages(rewards, groupOf);
    expect(degenerate).toEqual([1]);
    for (const g of [0, 2]) {
      const a = groupOf.flatMap((x, i) => (x === g ? [advantages[i]] : []));
      const mean = a.reduce((s, v) => s + v, 0) / a.length;
      expect(mean).toBeCloseTo(0, 12);
      expect(Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length)).toBeCloseTo(1, 12);
      // Order is kept: a larger reward never gets a smaller advantage.
      const r = groupOf.flatMap((x, i) => (x === g ? [rewards[i]] : []));
      for (let i = 0; i < r.length; i++) for (let j = 0; j < r.length; j++) if (r[i] > r[j]) expect(a[i]).toBeGreaterThan(a[j]);
    }
    expect(groupOf.flatMap((x, i) => (x === 1 ? [advantages[i]] : []))).toEqual([0, 0, 0]);
    // 0.8 three times has a float std of ~1e-16, not 0: dividing by it would blow the advantages up.
    expect(stats.get(1)![1]).toBeLessThan(1e-12);
    // GRPO's outcome reward: one success in four gives +sqrt(3) and -1/sqrt(3).
    const grpo = groupAdvantages([1, 0, 0, 0], [5, 5, 5, 5]).advantages;
    expectClose(grpo, [Math.sqrt(3), -1 / Math.sqrt(3), -1 / Math.sqrt(3), -1 / Math.sqrt(3)], { atol: 1e-12, rtol: 1e-12 });
  });

  test('bad input is refused by name', () => {
    expect(() => groupAdvantages([1, 0], [0])).toThrow(/2 rewards but 1 group ids/);
    expect(() => groupAdvantages([1, NaN], [0, 0])).toThrow(/reward 1 is NaN/);
    expect(() => groupAdvantages([1, 0], [0, 0.5])).toThrow(/group id 1 is 0.5/);
  });
});

describe('the clipped surrogate', () => {
  /** Random chunks whose ratios stay away from the clip boundaries (the objective is not differentiable there). */
  function chunks(rng: Rng, m: number, eps: number) {
    const logpOld = Array.from({ length: m }, () => rng.uniform(-30, -5));
    const logp = logpOld.map((o) => {
      for (;;) {
        const d = rng.uniform(-0.6, 0.6);
        const r = Math.exp(d);
        if (Math.abs(r - (1 - eps)) > 0.02 && Math.abs(r - (1 + eps)) > 0.02) return o + d;
      }
    });
    const logpRef = logp.map((l) => l + rng.uniform(-0.5, 0.5));
    const advantages = Array.from({ length: m }, () => rng.normal());
    return { logp, logpOld, logpRef, advantages };
  }

  test('dLogp is the finite-difference gradient of the loss, with and without the KL term', () => {
    const rng = new Rng(11);
    for (const beta of [0, 0.05]) {
      const c = chunks(rng, 23, 0.2);
      const r = clippedSurrogate({ ...c, beta, clipEps: 0.2 });
      const h = 1e-6;
      for (let i = 0; i < c.logp.length; i++) {
        const at = (d: number) => clippedSurrogate({ ...c, logp: c.logp.map((v, j) => (j === i ? v + d : v)), beta, clipEps: 0.2 }).loss;
        expect(r.dLogp[i]).toBeCloseTo((at(h) - at(-h)) / (2 * h), 6);
      }
      expect(r.clipFraction).toBeGreaterThan(0); // the draw does exercise both branches
      expect(r.clipFraction).toBeLessThan(1);
    }
  });

  test('the first update: ratios exactly 1, nothing clipped, the gradient is -A / m; a reference equal to the policy adds no KL', () => {
    const rng = new Rng(5);
    const { logp, advantages } = chunks(rng, 9, 0.2);
    const r = clippedSurrogate({ logp, logpOld: logp, logpRef: logp, advantages, beta: 0.1 });
    expect(Array.from(r.ratios)).toEqual(new Array(9).fill(1));
    expect(r.clipFraction).toBe(0);
    expect(r.kl).toBe(0);
    expectClose(r.dLogp, advantages.map((a) => -a / 9), { atol: 1e-15, rtol: 0 });
    expect(r.loss).toBeCloseTo(-advantages.reduce((s, a) => s + a, 0) / 9, 12);
  });

  test('clipping cuts the gradient only where the clipped branch is the smaller one', () => {
    const up = Math.log(1.5); // r = 1.5 > 1 + eps
    const [pos, neg] = [clippedSurrogate({ logp: [up], logpOld: [0], advantages: [1] }), clippedSurrogate({ logp: [up], logpOld: [0], advantages: [-1] })];
    expect(pos.dLogp[0]).toBe(0); // A > 0, r above the range: no further push
    expect(pos.clipFraction).toBe(1);
    expect(pos.loss).toBeCloseTo(-1.2, 12);
    expect(neg.dLogp[0]).toBeCloseTo(1.5, 12); // A < 0, r above the range: pulled back
    expect(neg.clipFraction).toBe(0);
    const kl = clippedSurrogate({ logp: [0], logpOld: [0], logpRef: [-1], advantages: [0], beta: 1 });
    expect(kl.kl).toBeCloseTo(Math.exp(-1) + 1 - 1, 12);
    expect(kl.kl).toBeGreaterThan(0);
  });

  test('bad input is refused by name', () => {
    expect(() => clippedSurrogate({ logp: [], logpOld: [], advantages: [] })).toThrow(/no chunks/);
    expect(() => clippedSurrogate({ logp: [0, 0], logpOld: [0], advantages: [0, 0] })).toThrow(/logpOld has 1 entries, logp 2/);
    expect(() => clippedSurrogate({ logp: [0], logpOld: [0], advantages: [0], beta: 0.1 })).toThrow(/beta > 0 needs logpRef/);
    expect(() => clippedSurrogate({ logp: [0], logpOld: [0], advantages: [0], clipEps: 0 })).toThrow(/clipEps must be in \(0, 1\)/);
    expect(() => clippedSurrogate({ logp: [NaN], logpOld: [0], advantages: [0] })).toThrow(/chunk 0 has logp NaN/);
  });
});

describe('the AR policy gradient as a weighted token NLL', () => {
  test('the engine\'s backward of sum_t w_t nll_t (w = -dLogp of the row\'s chunk) is the finite-difference gradient of the objective in the logits', async () => {
    const rng = new Rng(29);
    const [rows, V, m] = [17, 11, 4];
    const logits = randn(rng, rows * V, 1.5);
    const targets = Int32Array.from({ length: rows }, () => Math.floor(rng.uniform(0, V)));
    // Rows of four chunks, a prompt row (-1 chunk) and an ignored target, as in a packed batch.
    const rowChunk = Int32Array.from({ length: rows }, (_, t) => (t === 0 ? -1 : (t - 1) % m));
    targets[5] = -1;
    const logpNow = chunkLogProbs(logits, V, targets, rowChunk, m);
    const logpOld = Array.from(logpNow, (l, i) => l + [0.05, -0.4, 0.3, -0.02][i]); // chunk 1 clipped for A > 0 below
    const logpRef = Array.from(logpNow, (l) => l - 0.2);
    const advantages = [0.7, 1.1, -0.9, -0.3];
    const objective = (x: ArrayLike<number>) => clippedSurrogate({ logp: chunkLogProbs(x, V, targets, rowChunk, m), logpOld, logpRef, advantages, beta: 0.04 }).loss;
    const res = clippedSurrogate({ logp: logpNow, logpOld, logpRef, advantages, beta: 0.04 });
    expect(res.clipFraction).toBeGreaterThan(0);
    const w = tokenWeights(res.dLogp, targets, rowChunk);
    expect(w[0]).toBe(0);
    expect(w[5]).toBe(0);

    const p = parameter(rt, logits, [rows, V]);
    tidy(() => backward(crossEntropy(p, targets, { weights: fromArray(rt, w, [rows]), reduction: 'sum' })));
    const grad = (await p.grad!.read()) as Float32Array;
    p.grad!.dispose();
    p.dispose();
    const x = Float64Array.from(logits);
    const fd = new Float64Array(x.length);
    const h = 1e-5;
    for (let k = 0; k < x.length; k++) {
      const o = x[k];
      x[k] = o + h;
      const a = objective(x);
      x[k] = o - h;
      const b = objective(x);
      x[k] = o;
      fd[k] = (a - b) / (2 * h);
    }
    expectClose(grad, fd, { atol: 1e-5, rtol: 1e-3 });
  });
});
