/**
 * Value-guided chunk selection: the policy proposes several chunks per observation and
 * executes the one its own CRL critic rates highest, V(s, a, l) = phi(s, a) . psi(l)
 * (DESIGN.md 4). This is contrastive RL's use of the critic as a goal-conditioned
 * Q-function (Eysenbach et al. 2022 pick actions by it): InfoNCE makes phi . psi a
 * log-density ratio of reaching goal l from (s, a), so among proposals for one state the
 * highest V is the chunk most consistent with the named goal. A backbone trained without
 * CRL has no such critic, which is where CRL can change success directly.
 *
 * Candidate 0 of every observation is the policy's usual chunk (greedy AR decoding, or
 * the DiT sample of the episode's noise stream), so one candidate is exactly the plain
 * policy, and ties keep it.
 */
import type { Rng } from '../engine/random.ts';

export class ValueSelectError extends Error {
  override name = 'ValueSelectError';
}

export interface ValueSelectOptions {
  /** Chunks proposed per observation (1 = the plain policy). */
  candidates: number;
  /** Sampling temperature of the AR proposals after the first (> 0). */
  temperature: number;
  /** Select on the first this-many act() calls of an episode, then run the plain policy (Infinity: every call). */
  calls: number;
  /**
   * After the first `calls` re-plans, keep proposing `candidates` chunks and execute the
   * one that continues the previous chunk's plan best (closestToPlan) instead of the
   * plain policy's chunk. Needs calls < Infinity.
   */
  coherent?: boolean;
}

export function checkValueSelect(o: ValueSelectOptions): void {
  if (!Number.isInteger(o.candidates) || o.candidates < 1 || o.candidates > 64) {
    throw new ValueSelectError(`candidates must be an integer in 1..64, got ${o.candidates}`);
  }
  if (!(Number.isFinite(o.temperature) && o.temperature > 0)) throw new ValueSelectError(`temperature must be a positive number, got ${o.temperature}`);
  if (!(o.calls === Infinity || (Number.isInteger(o.calls) && o.calls >= 0))) throw new ValueSelectError(`selectCalls must be a non-negative integer (or absent: every call), got ${o.calls}`);
  if (o.coherent !== undefined && typeof o.coherent !== 'boolean') throw new ValueSelectError(`coherent must be true or false, got ${JSON.stringify(o.coherent)}`);
  if (o.calls === 0 && !o.coherent) throw new ValueSelectError('selectCalls 0 chooses nothing by value: it is coherent selection alone, so it needs coherent (or leave candidates at 1 for the plain policy)');
  if (o.coherent && o.candidates < 2) throw new ValueSelectError(`coherent: it chooses between proposals, so it needs candidates of 2 or more, got ${o.candidates}`);
  if (o.coherent && o.calls === Infinity) throw new ValueSelectError('coherent: it applies after the value-selected re-plans, so it needs selectCalls (the value chooses on every re-plan otherwise)');
}

/**
 * Per observation, the candidate whose first actions best continue the previous plan:
 * the smallest squared distance between candidate[0 .. H - offset) and
 * plan[offset .. H), where `offset` actions of the plan were executed since it was made
 * (backward coherence, as in Bidirectional Decoding, Liu et al. 2024). A chunked policy
 * re-plans from scratch every `offset` steps, and a small model's independent re-plans
 * drift between targets; preferring the proposal that agrees with what it was already
 * doing keeps the motion the first, value-selected chunk started. `chunks` is
 * observation-major (candidate k of observation b at b * K + k), each [H x dim]; an
 * observation without a plan (null) keeps candidate 0, as do ties.
 */
export function closestToPlan(chunks: readonly ArrayLike<number>[], K: number, plans: readonly (ArrayLike<number> | null)[], offset: number, dim: number): number[] {
  if (!(K >= 1) || chunks.length !== plans.length * K) throw new ValueSelectError(`closestToPlan: ${chunks.length} chunks are not ${plans.length} groups of ${K}`);
  return plans.map((plan, b) => {
    if (!plan) return 0;
    const H = plan.length / dim;
    if (!Number.isInteger(H) || !(Number.isInteger(offset) && offset >= 0 && offset < H)) throw new ValueSelectError(`closestToPlan: offset ${offset} must be an integer in [0, ${H}) for plans of ${H} x ${dim}`);
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < K; k++) {
      const c = chunks[b * K + k];
      if (c.length !== plan.length) throw new ValueSelectError(`closestToPlan: chunk ${b * K + k} has ${c.length} values, the plan ${plan.length}`);
      let d = 0;
      for (let i = 0; i < (H - offset) * dim; i++) {
        const e = c[i] - plan[offset * dim + i];
        d += e * e;
      }
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    return best;
  });
}

/**
 * Per observation, the candidate with the highest value (first on ties). `values` is
 * observation-major: candidates k of observation b at b * K + k.
 */
export function bestByValue(values: ArrayLike<number>, K: number): number[] {
  if (!(K >= 1) || values.length % K !== 0) throw new ValueSelectError(`bestByValue: ${values.length} values are not a whole number of groups of ${K}`);
  const out: number[] = [];
  for (let b = 0; b < values.length / K; b++) {
    let best = 0;
    for (let k = 1; k < K; k++) {
      const v = values[b * K + k];
      if (Number.isNaN(v)) throw new ValueSelectError(`bestByValue: value ${b * K + k} is NaN`);
      if (v > values[b * K + best]) best = k;
    }
    out.push(best);
  }
  return out;
}

/** Rows of cosine similarity phi[r] . psi[r] (both [R x dim], unit rows). */
export function rowDots(phi: Float32Array, psi: Float32Array, dim: number): Float32Array {
  if (phi.length !== psi.length || phi.length % dim !== 0) throw new ValueSelectError(`rowDots: phi has ${phi.length} values, psi ${psi.length}, dim ${dim}`);
  const out = new Float32Array(phi.length / dim);
  for (let r = 0; r < out.length; r++) {
    let v = 0;
    for (let d = 0; d < dim; d++) v += phi[r * dim + d] * psi[r * dim + d];
    out[r] = v;
  }
  return out;
}

/**
 * Draws an id in proportion to exp(logit / temperature) over the ids `allowed` accepts
 * (softmax restricted to them; the max is subtracted for stability). Returns -1 when
 * nothing is allowed.
 */
export function sampleAllowed(logits: Float32Array, offset: number, ids: readonly number[], allowed: (id: number) => boolean, temperature: number, rng: Rng): number {
  let max = -Infinity;
  for (const id of ids) if (allowed(id) && logits[offset + id] > max) max = logits[offset + id];
  if (max === -Infinity) return -1;
  let total = 0;
  const weights = ids.map((id) => {
    const w = allowed(id) ? Math.exp((logits[offset + id] - max) / temperature) : 0;
    total += w;
    return w;
  });
  let u = rng.next() * total;
  let lastAllowed = -1;
  for (let i = 0; i < ids.length; i++) {
    if (weights[i] === 0) continue;
    lastAllowed = ids[i];
    u -= weights[i];
    if (u < 0) return ids[i];
  }
  return lastAllowed; // rounding left u a hair above 0
}
