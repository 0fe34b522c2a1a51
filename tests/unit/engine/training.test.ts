import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  AdamW,
  RowIndex,
  Rng,
  Runtime,
  backward,
  crossEntropy,
  decayGroups,
  embedding,
  fromArray,
  gelu,
  initParameter,
  layernorm,
  linear,
  rmsnorm,
  slice,
  concat,
  swiglu,
  tidy,
  type Tensor,
} from '../../../src/engine/index';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

describe('a training-like loop', () => {
  test('loss falls and GPU memory does not grow across steps', async () => {
    const rng = new Rng(1);
    const [V, D, H, C, N] = [24, 16, 32, 6, 96];
    const params = {
      emb: initParameter(rt, rng, [V, D], { kind: 'normal', std: 0.5 }, 'emb'),
      g1: initParameter(rt, rng, [D], { kind: 'ones' }, 'g1'),
      wa: initParameter(rt, rng, [D, H], { kind: 'xavierUniform' }, 'wa'),
      wb: initParameter(rt, rng, [D, H], { kind: 'xavierUniform' }, 'wb'),
      g2: initParameter(rt, rng, [H], { kind: 'ones' }, 'g2'),
      b2: initParameter(rt, rng, [H], { kind: 'zeros' }, 'b2'),
      wo: initParameter(rt, rng, [H, C], { kind: 'xavierUniform' }, 'wo'),
      bo: initParameter(rt, rng, [C], { kind: 'zeros' }, 'bo'),
    };
    const list: Tensor[] = Object.values(params);
    const opt = new AdamW(decayGroups(list, 0.01), { maxGradNorm: 1 });
    // A fixed token -> class map the model must learn; one RowIndex reused by every step.
    const ids = new Int32Array(N).map(() => rng.int(V));
    const targets = new Int32Array(N).map((_, i) => (i % 17 === 0 ? -1 : (ids[i] * 5) % C));
    const index = new RowIndex(rt, ids, V);
    const targetT = fromArray(rt, targets, [N], 'i32');

    const step = (lr: number): Tensor =>
      tidy(() => {
        const x = rmsnorm(embedding(params.emb, index), params.g1);
        const h = swiglu(linear(x, params.wa), linear(x, params.wb));
        // Exercise layout ops in the graph: split the rows and put them back.
        const hh = concat([slice(h, 0, 40), slice(h, 40)]);
        const z = gelu(layernorm(hh, params.g2, params.b2));
        const loss = crossEntropy(linear(z, params.wo, params.bo), targetT);
        backward(loss);
        opt.step(lr);
        opt.zeroGrad();
        return loss;
      });

    const first = step(0.03);
    const firstLoss = await first.item();
    first.dispose();
    for (let i = 0; i < 2; i++) step(0.03).dispose();
    await rt.sync();
    const live = rt.liveBytes;
    let last = 0;
    for (let i = 0; i < 25; i++) {
      const l = step(0.03);
      if (i === 24) last = await l.item();
      l.dispose();
    }
    await rt.sync();
    expect(rt.liveBytes).toBe(live);
    // Chance level is log(6) = 1.79; the map is learnable exactly.
    expect(firstLoss).toBeGreaterThan(1.2);
    expect(last).toBeLessThan(0.3 * firstLoss);

    opt.dispose();
    index.dispose();
    targetT.dispose();
    for (const p of list) p.dispose();
  });
});
