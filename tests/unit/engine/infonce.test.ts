import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { Scope, Tensor, fromArray, parameter } from '../../../src/engine/tensor';
import { backward, zeroGrad } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { infoNCE, readInfoNCEDiagnostics, uniqueGoals, type InfoNCEOptions } from '../../../src/engine/ops/infonce';
import { infoNCEBackwardRef, infoNCEForwardRef, type InfoNCERefInputs } from '../../../src/engine/reference/infonce';
import { expectClose, numericGrad, randInt, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

function normalizedRows(rng: Rng, rows: number, d: number): Float32Array {
  const x = randn(rng, rows * d);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let k = 0; k < d; k++) n += x[r * d + k] ** 2;
    n = Math.sqrt(n);
    for (let k = 0; k < d; k++) x[r * d + k] /= n;
  }
  return x;
}

type Case = InfoNCERefInputs & { phi: Float32Array; psi: Float32Array; goalOf: Int32Array; t: Int32Array; T: Int32Array };

/** Random batch; goalOf draws from the first `usedGoals` rows so the rest have no samples. */
function makeCase(seed: number, B: number, G: number, d: number, extra: Partial<InfoNCERefInputs> = {}, usedGoals = G): Case {
  const rng = new Rng(seed);
  const T = new Int32Array(B);
  const t = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    T[i] = 5 + rng.int(60);
    t[i] = rng.int(T[i]);
  }
  return {
    phi: normalizedRows(rng, B, d),
    psi: normalizedRows(rng, G, d),
    B,
    G,
    d,
    goalOf: randInt(rng, B, usedGoals),
    t,
    T,
    gamma: 0.95,
    logScale: Math.log(1 / 0.2),
    ...extra,
  } as Case;
}

interface GpuRun {
  lossSaL: number;
  lossLSa: number;
  loss: number;
  logits: Float32Array;
  diag: Awaited<ReturnType<typeof readInfoNCEDiagnostics>>;
  gPhi?: Float32Array;
  gPsi?: Float32Array;
  gS?: number;
}

/** Runs the op; with `grad`, backpropagates `which` and reads the three gradients. */
async function runGpu(c: Case, opts: Partial<InfoNCEOptions> = {}, grad?: 'loss' | 'lossSaL' | 'lossLSa'): Promise<GpuRun> {
  const scope = new Scope();
  const phi = parameter(rt, c.phi, [c.B, c.d], 'phi');
  const psi = parameter(rt, c.psi, [c.G, c.d], 'psi');
  const s = parameter(rt, [c.logScale], [1], 's');
  try {
    return await scope.run(async () => {
      const out = infoNCE(phi, psi, {
        goalOf: c.goalOf,
        t: c.t,
        T: c.T,
        gamma: c.gamma,
        logScale: s,
        maxScale: c.maxScale,
        saLNormalization: c.saLNormalization,
        lSaReduction: c.lSaReduction,
        ...opts,
      });
      const r: GpuRun = {
        lossSaL: await out.lossSaL.item(),
        lossLSa: await out.lossLSa.item(),
        loss: await out.loss.item(),
        logits: (await out.logits.read()) as Float32Array,
        diag: await readInfoNCEDiagnostics(out.diagnostics),
      };
      if (grad) {
        backward(out[grad]);
        r.gPhi = (await phi.grad!.read()) as Float32Array;
        r.gPsi = (await psi.grad!.read()) as Float32Array;
        r.gS = await s.grad!.item();
      }
      return r;
    });
  } finally {
    scope.dispose();
    zeroGrad([phi, psi, s]);
    for (const p of [phi, psi, s]) p.dispose();
  }
}

function compareForward(r: GpuRun, c: Case): void {
  const ref = infoNCEForwardRef(c);
  expectClose(r.logits, ref.logits, { atol: 2e-5, rtol: 1e-5, what: 'logits' });
  expectClose([r.lossSaL], [ref.lossSaL], { atol: 1e-5, rtol: 1e-5, what: 'L_sa->l' });
  expectClose([r.lossLSa], [ref.lossLSa], { atol: 1e-5, rtol: 1e-5, what: 'L_l->sa' });
  expect(r.diag.accuracy, 'accuracy').toBeCloseTo(ref.accuracy, 6);
  expectClose([r.diag.meanPositiveLogit, r.diag.meanNegativeLogit, r.diag.temperature], [ref.meanPositiveLogit, ref.meanNegativeLogit, ref.temperature], {
    atol: 1e-5,
    rtol: 1e-5,
    what: 'diagnostics',
  });
  expect(r.diag.clamped).toBe(ref.clamped);
}

/** Central differences of the float64 reference loss gSa L_sa->l + gLSa L_l->sa. */
function numericGrads(c: Case, gSa: number, gLSa: number) {
  const f = ([phi, psi, s]: Float64Array[]) => {
    const r = infoNCEForwardRef({ ...c, phi, psi, logScale: s[0] });
    return [gSa * r.lossSaL + gLSa * r.lossLSa];
  };
  const [gPhi, gPsi, gS] = numericGrad(f, [c.phi, c.psi, [c.logScale]], [1], [0, 1, 2], 1e-6);
  return { gPhi, gPsi, gS: gS[0] };
}

describe('infoNCE forward matches the float64 reference', () => {
  const shapes: [string, number, number, number, Partial<InfoNCERefInputs>, number?][] = [
    ['odd sizes, unused goals', 37, 9, 19, {}, 6],
    ['across 64-wide tiles', 70, 67, 33, { gamma: 0.99 }],
    ['one sample, one goal', 1, 1, 3, {}],
    ['paper normalisations', 45, 7, 40, { saLNormalization: 'batch', lSaReduction: 'samples', gamma: 0.9 }],
    ['long episodes, gamma 0.5', 23, 4, 8, { gamma: 0.5 }],
  ];
  for (const [name, B, G, d, extra, used] of shapes) {
    test(`${name}: B=${B} G=${G} d=${d}`, async () => {
      const c = makeCase(B * 1000 + G, B, G, d, extra, used);
      compareForward(await runGpu(c), c);
    });
  }
});

describe('infoNCE backward', () => {
  test('the float64 analytic backward equals central differences of the forward', () => {
    const c = makeCase(11, 13, 5, 6, { gamma: 0.9 }, 4);
    for (const [gSa, gLSa] of [[1, 0], [0, 1], [0.7, 1.3]]) {
      const num = numericGrads(c, gSa, gLSa);
      const ana = infoNCEBackwardRef(c, gSa, gLSa);
      expectClose(ana.gPhi, num.gPhi, { atol: 1e-8, rtol: 1e-6, what: `ref dphi (${gSa}, ${gLSa})` });
      expectClose(ana.gPsi, num.gPsi, { atol: 1e-8, rtol: 1e-6, what: `ref dpsi (${gSa}, ${gLSa})` });
      expectClose([ana.gLogScale], [num.gS], { atol: 1e-8, rtol: 1e-6, what: `ref ds (${gSa}, ${gLSa})` });
    }
  });

  const cases: [string, number, number, number, Partial<InfoNCERefInputs>, number?][] = [
    ['odd sizes, unused goal', 21, 6, 11, {}, 5],
    ['across tiles', 67, 66, 5, { gamma: 0.9 }],
    ['paper normalisations', 30, 4, 9, { saLNormalization: 'batch', lSaReduction: 'samples' }],
  ];
  for (const [name, B, G, d, extra, used] of cases) {
    test(`GPU gradients of phi, psi, s vs finite differences: ${name}`, async () => {
      const c = makeCase(B + 7 * G, B, G, d, extra, used);
      const weights = { saL: 0.7, lSa: 1.3 };
      const r = await runGpu(c, { weights }, 'loss');
      expect(r.loss).toBeCloseTo(0.7 * r.lossSaL + 1.3 * r.lossLSa, 5);
      const num = numericGrads(c, weights.saL, weights.lSa);
      expectClose(r.gPhi!, num.gPhi, { atol: 2e-5, rtol: 1e-3, what: 'dphi' });
      expectClose(r.gPsi!, num.gPsi, { atol: 2e-5, rtol: 1e-3, what: 'dpsi' });
      expectClose([r.gS!], [num.gS], { atol: 2e-5, rtol: 1e-3, what: 'ds' });
    });
  }

  test('each loss backpropagates on its own', async () => {
    const c = makeCase(5, 19, 4, 7, {}, 4);
    for (const which of ['lossSaL', 'lossLSa'] as const) {
      const r = await runGpu(c, {}, which);
      const ref = infoNCEBackwardRef(c, which === 'lossSaL' ? 1 : 0, which === 'lossLSa' ? 1 : 0);
      expectClose(r.gPhi!, ref.gPhi, { atol: 2e-5, rtol: 1e-3, what: `${which} dphi` });
      expectClose(r.gPsi!, ref.gPsi, { atol: 2e-5, rtol: 1e-3, what: `${which} dpsi` });
      expectClose([r.gS!], [ref.gLogScale], { atol: 2e-5, rtol: 1e-3, what: `${which} ds` });
    }
  });
});

describe('infoNCE properties', () => {
  /** -log softmax(z)[k] computed directly. */
  const ce = (z: number[], k: number) => {
    const m = Math.max(...z);
    return m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0)) - z[k];
  };
  const dot = (a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, d: number) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += a[ai * d + k] * b[bi * d + k];
    return s;
  };

  test('samples of the same task share one psi row, which is never their negative', async () => {
    const rng = new Rng(3);
    const d = 6;
    const tasks = ['pick', 'stack', 'pick', 'open', 'stack', 'pick'];
    const { goalOf, firstSample, G } = uniqueGoals(tasks);
    expect(G).toBe(3);
    expect(Array.from(goalOf)).toEqual([0, 1, 0, 2, 1, 0]);
    expect(Array.from(firstSample)).toEqual([0, 1, 3]);
    const B = tasks.length;
    const phi = normalizedRows(rng, B, d);
    // psi as a CRL head would produce it: one embedding per sample's instruction, equal for equal tasks.
    const psiOfTask = new Map(['pick', 'stack', 'open'].map((k) => [k, normalizedRows(rng, 1, d)]));
    const psiPerSample = new Float32Array(B * d);
    tasks.forEach((k, i) => psiPerSample.set(psiOfTask.get(k)!, i * d));
    const psi = new Float32Array(G * d);
    firstSample.forEach((i, g) => psi.set(psiPerSample.subarray(i * d, (i + 1) * d), g * d));
    const c: Case = { phi, psi, B, G, d, goalOf, t: new Int32Array(B).fill(0), T: new Int32Array(B).fill(1), gamma: 1, logScale: 2 };
    const r = await runGpu(c);
    const scale = Math.exp(2);
    // Direct sa->l: each sample's softmax runs over the three distinct instructions.
    let want = 0;
    for (let i = 0; i < B; i++) want += ce([0, 1, 2].map((g) => scale * dot(phi, i, psi, g, d)), goalOf[i]) / B;
    expect(r.lossSaL).toBeCloseTo(want, 5);
    // Without deduplication (one psi row per sample) a task's own copies become negatives and the loss differs.
    let naive = 0;
    for (let i = 0; i < B; i++) naive += ce([...Array(B).keys()].map((j) => scale * dot(phi, i, psiPerSample, j, d)), i) / B;
    expect(naive - want).toBeGreaterThan(0.1);
  });

  test('gamma = 1 with equal t, T reduces both directions to standard InfoNCE', async () => {
    const B = 24;
    const G = 5;
    const d = 12;
    const c = makeCase(21, B, G, d, { gamma: 1 });
    c.t.fill(3);
    c.T.fill(10);
    const r = await runGpu(c);
    const scale = 1 / 0.2;
    const z = (i: number, g: number) => scale * dot(c.phi, i, c.psi, g, d);
    let sa = 0;
    for (let i = 0; i < B; i++) sa += ce([...Array(G).keys()].map((g) => z(i, g)), c.goalOf[i]) / B;
    // l->sa: each goal's column softmax over all samples, uniform soft targets over its own samples.
    const goals = [...new Set(c.goalOf)];
    let ls = 0;
    for (const g of goals) {
      const col = [...Array(B).keys()].map((i) => z(i, g));
      const own = [...Array(B).keys()].filter((i) => c.goalOf[i] === g);
      for (const i of own) ls += ce(col, i) / own.length / goals.length;
    }
    expect(r.lossSaL).toBeCloseTo(sa, 5);
    expect(r.lossLSa).toBeCloseTo(ls, 5);
  });

  test('the scale is clamped at maxScale and then s gets no gradient', async () => {
    const c = makeCase(8, 17, 4, 5, { logScale: Math.log(250), maxScale: 100 });
    const r = await runGpu(c, {}, 'loss');
    expect(r.diag.clamped).toBe(true);
    expect(r.diag.temperature).toBeCloseTo(0.01, 7);
    compareForward(r, c);
    expect(r.gS).toBe(0);
    const ref = infoNCEBackwardRef(c, 1, 1);
    expectClose(r.gPhi!, ref.gPhi, { atol: 1e-4, rtol: 1e-3, what: 'dphi at the clamp' });
    expectClose(r.gPsi!, ref.gPsi, { atol: 1e-4, rtol: 1e-3, what: 'dpsi at the clamp' });
    // Just below the clamp the scale is live and s has a gradient.
    const below = { ...c, logScale: Math.log(90) };
    const rb = await runGpu(below, {}, 'loss');
    expect(rb.diag.clamped).toBe(false);
    const refB = infoNCEBackwardRef(below, 1, 1);
    expect(Math.abs(refB.gLogScale)).toBeGreaterThan(1e-3);
    expectClose([rb.gS!], [refB.gLogScale], { atol: 1e-4, rtol: 1e-3, what: 'ds below the clamp' });
  });

  test('forward and backward are bit-identical run to run', async () => {
    const c = makeCase(99, 150, 40, 48, { gamma: 0.99 }, 33);
    const a = await runGpu(c, {}, 'loss');
    const b = await runGpu(c, {}, 'loss');
    const bits = (x: ArrayLike<number>) => new Uint32Array(Float32Array.from(x).buffer);
    expect(bits([a.loss, a.lossSaL, a.lossLSa, a.gS!])).toEqual(bits([b.loss, b.lossSaL, b.lossLSa, b.gS!]));
    expect(bits(a.logits)).toEqual(bits(b.logits));
    expect(bits(a.gPhi!)).toEqual(bits(b.gPhi!));
    expect(bits(a.gPsi!)).toEqual(bits(b.gPsi!));
  });

  test('backward after the forward scope was disposed fails instead of reading recycled buffers', () => {
    const c = makeCase(4, 6, 2, 3);
    const phi = parameter(rt, c.phi, [c.B, c.d], 'phi');
    const psi = parameter(rt, c.psi, [c.G, c.d], 'psi');
    const scope = new Scope();
    const out = scope.run(() => infoNCE(phi, psi, { goalOf: c.goalOf, t: c.t, T: c.T, gamma: c.gamma, logScale: c.logScale }));
    scope.dispose();
    expect(() => backward(out.loss)).toThrow(/infoNCE backward.*already disposed/);
    zeroGrad([phi, psi]);
    phi.dispose();
    psi.dispose();
  });

  test('bad arguments fail with a message naming the argument', () => {
    const scope = new Scope();
    scope.run(() => {
      const phi = fromArray(rt, new Float32Array(12), [4, 3]);
      const psi = fromArray(rt, new Float32Array(6), [2, 3]);
      const base: InfoNCEOptions = { goalOf: [0, 1, 1, 0], t: [0, 1, 2, 3], T: [4, 4, 4, 4], gamma: 0.9, logScale: 1 };
      const call = (o: Partial<InfoNCEOptions>, a: Tensor = phi, b: Tensor = psi) => () => infoNCE(a, b, { ...base, ...o });
      expect(call({ goalOf: [0, 2, 1, 0] })).toThrow(/goalOf\[1\] = 2 is out of range; psi has G = 2/);
      expect(call({ goalOf: [0, -1, 1, 0] })).toThrow(/goalOf\[1\] = -1/);
      expect(call({ goalOf: [0, 1] })).toThrow(/goalOf has 2 entries, expected one per sample \(B = 4\)/);
      expect(call({ gamma: 0 })).toThrow(/gamma must be in \(0, 1\], got 0/);
      expect(call({ gamma: 1.5 })).toThrow(/gamma/);
      expect(call({ t: [0, 1, 5, 3] })).toThrow(/sample 2 has t = 5, T = 4/);
      expect(call({ maxScale: -1 })).toThrow(/maxScale/);
      expect(call({}, phi, fromArray(rt, new Float32Array(8), [2, 4]))).toThrow(/embedding sizes differ/);
      expect(call({}, fromArray(rt, [], [0, 3]))).toThrow(/phi has no rows.*B must be > 0/);
      expect(call({}, phi, fromArray(rt, [], [0, 3]))).toThrow(/psi has no rows.*G must be > 0/);
      expect(call({ logScale: fromArray(rt, [1, 2], [2]) })).toThrow(/logScale must be an f32 tensor with one element/);
      // A goal row with no samples is fine: it is a negative for sa->l and left out of l->sa.
      expect(call({ goalOf: [0, 0, 0, 0] })).not.toThrow();
    });
    scope.dispose();
  });
});
