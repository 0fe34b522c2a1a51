/**
 * The clipped policy-gradient objective of SRPO Eq. 6-8 (GRPO's, with its rewards), per
 * executed action chunk i with log-probability logp_i under the policy being trained:
 *
 *   r_i = exp(logp_i - logp_old_i)
 *   loss = mean_i [ -min(r_i A_i, clip(r_i, 1 - eps, 1 + eps) A_i) + beta KL_i ]
 *   KL_i = exp(logp_ref_i - logp_i) - (logp_ref_i - logp_i) - 1
 *
 * KL_i is Schulman's k3 estimator of KL(pi_theta || pi_ref) from a sample of pi_old: never
 * negative, 0 where the two policies agree on the chunk.
 *
 * Why the gradient is returned as d loss / d logp_i rather than as a differentiable graph:
 * in the AR mode logp_i = -sum of the chunk's FAST-token NLLs, so
 *   d loss / d nll_t = -d loss / d logp_{chunk(t)}
 * and one backward pass of sum_t w_t nll_t with those weights held constant
 * (crossEntropy with reduction 'sum', the same op as BC) gives exactly the objective's
 * gradient, with no ratio, min or clip op on the GPU. The weighted sum's own value is not
 * the objective; `loss` here is.
 */

export interface SurrogateInput {
  /** log pi_theta of each chunk, from the forward pass being differentiated. */
  logp: ArrayLike<number>;
  /** log pi_old of each chunk, recorded when the rollout acted. */
  logpOld: ArrayLike<number>;
  /** log pi_ref (the frozen SFT policy) of each chunk; required when beta > 0. */
  logpRef?: ArrayLike<number>;
  /** Advantage of each chunk (its rollout's group-normalised advantage). */
  advantages: ArrayLike<number>;
  /** Clip range epsilon. Default 0.2. */
  clipEps?: number;
  /** KL weight beta. Default 0. */
  beta?: number;
}

export interface SurrogateResult {
  /** The objective (to minimise), averaged over chunks. */
  loss: number;
  /** d loss / d logp_i. */
  dLogp: Float64Array;
  /** The ratios r_i. */
  ratios: Float64Array;
  /** Fraction of chunks whose clipped branch is the minimum (their surrogate gradient is 0). */
  clipFraction: number;
  /** Mean k3 KL to the reference (0 without one). */
  kl: number;
}

export function clippedSurrogate(inp: SurrogateInput): SurrogateResult {
  const m = inp.logp.length;
  const eps = inp.clipEps ?? 0.2;
  const beta = inp.beta ?? 0;
  if (m === 0) throw new RangeError('clippedSurrogate: no chunks');
  for (const [name, a] of [['logpOld', inp.logpOld], ['advantages', inp.advantages], ...(inp.logpRef ? [['logpRef', inp.logpRef] as const] : [])] as const) {
    if (a.length !== m) throw new RangeError(`clippedSurrogate: ${name} has ${a.length} entries, logp ${m}`);
  }
  if (!(eps > 0 && eps < 1)) throw new RangeError(`clippedSurrogate: clipEps must be in (0, 1), got ${eps}`);
  if (!(beta >= 0)) throw new RangeError(`clippedSurrogate: beta must be >= 0, got ${beta}`);
  if (beta > 0 && !inp.logpRef) throw new RangeError('clippedSurrogate: beta > 0 needs logpRef (the reference policy\'s log-probabilities)');
  const dLogp = new Float64Array(m);
  const ratios = new Float64Array(m);
  let loss = 0;
  let clipped = 0;
  let klSum = 0;
  for (let i = 0; i < m; i++) {
    const lp = inp.logp[i];
    const A = inp.advantages[i];
    if (!Number.isFinite(lp) || !Number.isFinite(inp.logpOld[i]) || !Number.isFinite(A)) {
      throw new RangeError(`clippedSurrogate: chunk ${i} has logp ${lp}, logpOld ${inp.logpOld[i]}, advantage ${A}`);
    }
    const r = Math.exp(lp - inp.logpOld[i]);
    ratios[i] = r;
    const rc = Math.min(Math.max(r, 1 - eps), 1 + eps);
    const unclipped = r * A;
    const clippedTerm = rc * A;
    // At equality (r inside the range) the unclipped branch is the one that carries the gradient.
    if (unclipped <= clippedTerm) {
      loss -= unclipped;
      dLogp[i] = -unclipped; // d(-r A)/d logp = -r A
    } else {
      loss -= clippedTerm;
      clipped++;
    }
    if (beta > 0) {
      const d = inp.logpRef![i] - lp;
      const e = Math.exp(d);
      klSum += e - d - 1;
      loss += beta * (e - d - 1);
      dLogp[i] += beta * (1 - e); // d(e^{ref - lp} - (ref - lp) - 1)/d lp = -e + 1
    }
  }
  for (let i = 0; i < m; i++) dLogp[i] /= m;
  return { loss: loss / m, dLogp, ratios, clipFraction: clipped / m, kl: klSum / m };
}

/**
 * Per-row weights for crossEntropy(logits, targets, { weights, reduction: 'sum' }) whose
 * gradient is the objective's: w_t = -dLogp[chunk(t)] for each counted target row t
 * (rowChunk[t] >= 0 and targets[t] >= 0), 0 elsewhere.
 */
export function tokenWeights(dLogp: ArrayLike<number>, targets: ArrayLike<number>, rowChunk: ArrayLike<number>): Float32Array {
  if (targets.length !== rowChunk.length) throw new RangeError(`tokenWeights: ${targets.length} targets but ${rowChunk.length} row chunk ids`);
  const w = new Float32Array(targets.length);
  for (let t = 0; t < targets.length; t++) {
    const c = rowChunk[t];
    if (c < 0 || targets[t] < 0) continue;
    if (c >= dLogp.length) throw new RangeError(`tokenWeights: row ${t} belongs to chunk ${c}, but there are ${dLogp.length}`);
    w[t] = -dLogp[c];
  }
  return w;
}

/**
 * log pi of each chunk from the logits of its target rows (rows x V, row-major): the sum
 * of log-softmax at each counted target (the AR mode's exact chunk log-probability).
 */
export function chunkLogProbs(logits: ArrayLike<number>, V: number, targets: ArrayLike<number>, rowChunk: ArrayLike<number>, chunks: number): Float64Array {
  if (logits.length !== targets.length * V) throw new RangeError(`chunkLogProbs: ${logits.length} logits for ${targets.length} rows of ${V}`);
  if (targets.length !== rowChunk.length) throw new RangeError(`chunkLogProbs: ${targets.length} targets but ${rowChunk.length} row chunk ids`);
  const out = new Float64Array(chunks);
  for (let t = 0; t < targets.length; t++) {
    const c = rowChunk[t];
    const y = targets[t];
    if (c < 0 || y < 0) continue;
    if (c >= chunks || y >= V) throw new RangeError(`chunkLogProbs: row ${t} has chunk ${c} (of ${chunks}) and target ${y} (of ${V})`);
    let mx = -Infinity;
    for (let j = 0; j < V; j++) mx = Math.max(mx, logits[t * V + j]);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[t * V + j] - mx);
    out[c] += logits[t * V + y] - mx - Math.log(s);
  }
  return out;
}
