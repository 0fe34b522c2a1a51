/**
 * Float64 reference of the bidirectional, temporally weighted InfoNCE loss of PRTS
 * (DESIGN.md 4, paper Sec. 3.2 Eqs. 10-12, Appendix B Eq. 18), forward and analytic
 * backward. The WGSL kernels in shaders/infonce.wgsl are tested against it, and its
 * forward is what finite differences are taken of.
 *
 * It deliberately recomputes the weights and targets from (goalOf, t, T, gamma) on its
 * own rather than sharing the GPU op's preparation code, so a mistake there is caught.
 */

/** How L_sa->l is normalised: by the sum of the weights (default) or by the batch size (paper Eq. 11 read literally). */
export type SaLNormalization = 'weightSum' | 'batch';
/** How L_l->sa is averaged: over goals with at least one sample (default, DESIGN.md 4) or over sample anchors (paper Eq. 18). */
export type LSaReduction = 'goals' | 'samples';

export interface InfoNCERefInputs {
  /** [B, d] row-major sample embeddings. */
  phi: ArrayLike<number>;
  /** [G, d] row-major goal embeddings, one per unique goal. */
  psi: ArrayLike<number>;
  B: number;
  G: number;
  d: number;
  /** [B] index into psi of each sample's goal. */
  goalOf: ArrayLike<number>;
  /** [B] step index and episode length; steps-to-go is T - t. */
  t: ArrayLike<number>;
  T: ArrayLike<number>;
  gamma: number;
  /** s in logits = min(exp(s), maxScale) * phi psi^T. */
  logScale: number;
  maxScale?: number;
  saLNormalization?: SaLNormalization;
  lSaReduction?: LSaReduction;
}

export interface InfoNCERefForward {
  lossSaL: number;
  lossLSa: number;
  /** [B, G] logits. */
  logits: Float64Array;
  scale: number;
  clamped: boolean;
  /** Fraction of samples whose argmax goal (first index on ties) is their own. */
  accuracy: number;
  meanPositiveLogit: number;
  /** Mean over all (sample, other goal) pairs; 0 when G = 1 (there are no negatives). */
  meanNegativeLogit: number;
  temperature: number;
}

export interface InfoNCERefGrads {
  gPhi: Float64Array;
  gPsi: Float64Array;
  gLogScale: number;
}

export const DEFAULT_MAX_SCALE = 100;

function checkRef(x: InfoNCERefInputs): void {
  const { B, G, d } = x;
  if (!(B > 0 && G > 0 && d > 0)) throw new RangeError(`infoNCE reference: B, G, d must be positive, got ${B}, ${G}, ${d}`);
  if (x.phi.length !== B * d) throw new RangeError(`infoNCE reference: phi has ${x.phi.length} values, expected B*d = ${B * d}`);
  if (x.psi.length !== G * d) throw new RangeError(`infoNCE reference: psi has ${x.psi.length} values, expected G*d = ${G * d}`);
  for (let i = 0; i < B; i++) {
    const g = x.goalOf[i];
    if (!(Number.isInteger(g) && g >= 0 && g < G)) throw new RangeError(`infoNCE reference: goalOf[${i}] = ${g} is not in [0, ${G})`);
  }
}

/** Per-sample log-weights k_i log gamma and the logits; shared by forward and backward. */
function prepare(x: InfoNCERefInputs) {
  checkRef(x);
  const { B, G, d } = x;
  const maxScale = x.maxScale ?? DEFAULT_MAX_SCALE;
  const raw = Math.exp(x.logScale);
  const clamped = raw > maxScale;
  const scale = clamped ? maxScale : raw;
  const logits = new Float64Array(B * G);
  for (let i = 0; i < B; i++) {
    for (let g = 0; g < G; g++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x.phi[i * d + k] * x.psi[g * d + k];
      logits[i * G + g] = scale * s;
    }
  }
  const logGamma = Math.log(x.gamma);
  const logW = new Float64Array(B);
  for (let i = 0; i < B; i++) logW[i] = (x.T[i] - x.t[i]) * logGamma;
  // sa->l coefficient a_i: w_i / sum w (computed with the max log-weight subtracted,
  // so long episodes with gamma < 1 do not underflow) or w_i / B.
  const aSa = new Float64Array(B);
  if ((x.saLNormalization ?? 'weightSum') === 'weightSum') {
    const m = Math.max(...logW);
    let z = 0;
    for (let i = 0; i < B; i++) z += Math.exp(logW[i] - m);
    for (let i = 0; i < B; i++) aSa[i] = Math.exp(logW[i] - m) / z;
  } else {
    for (let i = 0; i < B; i++) aSa[i] = Math.exp(logW[i]) / B;
  }
  // Soft target of sample j in its own goal's column, and the goal coefficients c_g.
  const q = new Float64Array(B);
  const count = new Float64Array(G);
  const maxLogW = new Float64Array(G).fill(-Infinity);
  for (let i = 0; i < B; i++) {
    count[x.goalOf[i]]++;
    maxLogW[x.goalOf[i]] = Math.max(maxLogW[x.goalOf[i]], logW[i]);
  }
  const zg = new Float64Array(G);
  for (let i = 0; i < B; i++) zg[x.goalOf[i]] += Math.exp(logW[i] - maxLogW[x.goalOf[i]]);
  for (let i = 0; i < B; i++) q[i] = Math.exp(logW[i] - maxLogW[x.goalOf[i]]) / zg[x.goalOf[i]];
  const active = count.reduce((a, c) => a + (c > 0 ? 1 : 0), 0);
  const cG = new Float64Array(G);
  const bySamples = (x.lSaReduction ?? 'goals') === 'samples';
  for (let g = 0; g < G; g++) cG[g] = count[g] === 0 ? 0 : bySamples ? count[g] / B : 1 / active;
  return { B, G, d, scale, clamped, logits, aSa, q, cG };
}

function logSumExp(get: (k: number) => number, n: number): number {
  let m = -Infinity;
  for (let k = 0; k < n; k++) m = Math.max(m, get(k));
  let s = 0;
  for (let k = 0; k < n; k++) s += Math.exp(get(k) - m);
  return m + Math.log(s);
}

export function infoNCEForwardRef(x: InfoNCERefInputs): InfoNCERefForward {
  const { B, G, scale, clamped, logits, aSa, q, cG } = prepare(x);
  let lossSaL = 0;
  let correct = 0;
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < B; i++) {
    const gi = x.goalOf[i];
    const lse = logSumExp((g) => logits[i * G + g], G);
    lossSaL += aSa[i] * (lse - logits[i * G + gi]);
    let arg = 0;
    for (let g = 1; g < G; g++) if (logits[i * G + g] > logits[i * G + arg]) arg = g;
    if (arg === gi) correct++;
    for (let g = 0; g < G; g++) {
      if (g === gi) pos += logits[i * G + g];
      else neg += logits[i * G + g];
    }
  }
  let lossLSa = 0;
  for (let g = 0; g < G; g++) {
    if (cG[g] === 0) continue;
    const lse = logSumExp((i) => logits[i * G + g], B);
    let ce = 0;
    for (let i = 0; i < B; i++) if (x.goalOf[i] === g) ce += q[i] * (lse - logits[i * G + g]);
    lossLSa += cG[g] * ce;
  }
  return {
    lossSaL,
    lossLSa,
    logits,
    scale,
    clamped,
    accuracy: correct / B,
    meanPositiveLogit: pos / B,
    meanNegativeLogit: G > 1 ? neg / (B * (G - 1)) : 0,
    temperature: 1 / scale,
  };
}

/**
 * Gradients of gSaL * L_sa->l + gLSa * L_l->sa. With logits Z = c S (S = phi psi^T,
 * c = exp(s) unless clamped):
 *   dZ_ig = gSaL a_i (softmax_g(Z_i.)_g - [g = goal_i]) + gLSa c_g (softmax_i(Z_.g)_i - q_i [g = goal_i])
 *   dphi = c dZ psi,  dpsi = c dZ^T phi,  ds = sum(dZ * Z) (0 when clamped: the clamp is flat there).
 */
export function infoNCEBackwardRef(x: InfoNCERefInputs, gSaL: number, gLSa: number): InfoNCERefGrads {
  const { B, G, d, scale, clamped, logits, aSa, q, cG } = prepare(x);
  const dZ = new Float64Array(B * G);
  for (let i = 0; i < B; i++) {
    const lse = logSumExp((g) => logits[i * G + g], G);
    for (let g = 0; g < G; g++) {
      dZ[i * G + g] = gSaL * aSa[i] * (Math.exp(logits[i * G + g] - lse) - (g === x.goalOf[i] ? 1 : 0));
    }
  }
  for (let g = 0; g < G; g++) {
    if (cG[g] === 0) continue;
    const lse = logSumExp((i) => logits[i * G + g], B);
    for (let i = 0; i < B; i++) {
      dZ[i * G + g] += gLSa * cG[g] * (Math.exp(logits[i * G + g] - lse) - (x.goalOf[i] === g ? q[i] : 0));
    }
  }
  const gPhi = new Float64Array(B * d);
  const gPsi = new Float64Array(G * d);
  let gLogScale = 0;
  for (let i = 0; i < B; i++) {
    for (let g = 0; g < G; g++) {
      const v = dZ[i * G + g];
      gLogScale += v * logits[i * G + g];
      for (let k = 0; k < d; k++) {
        gPhi[i * d + k] += scale * v * x.psi[g * d + k];
        gPsi[g * d + k] += scale * v * x.phi[i * d + k];
      }
    }
  }
  return { gPhi, gPsi, gLogScale: clamped ? 0 : gLogScale };
}
