/**
 * PRTS Theorem 1 (paper Sec. 3.2, proof in Appendix B): minimising L_l->sa for a goal l
 * over free representations gives psi(l)^T phi(s_j, a_j) = (T_j - t_j) log gamma + C(l),
 * i.e. the softmax of the goal's column equals the soft targets q_j ∝ gamma^(T_j - t_j).
 * The quantity is the logit, the inner product inside the softmax (scale included), and
 * the theorem puts no constraint on the embeddings. We optimise free embeddings with
 * Adam (written here; the engine's AdamW is a separate op) and fit the slope of logit
 * differences against steps-to-go differences over all sample pairs.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { Scope, parameter } from '../../../src/engine/tensor';
import { backward, zeroGrad } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { infoNCE } from '../../../src/engine/ops/infonce';
import { infoNCEBackwardRef, infoNCEForwardRef, type InfoNCERefInputs } from '../../../src/engine/reference/infonce';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

// Four samples from each of three episodes of different lengths: steps-to-go 1 to 50,
// with equal steps-to-go never repeated so every pair constrains the slope.
const T = [20, 20, 20, 20, 35, 35, 35, 35, 50, 50, 50, 50];
const t = [19, 15, 10, 2, 33, 20, 12, 0, 48, 40, 25, 5];
const B = T.length;
const d = 4;
const togo = T.map((T_, j) => T_ - t[j]);

/** Least-squares slope through the origin of (z_j - z_k) against (k_j - k_k) over all pairs. */
function pairSlope(logits: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let j = 0; j < B; j++) {
    for (let k = j + 1; k < B; k++) {
      const dk = togo[j] - togo[k];
      num += (logits[j] - logits[k]) * dk;
      den += dk * dk;
    }
  }
  return num / den;
}

/** Entropy of q_j ∝ gamma^(T_j - t_j): the value of L_l->sa at the theorem's optimum (p = q). */
function targetEntropy(gamma: number): number {
  const w = togo.map((k) => gamma ** k);
  const z = w.reduce((a, b) => a + b, 0);
  return -w.reduce((a, wj) => a + (wj / z) * Math.log(wj / z), 0);
}

class Adam {
  private m: Float64Array[];
  private v: Float64Array[];
  private step = 0;
  constructor(
    private params: { length: number; [i: number]: number }[],
    private lr: number,
  ) {
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }
  update(grads: ArrayLike<number>[]): void {
    this.step++;
    const c1 = 1 - 0.9 ** this.step;
    const c2 = 1 - 0.999 ** this.step;
    this.params.forEach((p, k) => {
      for (let i = 0; i < p.length; i++) {
        const g = grads[k][i];
        this.m[k][i] = 0.9 * this.m[k][i] + 0.1 * g;
        this.v[k][i] = 0.999 * this.v[k][i] + 0.001 * g * g;
        p[i] -= (this.lr * this.m[k][i]) / c1 / (Math.sqrt(this.v[k][i] / c2) + 1e-8);
      }
    });
  }
}

function batch(phi: Float64Array, psi: Float64Array, gamma: number, logScale: number, maxScale = 100): InfoNCERefInputs {
  return { phi, psi, B, G: 1, d, goalOf: new Array(B).fill(0), t, T, gamma, logScale, maxScale };
}

function l2rows(x: Float64Array, rows: number): { y: Float64Array; n: Float64Array } {
  const y = new Float64Array(x.length);
  const n = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += x[r * d + k] ** 2;
    n[r] = Math.sqrt(s);
    for (let k = 0; k < d; k++) y[r * d + k] = x[r * d + k] / n[r];
  }
  return { y, n };
}

/** Backward of y = x / |x| per row: (g - (g.y) y) / |x|. */
function l2rowsBackward(g: Float64Array, y: Float64Array, n: Float64Array, rows: number): Float64Array {
  const out = new Float64Array(g.length);
  for (let r = 0; r < rows; r++) {
    let gy = 0;
    for (let k = 0; k < d; k++) gy += g[r * d + k] * y[r * d + k];
    for (let k = 0; k < d; k++) out[r * d + k] = (g[r * d + k] - gy * y[r * d + k]) / n[r];
  }
  return out;
}

describe('Theorem 1: L_l->sa drives logit differences to (steps-to-go difference) * log(gamma)', () => {
  for (const gamma of [0.9, 0.99]) {
    test(`free (unnormalised) embeddings, float64 reference, gamma = ${gamma}`, () => {
      const rng = new Rng(1);
      const phi = Float64Array.from({ length: B * d }, () => 0.3 * rng.normal());
      const psi = Float64Array.from({ length: d }, () => 0.3 * rng.normal());
      const slope0 = pairSlope(infoNCEForwardRef(batch(phi, psi, gamma, 0)).logits);
      const opt = new Adam([phi, psi], 0.05);
      for (let s = 0; s < 400; s++) {
        const g = infoNCEBackwardRef(batch(phi, psi, gamma, 0), 0, 1);
        opt.update([g.gPhi, g.gPsi]);
      }
      const f = infoNCEForwardRef(batch(phi, psi, gamma, 0));
      const slope = pairSlope(f.logits);
      expect(Math.abs(slope0 / Math.log(gamma) - 1), 'the random start is far from the optimum').toBeGreaterThan(0.3);
      expect(Math.abs(slope / Math.log(gamma) - 1)).toBeLessThan(0.05);
      // The optimum is p = q exactly, where the cross-entropy equals the entropy of q.
      expect(f.lossLSa).toBeCloseTo(targetEntropy(gamma), 6);
    });
  }

  test('L2-normalised embeddings with a learnable scale reach it while the log-weight spread fits in 2 * scale', () => {
    // What the CRL heads do: phi = u / |u|, psi = v / |v|, logits = exp(s) cos. The logits
    // then live in [-exp(s), exp(s)], and with gamma = 0.9 the targets span
    // 49 * |log 0.9| = 5.2, so the optimum needs exp(s) >= 2.6 (clamped at 100 here).
    const run = (maxScale: number) => {
      const rng = new Rng(2);
      const u = Float64Array.from({ length: B * d }, () => rng.normal());
      const v = Float64Array.from({ length: d }, () => rng.normal());
      const s = Float64Array.from([Math.log(5)]);
      const opt = new Adam([u, v, s], 0.05);
      const forward = () => {
        const a = l2rows(u, B);
        const b = l2rows(v, 1);
        return { a, b, x: batch(a.y, b.y, 0.9, s[0], maxScale) };
      };
      for (let k = 0; k < 800; k++) {
        const { a, b, x } = forward();
        const g = infoNCEBackwardRef(x, 0, 1);
        opt.update([l2rowsBackward(g.gPhi, a.y, a.n, B), l2rowsBackward(g.gPsi, b.y, b.n, 1), [g.gLogScale]]);
      }
      return pairSlope(infoNCEForwardRef(forward().x).logits) / Math.log(0.9);
    };
    expect(Math.abs(run(100) - 1)).toBeLessThan(0.05);
    // With the scale clamped at 2 the logits span at most 4 < 5.2: the optimum is out of reach.
    expect(run(2)).toBeLessThan(0.95);
  });

  test('the GPU op reaches it too (free embeddings, gamma = 0.9, fewer steps)', async () => {
    const gamma = 0.9;
    const rng = new Rng(1);
    const phiHost = Float32Array.from({ length: B * d }, () => 0.3 * rng.normal());
    const psiHost = Float32Array.from({ length: d }, () => 0.3 * rng.normal());
    const phi = parameter(rt, phiHost, [B, d], 'phi');
    const psi = parameter(rt, psiHost, [1, d], 'psi');
    const opt = new Adam([phiHost, psiHost], 0.05);
    const opts = { goalOf: new Array(B).fill(0), t, T, gamma, logScale: 0 };
    try {
      for (let k = 0; k < 150; k++) {
        const scope = new Scope();
        const [gPhi, gPsi] = await scope.run(async () => {
          backward(infoNCE(phi, psi, opts).lossLSa);
          return [await phi.grad!.read(), await psi.grad!.read()];
        });
        scope.dispose();
        zeroGrad([phi, psi]);
        opt.update([gPhi, gPsi]);
        rt.write(phi.buffer, phiHost);
        rt.write(psi.buffer, psiHost);
      }
      const scope = new Scope();
      const logits = await scope.run(async () => infoNCE(phi, psi, opts).logits.read());
      scope.dispose();
      expect(Math.abs(pairSlope(logits) / Math.log(gamma) - 1)).toBeLessThan(0.05);
    } finally {
      phi.dispose();
      psi.dispose();
    }
  });
});
