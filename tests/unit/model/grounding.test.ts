/**
 * The grounding loss (src/model/grounding.ts): which rows and labels a packed batch gives
 * it, and the head + cross-entropy on the engine against a float64 reference, values and
 * finite-difference gradients, on odd sizes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backward } from '../../../src/engine/autograd';
import { crossEntropy } from '../../../src/engine/ops/xent';
import { Rng } from '../../../src/engine/random';
import { Role } from '../../../src/engine/roles';
import { Runtime } from '../../../src/engine/runtime';
import { parameter, tidy } from '../../../src/engine/tensor';
import { GroundingHead, groundingTargets } from '../../../src/model/grounding';
import { ParamStore } from '../../../src/model/params';
import { PrtsModel } from '../../../src/model/prts';
import { SPECIAL } from '../../../src/model/tokenizers/vocab';
import { expectClose, numericGrad, randn } from '../engine/check';

const { VISION_STATE: V, INSTRUCTION: I, AR_ACTION: A, CRL_ACTION: C } = Role;
const S = SPECIAL.actionStart;

/** A random batch of documents laid out one after another; some without an action span, some with a start id outside it. */
function randomBatch(rng: Rng) {
  const ids: number[] = [];
  const roles: number[] = [];
  const docStart: number[] = [];
  const docLength: number[] = [];
  const B = 1 + Math.floor(rng.uniform() * 6);
  for (let s = 0; s < B; s++) {
    docStart.push(ids.length);
    const push = (id: number, role: number) => (ids.push(id), roles.push(role));
    for (let i = 0, v = 1 + Math.floor(rng.uniform() * 5); i < v; i++) push(rng.uniform() < 0.1 ? S : 9, V);
    for (let i = 0, w = Math.floor(rng.uniform() * 4); i < w; i++) push(10, I);
    if (rng.uniform() < 0.8) {
      push(S, A);
      for (let i = 0, f = Math.floor(rng.uniform() * 4); i < f; i++) push(rng.uniform() < 0.2 ? S : 20, A);
      for (let i = 0, f = Math.floor(rng.uniform() * 3); i < f; i++) push(S, C);
    }
    docLength.push(ids.length - docStart[s]);
  }
  return {
    ids: Int32Array.from(ids),
    roles: Uint8Array.from(roles),
    docStart: Int32Array.from(docStart),
    docLength: Int32Array.from(docLength),
    episodes: Int32Array.from({ length: B }, () => Math.floor(rng.uniform() * 8)),
  };
}

describe('groundingTargets', () => {
  test('a hand layout: each labelled sample reads its own first <|action_start|>; unlabelled samples and samples without one do not count', () => {
    //             sample 0: V V I A(S) A A(S)  | sample 1: V I A(S) | sample 2: V I (no action span) | sample 3: V(S) A(S)
    const ids = new Int32Array([9, 9, 10, S, 20, S, 9, 10, S, 9, 10, S, S]);
    const roles = new Uint8Array([V, V, I, A, A, A, V, I, A, V, I, V, A]);
    const batch = { ids, roles, docStart: new Int32Array([0, 6, 9, 11]), docLength: new Int32Array([6, 3, 2, 2]), episodes: new Int32Array([4, 7, 5, 6]) };
    const labels: Record<number, number> = { 4: 2, 7: -1, 5: 1, 6: 0 };
    const g = groundingTargets(batch, (e) => labels[e])!;
    expect(Array.from(g.rows)).toEqual([3, 12]);
    expect(Array.from(g.labels)).toEqual([2, 0]);
    expect(groundingTargets(batch, () => -1)).toBeNull();
    expect(() => groundingTargets({ ...batch, episodes: new Int32Array(3) }, () => 0)).toThrow(/one entry per sample, got 4, 4, 3/);
  });

  test('property, random batches: every row is the first AR <|action_start|> of its sample, in sample order, with that sample\'s label', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 300; trial++) {
      const b = randomBatch(rng);
      const labelOf = (e: number) => (e % 3 === 0 ? -1 : e % 4);
      const g = groundingTargets(b, labelOf);
      const expected: [number, number][] = [];
      for (let s = 0; s < b.docStart.length; s++) {
        if (labelOf(b.episodes[s]) < 0) continue;
        for (let r = b.docStart[s]; r < b.docStart[s] + b.docLength[s]; r++) {
          if (b.ids[r] === S && b.roles[r] === A) {
            expected.push([r, labelOf(b.episodes[s])]);
            break;
          }
        }
      }
      if (expected.length === 0) expect(g).toBeNull();
      else expect(Array.from(g!.rows, (r, k) => [r, g!.labels[k]])).toEqual(expected);
    }
  });
});

/** Float64 reference: mean over rows k of CE(softmax(h[rows[k]] W + b), labels[k]). */
function reference(h: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, D: number, Ccls: number, rows: Int32Array, labels: Int32Array): number {
  let total = 0;
  rows.forEach((r, k) => {
    const z = Array.from({ length: Ccls }, (_, c) => {
      let v = b[c];
      for (let d = 0; d < D; d++) v += h[r * D + d] * w[d * Ccls + c];
      return v;
    });
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, x) => a + Math.exp(x - m), 0));
    total += lse - z[labels[k]];
  });
  return total / rows.length;
}

describe('the grounding head on the engine', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });
  afterAll(() => rt?.destroy());

  test('odd sizes: the loss and the gradients of the hidden states, weight and bias match a float64 reference', async () => {
    const rng = new Rng(5);
    for (const [n, D, Ccls, m] of [[7, 5, 3, 4], [13, 11, 6, 6], [9, 64, 2, 1]] as const) {
      const store = new ParamStore(rt, 17);
      const head = new GroundingHead(store, D, Ccls);
      // Non-zero bias, so its gradient path is exercised away from the init.
      const w0 = Float32Array.from((await store.tensors.get('grounding.w')!.read()) as Float32Array);
      const b0 = randn(rng, Ccls);
      rt.write(store.tensors.get('grounding.b')!.buffer, b0);
      const hData = randn(rng, n * D);
      const rows = Int32Array.from({ length: m }, () => Math.floor(rng.uniform() * n));
      const labels = Int32Array.from({ length: m }, () => Math.floor(rng.uniform() * Ccls));
      const h = parameter(rt, hData, [n, D]);
      const loss = tidy(() => {
        const l = crossEntropy(head.logits(h, rows), labels);
        backward(l);
        return l;
      });
      const f = ([hh, ww, bb]: Float64Array[]) => [reference(hh, ww, bb, D, Ccls, rows, labels)];
      const [dh, dw, db] = numericGrad(f, [hData, w0, b0], [1]);
      expect(await loss.item()).toBeCloseTo(f([Float64Array.from(hData), Float64Array.from(w0), Float64Array.from(b0)])[0], 5);
      expectClose(await h.grad!.read(), dh, { atol: 1e-4, rtol: 1e-4 });
      expectClose(await store.tensors.get('grounding.w')!.grad!.read(), dw, { atol: 1e-4, rtol: 1e-4 });
      expectClose(await store.tensors.get('grounding.b')!.grad!.read(), db, { atol: 1e-4, rtol: 1e-4 });
      loss.dispose();
      h.dispose();
      store.dispose();
    }
  });

  test('a model without a grounding head refuses a grounding weight, and a head needs two classes or more', async () => {
    const cfg = {
      backbone: { vocabSize: 16, dModel: 32, layers: 1, heads: 1, headDim: 32, mlpHidden: 16, ropeBase: 10000, normEps: 1e-6, patchFeatures: 0, actionStartGoal: false },
      crl: { hidden: 8, embedDim: 4, temperatureInit: 0.2, maxScale: 100 },
      gamma: 0.99,
      lambdaCrl: 1,
      tile: 32,
      seed: 0,
    };
    expect(() => new PrtsModel(rt, { ...cfg, lambdaGrounding: 1 })).toThrow(/lambdaGrounding is 1 but the model has no grounding head/);
    expect(() => new GroundingHead(new ParamStore(rt, 0), 8, 1)).toThrow(/groundingClasses must be an integer >= 2, got 1/);
    const withHead = new PrtsModel(rt, { ...cfg, groundingClasses: 6, lambdaGrounding: 0.5 });
    const without = new PrtsModel(rt, cfg);
    // The head is created last: every other parameter starts at the same values with or without it.
    expect(withHead.store.count - without.store.count).toBe(32 * 6 + 6);
    for (const [name, t] of without.store.tensors) expect(Array.from((await withHead.store.tensors.get(name)!.read()) as Float32Array), name).toEqual(Array.from((await t.read()) as Float32Array));
    withHead.store.dispose();
    without.store.dispose();
  });
});
