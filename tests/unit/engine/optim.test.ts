import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, type Tensor } from '../../../src/engine/tensor';
import { Rng } from '../../../src/engine/random';
import { AdamW, adamwKernels, decayGroups } from '../../../src/engine/optim';
import { sumsqGroup } from '../../../src/engine/sumsq-multi';
import { adamwGroup } from '../../../src/engine/adamw-multi';
import { refAdamWStep, refClipScale } from '../../../src/engine/reference/optim';
import { expectClose, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

function setGrad(p: Tensor, g: Float32Array): void {
  p.grad?.dispose();
  p.grad = fromArray(rt, g, p.shape);
}

describe('AdamW', () => {
  test('several steps with a schedule, groups, decay convention and clipping match the reference', async () => {
    const rng = new Rng(1);
    const shapes = [[5, 7], [7], [3, 4, 2]];
    const init = shapes.map((s) => randn(rng, s.reduce((a, b) => a * b, 1)));
    const ps = init.map((d, i) => parameter(rt, d, shapes[i], `p${i}`));
    const [beta1, beta2, eps, wd, maxNorm] = [0.9, 0.95, 1e-8, 0.1, 1.5];
    const groups = decayGroups(ps, wd);
    groups[1].lrScale = 0.5;
    const opt = new AdamW(groups, { betas: [beta1, beta2], eps, maxGradNorm: maxNorm });
    // Reference state, with the same group assignment: rank >= 2 decays, vectors do not.
    const ref = init.map((d) => ({ p: Float64Array.from(d), m: new Float64Array(d.length), v: new Float64Array(d.length) }));
    const decay = shapes.map((s) => (s.length >= 2 ? wd : 0));
    const lrScale = shapes.map((s) => (s.length >= 2 ? 1 : 0.5));
    const lrs = [1e-3, 5e-3, 1e-2, 7e-3, 2e-3];
    let clipped = 0;
    for (let step = 1; step <= lrs.length; step++) {
      // Large gradients on some steps so clipping engages, small on others.
      const grads = shapes.map((_, i) => randn(rng, init[i].length, step % 2 ? 3 : 0.05));
      ps.forEach((p, i) => setGrad(p, grads[i]));
      opt.step(lrs[step - 1]);
      const { norm, scale } = refClipScale(grads, maxNorm);
      if (scale < 1) clipped++;
      ref.forEach((r, i) =>
        refAdamWStep(r.p, grads[i], r.m, r.v, step, scale, { lr: lrs[step - 1] * lrScale[i], beta1, beta2, eps, weightDecay: decay[i] }),
      );
      expect(await opt.lastGradNorm()).toBeCloseTo(norm, 3);
    }
    expect(clipped).toBeGreaterThan(0);
    expect(clipped).toBeLessThan(lrs.length);
    for (let i = 0; i < ps.length; i++) {
      expectClose(await ps[i].read(), ref[i].p, { atol: 1e-6, rtol: 1e-5, what: `param ${i}` });
    }
    // State is in the optimizer's parameter order (group by group).
    const st = await opt.state();
    const k = opt.params.indexOf(ps[2]);
    expect(st.names[k]).toBe('p2');
    expectClose(st.m[k], ref[2].m, { atol: 1e-6, rtol: 1e-5, what: 'first moment' });
    expectClose(st.v[k], ref[2].v, { atol: 1e-7, rtol: 1e-5, what: 'second moment' });
    expect(st.steps).toEqual([5, 5, 5]);
    opt.dispose();
    for (const p of ps) {
      p.grad?.dispose();
      p.dispose();
    }
  });

  test('parameters without a gradient are untouched and keep their step count', async () => {
    const a = parameter(rt, [1, 2, 3], [3]);
    const b = parameter(rt, [4, 5], [2]);
    const opt = new AdamW([a, b], { weightDecay: 0.5 });
    setGrad(a, new Float32Array([0.1, 0.2, 0.3]));
    opt.step(0.01);
    expect(Array.from(await b.read())).toEqual([4, 5]);
    expect((await opt.state()).steps).toEqual([1, 0]);
    opt.dispose();
    for (const p of [a, b]) {
      p.grad?.dispose();
      p.dispose();
    }
  });

  test('state() and load() resume training exactly', async () => {
    const rng = new Rng(2);
    const init = randn(rng, 12);
    const grads = [0, 1, 2, 3].map(() => randn(rng, 12));
    const run = async (resumeAt: number | null) => {
      let p = parameter(rt, init, [3, 4]);
      let opt = new AdamW([p], { maxGradNorm: 1 });
      for (let s = 0; s < grads.length; s++) {
        if (s === resumeAt) {
          // Simulate a checkpoint: fresh parameter and optimizer from saved values.
          const [values, state] = [await p.read(), await opt.state()];
          opt.dispose();
          p.grad?.dispose();
          p.dispose();
          p = parameter(rt, values, [3, 4]);
          opt = new AdamW([p], { maxGradNorm: 1 });
          opt.load(state);
        }
        setGrad(p, grads[s]);
        opt.step(0.01);
      }
      const out = await p.read();
      opt.dispose();
      p.grad?.dispose();
      p.dispose();
      return out;
    };
    expect(Array.from(await run(2))).toEqual(Array.from(await run(null)));
  });

  test('the global gradient norm spans several sumsq chunks and odd sizes (float64 reference)', async () => {
    const rng = new Rng(3);
    // 2048-element chunks of 64 partial sums each: sizes below, at and above a chunk.
    const sizes = [5000, 2049, 2048, 63, 1];
    const ps = sizes.map((n, i) => parameter(rt, randn(rng, n), [n], `p${i}`));
    const grads = sizes.map((n) => randn(rng, n));
    ps.forEach((p, i) => setGrad(p, grads[i]));
    const opt = new AdamW(ps, { maxGradNorm: 1 });
    opt.step(0.01);
    let sq = 0;
    for (const g of grads) for (const v of g) sq += v * v;
    expectClose(new Float32Array([await opt.lastGradNorm()]), [Math.sqrt(sq)], { rtol: 1e-5, what: 'norm' });
    opt.dispose();
    for (const p of ps) {
      p.grad?.dispose();
      p.dispose();
    }
  });

  test('many parameters per dispatch (norm and update) give the results of one dispatch each, to the bit, and the reference', async () => {
    const rng = new Rng(5);
    const group = sumsqGroup(rt);
    const updateGroup = adamwGroup(rt);
    // More parameters than fit one dispatch of either stage, odd sizes around the chunks.
    const count = 2 * Math.max(group, updateGroup) + 3;
    const sizes = Array.from({ length: count }, (_, i) => [1, 7, 2047, 2048, 2049, 4097, 130][i % 7] + 3 * i);
    const init = sizes.map((n) => randn(rng, n));
    const steps = [0, 1].map(() => sizes.map((n) => randn(rng, n, 2)));
    const [lr, maxNorm] = [0.01, 1];
    const out: Record<string, { norm: number; params: Float32Array[]; m: Float32Array[]; dispatches: number }> = {};
    for (const mode of ['each', 'multi'] as const) {
      adamwKernels.sumsq = mode;
      adamwKernels.update = mode;
      try {
        const ps = sizes.map((n, i) => parameter(rt, init[i], [n], `p${i}`));
        const opt = new AdamW(ps, { maxGradNorm: maxNorm, weightDecay: 0.1 });
        let dispatches = 0;
        for (const grads of steps) {
          ps.forEach((p, i) => setGrad(p, grads[i]));
          const d0 = rt.dispatchCount;
          opt.step(lr);
          dispatches = rt.dispatchCount - d0;
        }
        out[mode] = {
          norm: await opt.lastGradNorm(),
          params: await Promise.all(ps.map(async (p) => (await p.read()) as Float32Array)),
          m: (await opt.state()).m,
          dispatches,
        };
        opt.dispose();
        for (const p of ps) {
          p.grad?.dispose();
          p.dispose();
        }
      } finally {
        adamwKernels.sumsq = 'multi';
        adamwKernels.update = 'multi';
      }
    }
    expect(out.multi.norm).toBe(out.each.norm);
    out.multi.params.forEach((p, i) => expect(Array.from(p), `param ${i}`).toEqual(Array.from(out.each.params[i])));
    out.multi.m.forEach((m, i) => expect(Array.from(m), `m ${i}`).toEqual(Array.from(out.each.m[i])));
    // Against the float64 reference, both steps.
    const ref = init.map((d) => ({ p: Float64Array.from(d), m: new Float64Array(d.length), v: new Float64Array(d.length) }));
    steps.forEach((grads, k) => {
      const { norm, scale } = refClipScale(grads, maxNorm);
      if (k === steps.length - 1) expectClose(new Float32Array([out.multi.norm]), [norm], { rtol: 1e-5, what: 'norm' });
      ref.forEach((r, i) => refAdamWStep(r.p, grads[i], r.m, r.v, k + 1, scale, { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 }));
    });
    ref.forEach((r, i) => expectClose(out.multi.params[i], r.p, { atol: 1e-6, rtol: 1e-5, what: `param ${i}` }));
    // One update and one norm dispatch per parameter, plus the clip; grouped: ceil(count / group) of each.
    expect(out.each.dispatches).toBe(2 * count + 1);
    expect(out.multi.dispatches).toBe(Math.ceil(count / group) + 1 + Math.ceil(count / updateGroup));
  });

  test('clear errors: duplicate parameters, non-parameters, mismatched state', () => {
    const p = parameter(rt, [1], [1], 'w');
    expect(() => new AdamW([{ params: [p] }, { params: [p] }])).toThrow(/parameter w \[1\] is in two groups/);
    const x = fromArray(rt, [1], [1]);
    expect(() => new AdamW([x])).toThrow(/not an f32 parameter/);
    const opt = new AdamW([p]);
    expect(() => opt.load({ names: [], steps: [], m: [], v: [] })).toThrow(/state has 0 parameters, the optimizer 1/);
    expect(() => opt.step(Number.NaN)).toThrow(/learning rate NaN/);
    opt.dispose();
    p.dispose();
    x.dispose();
  });
});
