/**
 * Bidirectional, temporally weighted InfoNCE (PRTS Sec. 3.2, DESIGN.md 4) on the GPU.
 *
 * Inputs are already L2-normalised embeddings: phi [B, d] per sample and psi [G, d] per
 * unique goal (goals deduplicated by task id, so a goal is never a negative of itself).
 * With logits Z = min(exp(s), maxScale) * phi psi^T and w_i = gamma^(T_i - t_i):
 *   L_sa->l = sum_i a_i CE_g(Z[i,:], goal_i),  a_i = w_i / sum_j w_j   (or w_i / B)
 *   L_l->sa = sum_g c_g CE_i(Z[:,g], q_g),     q_gj = w_j / sum_{k in S(g)} w_k on S(g), 0 elsewhere
 *                                              c_g = 1 / #{goals with samples}  (or |S(g)| / B)
 *
 * The per-sample weights and targets depend only on integers known on the CPU (goalOf,
 * t, T), so they are computed here in float64 (with the per-goal maximum factored out,
 * so long episodes with gamma < 1 never underflow) and uploaded in one small buffer;
 * everything of size B x G or B x d runs in WGSL with fixed-order reductions, so a
 * forward and backward are bit-reproducible.
 *
 * Normalisation defaults follow DESIGN.md, not the paper's literal formulas, and both
 * paper readings stay available. Eq. 11 is E_i[w_i CE_i] (divide by B): its magnitude
 * is mean(w) * CE, which drifts with the episode lengths sampled into each batch and so
 * silently rescales lambda_crl; sum w CE / sum w has the same gradient direction, stays
 * on the cross-entropy scale (log G at chance) and equals plain CE at gamma = 1. Eq. 18
 * averages l->sa over sample anchors, so a task with many samples in the batch counts
 * that many times; DESIGN.md averages over unique goals.
 *
 * Gradients: three differentiable outputs share one forward. `loss` = wSaL L_sa->l +
 * wLSa L_l->sa is the one to backpropagate for training (a single backward pass);
 * `lossSaL` and `lossLSa` are also recorded on their own (useful for ablations and the
 * Theorem 1 check), but backpropagating both of them costs two backward passes.
 */
import MATMUL_WGSL from '../../../shaders/infonce.wgsl?raw';
import ROWS_WGSL from '../../../shaders/infonce_rows.wgsl?raw';
import COLS_WGSL from '../../../shaders/infonce_cols.wgsl?raw';
import REDUCE_WGSL from '../../../shaders/infonce_reduce.wgsl?raw';
import DLOGITS_WGSL from '../../../shaders/infonce_dlogits.wgsl?raw';
import DSCALE_WGSL from '../../../shaders/infonce_dscale.wgsl?raw';
import { grid1d, record } from '../autograd';
import type { Runtime } from '../runtime';
import { Tensor, fromArray, shapeStr } from '../tensor';

export type SaLNormalization = 'weightSum' | 'batch';
export type LSaReduction = 'goals' | 'samples';

export interface InfoNCEOptions {
  /** [B] index of each sample's goal row in psi. */
  goalOf: ArrayLike<number>;
  /** [B] step index of each sample within its episode. */
  t: ArrayLike<number>;
  /** [B] episode length of each sample; steps-to-go is T - t (must be >= 0). */
  T: ArrayLike<number>;
  /** Discount in (0, 1] (paper 0.995, PRTS code 0.99). */
  gamma: number;
  /** s, a [1] tensor (learnable; a parameter) or a fixed number. PRTS starts at log(1 / 0.2). */
  logScale: Tensor | number;
  /** Upper bound on exp(s); above it the scale is clamped and s gets no gradient. Default 100. */
  maxScale?: number;
  /** Coefficients of `loss` = saL * L_sa->l + lSa * L_l->sa. Default 1 and 1. */
  weights?: { saL?: number; lSa?: number };
  /** 'weightSum' (default): sum w CE / sum w. 'batch': sum w CE / B (paper Eq. 11 read literally). */
  saLNormalization?: SaLNormalization;
  /** 'goals' (default, DESIGN.md 4): mean over goals with samples. 'samples': each goal weighted by |S(g)| / B (paper Eq. 18). */
  lSaReduction?: LSaReduction;
}

export interface InfoNCEOutput {
  /** [1] weights.saL * lossSaL + weights.lSa * lossLSa; differentiable. */
  loss: Tensor;
  /** [1] L_sa->l; differentiable. */
  lossSaL: Tensor;
  /** [1] L_l->sa; differentiable. */
  lossLSa: Tensor;
  /** [5] not differentiable; layout in INFONCE_DIAGNOSTICS. */
  diagnostics: Tensor;
  /** [B, G] logits (scale * cosine); not differentiable. logits / scale is the CRL value. */
  logits: Tensor;
}

/** Slot of each diagnostic in InfoNCEOutput.diagnostics. */
export const INFONCE_DIAGNOSTICS = {
  /** Fraction of samples whose highest-scoring goal is their own (first index on ties). */
  accuracy: 0,
  /** Mean over samples of the logit of their own goal. */
  meanPositiveLogit: 1,
  /** Mean over (sample, other goal) pairs; 0 when G = 1 since there are no negatives. */
  meanNegativeLogit: 2,
  /** 1 / min(exp(s), maxScale). */
  temperature: 3,
  /** 1 when exp(s) > maxScale (the scale is clamped and s receives no gradient). */
  clamped: 4,
} as const;

export interface InfoNCEDiagnostics {
  accuracy: number;
  meanPositiveLogit: number;
  meanNegativeLogit: number;
  temperature: number;
  clamped: boolean;
}

export async function readInfoNCEDiagnostics(diagnostics: Tensor): Promise<InfoNCEDiagnostics> {
  const v = await diagnostics.read();
  const D = INFONCE_DIAGNOSTICS;
  return {
    accuracy: v[D.accuracy],
    meanPositiveLogit: v[D.meanPositiveLogit],
    meanNegativeLogit: v[D.meanNegativeLogit],
    temperature: v[D.temperature],
    clamped: v[D.clamped] !== 0,
  };
}

export const DEFAULT_MAX_SCALE = 100;

/** Per-sample/per-goal coefficients, packed as the kernels read them:
 * u32 [goalOf (B) | a_i as f32 bits (B) | q_i as f32 bits (B) | c_g as f32 bits (G)]. */
export function infoNCETargets(
  B: number,
  G: number,
  opts: Pick<InfoNCEOptions, 'goalOf' | 't' | 'T' | 'gamma' | 'saLNormalization' | 'lSaReduction'>,
): { info: Uint32Array; activeGoals: number } {
  const { goalOf, t, T, gamma } = opts;
  for (const [name, arr] of [['goalOf', goalOf], ['t', t], ['T', T]] as const) {
    if (arr.length !== B) throw new RangeError(`infoNCE: ${name} has ${arr.length} entries, expected one per sample (B = ${B})`);
  }
  if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`infoNCE: gamma must be in (0, 1], got ${gamma}`);
  const saNorm = opts.saLNormalization ?? 'weightSum';
  if (saNorm !== 'weightSum' && saNorm !== 'batch') throw new RangeError(`infoNCE: saLNormalization must be 'weightSum' or 'batch', got '${saNorm}'`);
  const lsaRed = opts.lSaReduction ?? 'goals';
  if (lsaRed !== 'goals' && lsaRed !== 'samples') throw new RangeError(`infoNCE: lSaReduction must be 'goals' or 'samples', got '${lsaRed}'`);

  const logGamma = Math.log(gamma);
  const logW = new Float64Array(B);
  const count = new Float64Array(G);
  const maxLogW = new Float64Array(G).fill(-Infinity);
  let maxAll = -Infinity;
  for (let i = 0; i < B; i++) {
    const g = goalOf[i];
    if (!Number.isInteger(g) || g < 0 || g >= G) {
      throw new RangeError(`infoNCE: goalOf[${i}] = ${g} is out of range; psi has G = ${G} goal rows`);
    }
    const togo = T[i] - t[i];
    if (!Number.isFinite(t[i]) || !Number.isFinite(T[i]) || !(togo >= 0)) {
      throw new RangeError(`infoNCE: sample ${i} has t = ${t[i]}, T = ${T[i]}; steps-to-go T - t must be a finite number >= 0`);
    }
    // gamma = 1 gives 0 * log(1) = 0 even for huge T - t: uniform weights, as intended.
    logW[i] = togo * logGamma;
    count[g]++;
    if (logW[i] > maxLogW[g]) maxLogW[g] = logW[i];
    if (logW[i] > maxAll) maxAll = logW[i];
  }
  const a = new Float32Array(B);
  if (saNorm === 'weightSum') {
    let z = 0;
    for (let i = 0; i < B; i++) z += Math.exp(logW[i] - maxAll);
    for (let i = 0; i < B; i++) a[i] = Math.exp(logW[i] - maxAll) / z;
  } else {
    for (let i = 0; i < B; i++) a[i] = Math.exp(logW[i]) / B;
  }
  const zg = new Float64Array(G);
  for (let i = 0; i < B; i++) zg[goalOf[i]] += Math.exp(logW[i] - maxLogW[goalOf[i]]);
  const q = new Float32Array(B);
  for (let i = 0; i < B; i++) q[i] = Math.exp(logW[i] - maxLogW[goalOf[i]]) / zg[goalOf[i]];
  let activeGoals = 0;
  for (let g = 0; g < G; g++) if (count[g] > 0) activeGoals++;
  const c = new Float32Array(G);
  for (let g = 0; g < G; g++) c[g] = count[g] === 0 ? 0 : lsaRed === 'samples' ? count[g] / B : 1 / activeGoals;

  const info = new Uint32Array(3 * B + G);
  for (let i = 0; i < B; i++) info[i] = goalOf[i];
  info.set(new Uint32Array(a.buffer), B);
  info.set(new Uint32Array(q.buffer), 2 * B);
  info.set(new Uint32Array(c.buffer), 3 * B);
  return { info, activeGoals };
}

function checkEmbedding(x: Tensor, name: string): void {
  x.assertLive('infoNCE');
  if (x.dtype !== 'f32') throw new TypeError(`infoNCE: ${name} must be f32, got ${x.dtype}`);
  if (x.rank !== 2) throw new RangeError(`infoNCE: ${name} must be 2-D [rows, d], got shape ${shapeStr(x.shape)}`);
  if (x.shape[0] === 0) throw new RangeError(`infoNCE: ${name} has no rows (shape ${shapeStr(x.shape)}); ${name === 'phi' ? 'B' : 'G'} must be > 0`);
  if (x.shape[1] === 0) throw new RangeError(`infoNCE: ${name} has embedding size d = 0`);
}

/** C = min(exp(s), maxScale) * op(A) op(B) with C [M, N]. */
function scaledMatmul(
  rt: Runtime,
  a: Tensor,
  b: Tensor,
  logScale: Tensor,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  maxScale: number,
): Tensor {
  const out = new Tensor(rt, [M, N], 'f32');
  const u = new ArrayBuffer(16);
  new Uint32Array(u, 0, 3).set([M, N, K]);
  new Float32Array(u, 12, 1)[0] = maxScale;
  rt.dispatch({
    kernel: 'infonce.matmul',
    code: MATMUL_WGSL,
    constants: { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 },
    buffers: [a.buffer, b.buffer, logScale.buffer, out.buffer],
    uniform: u,
    workgroups: [Math.ceil(N / 64), Math.ceil(M / 64)],
  });
  return out;
}

/**
 * The bidirectional temporally weighted InfoNCE loss. See the module comment for the
 * formulas; `phi` and `psi` must already be L2-normalised (the CRL heads do that).
 */
export function infoNCE(phi: Tensor, psi: Tensor, opts: InfoNCEOptions): InfoNCEOutput {
  checkEmbedding(phi, 'phi');
  checkEmbedding(psi, 'psi');
  const rt = phi.rt;
  if (psi.rt !== rt) throw new Error('infoNCE: phi and psi live on different runtimes');
  const [B, d] = phi.shape;
  const [G, dPsi] = psi.shape;
  if (dPsi !== d) throw new RangeError(`infoNCE: embedding sizes differ: phi is ${shapeStr(phi.shape)}, psi is ${shapeStr(psi.shape)}`);
  const maxScale = opts.maxScale ?? DEFAULT_MAX_SCALE;
  if (!(maxScale > 0 && Number.isFinite(maxScale))) throw new RangeError(`infoNCE: maxScale must be a finite number > 0, got ${maxScale}`);
  const wSaL = opts.weights?.saL ?? 1;
  const wLSa = opts.weights?.lSa ?? 1;
  if (!Number.isFinite(wSaL) || !Number.isFinite(wLSa)) throw new RangeError(`infoNCE: weights must be finite, got saL = ${wSaL}, lSa = ${wLSa}`);

  let sT: Tensor;
  if (typeof opts.logScale === 'number') {
    if (!Number.isFinite(opts.logScale)) throw new RangeError(`infoNCE: logScale must be finite, got ${opts.logScale}`);
    sT = fromArray(rt, [opts.logScale], [1]);
  } else {
    sT = opts.logScale;
    sT.assertLive('infoNCE');
    if (sT.size !== 1 || sT.dtype !== 'f32') throw new RangeError(`infoNCE: logScale must be an f32 tensor with one element, got ${sT.dtype} ${shapeStr(sT.shape)}`);
    if (sT.rt !== rt) throw new Error('infoNCE: logScale lives on a different runtime than phi');
  }

  const { info } = infoNCETargets(B, G, opts);
  const infoT = new Tensor(rt, [info.length], 'u32');
  rt.write(infoT.buffer, info);

  const logits = scaledMatmul(rt, phi, psi, sT, B, G, d, false, true, maxScale);
  const rowStats = new Tensor(rt, [B, 4], 'f32');
  const colStats = new Tensor(rt, [G, 2], 'f32');
  const sizes = new Uint32Array([B, G, 0, 0]);
  rt.dispatch({ kernel: 'infonce.rows', code: ROWS_WGSL, buffers: [logits.buffer, infoT.buffer, rowStats.buffer], uniform: sizes, workgroups: grid1d(B, 64) });
  rt.dispatch({ kernel: 'infonce.cols', code: COLS_WGSL, buffers: [logits.buffer, infoT.buffer, colStats.buffer], uniform: sizes, workgroups: grid1d(G, 64) });

  const lossSaL = new Tensor(rt, [1], 'f32');
  const lossLSa = new Tensor(rt, [1], 'f32');
  const loss = new Tensor(rt, [1], 'f32');
  const diagnostics = new Tensor(rt, [5], 'f32');
  const ru = new ArrayBuffer(32);
  new Uint32Array(ru, 0, 2).set([B, G]);
  new Float32Array(ru, 8, 3).set([maxScale, wSaL, wLSa]);
  rt.dispatch({
    kernel: 'infonce.reduce',
    code: REDUCE_WGSL,
    buffers: [rowStats.buffer, colStats.buffer, infoT.buffer, sT.buffer, lossSaL.buffer, lossLSa.buffer, loss.buffer, diagnostics.buffer],
    uniform: ru,
    workgroups: [1],
  });

  const inputs = [phi, psi, sT];
  const grads = (up: Tensor, mSa: number, mLSa: number): (Tensor | null)[] => {
    // The saved forward state belongs to the caller's scope; a backward after that scope
    // was disposed would read recycled buffers, so fail loudly instead.
    for (const saved of [logits, rowStats, colStats, infoT, sT]) saved.assertLive('infoNCE backward (run backward before disposing the forward scope)');
    const dZ = new Tensor(rt, [B, G], 'f32');
    const rowPart = new Tensor(rt, [B], 'f32');
    const du = new ArrayBuffer(16);
    new Uint32Array(du, 0, 2).set([B, G]);
    new Float32Array(du, 8, 2).set([mSa, mLSa]);
    rt.dispatch({
      kernel: 'infonce.dlogits',
      code: DLOGITS_WGSL,
      buffers: [logits.buffer, rowStats.buffer, colStats.buffer, infoT.buffer, up.buffer, dZ.buffer, rowPart.buffer],
      uniform: du,
      workgroups: grid1d(B, 64),
    });
    const gPhi = phi.requiresGrad ? scaledMatmul(rt, dZ, psi, sT, B, d, G, false, false, maxScale) : null;
    const gPsi = psi.requiresGrad ? scaledMatmul(rt, dZ, phi, sT, G, d, B, true, false, maxScale) : null;
    let gS: Tensor | null = null;
    if (sT.requiresGrad) {
      gS = new Tensor(rt, sT.shape, 'f32');
      const su = new ArrayBuffer(16);
      new Uint32Array(su, 0, 1)[0] = B;
      new Float32Array(su, 4, 1)[0] = maxScale;
      rt.dispatch({ kernel: 'infonce.dscale', code: DSCALE_WGSL, buffers: [rowPart.buffer, sT.buffer, gS.buffer], uniform: su, workgroups: [1] });
    }
    return [gPhi, gPsi, gS];
  };
  record('infoNCE', loss, inputs, (g) => grads(g, wSaL, wLSa));
  record('infoNCE.saL', lossSaL, inputs, (g) => grads(g, 1, 0));
  record('infoNCE.lSa', lossLSa, inputs, (g) => grads(g, 0, 1));
  return { loss, lossSaL, lossLSa, diagnostics, logits };
}

/**
 * Deduplicates goals by task id (same instruction = same goal): goalOf[i] is the goal
 * row of sample i, and firstSample[g] the first sample with goal g, from which a caller
 * takes psi so that each task appears once and is never a negative of itself.
 */
export function uniqueGoals(taskIds: ArrayLike<number | string>): { goalOf: Int32Array; firstSample: Int32Array; G: number } {
  const index = new Map<number | string, number>();
  const goalOf = new Int32Array(taskIds.length);
  const first: number[] = [];
  for (let i = 0; i < taskIds.length; i++) {
    let g = index.get(taskIds[i]);
    if (g === undefined) {
      g = first.length;
      index.set(taskIds[i], g);
      first.push(i);
    }
    goalOf[i] = g;
  }
  return { goalOf, firstSample: Int32Array.from(first), G: first.length };
}
