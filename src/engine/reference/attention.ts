/**
 * Float64 reference of role-aware attention (forward and analytic backward) over the
 * dense per-element rule. Tensors are [T, H, D] row-major like the GPU op; the
 * logsumexp is [H, T] and is -Infinity for a row that may attend nothing (its output
 * and gradients are zero).
 */
import { PRTS_RULE, type MaskRule } from '../roles';

export interface AttentionRefInputs {
  q: ArrayLike<number>;
  k: ArrayLike<number>;
  v: ArrayLike<number>;
  doc: ArrayLike<number>;
  role: ArrayLike<number>;
  heads: number;
  rule?: MaskRule;
}

function dims(a: AttentionRefInputs): { n: number; d: number; rule: MaskRule } {
  const n = a.doc.length;
  if (a.role.length !== n) throw new RangeError(`attention reference: role has ${a.role.length} entries, doc has ${n}`);
  if (!(Number.isInteger(a.heads) && a.heads > 0)) throw new RangeError(`attention reference: heads = ${a.heads}`);
  const d = a.q.length / (n * a.heads);
  if (!Number.isInteger(d) || a.k.length !== a.q.length || a.v.length !== a.q.length) {
    throw new RangeError(
      `attention reference: q, k, v must all be [${n}, ${a.heads}, D]; lengths ${a.q.length}, ${a.k.length}, ${a.v.length}`,
    );
  }
  return { n, d, rule: a.rule ?? PRTS_RULE };
}

/** Allowed keys of every query (ascending). */
function keyLists(doc: ArrayLike<number>, role: ArrayLike<number>, rule: MaskRule): number[][] {
  const lists: number[][] = [];
  for (let i = 0; i < doc.length; i++) {
    const ks: number[] = [];
    for (let j = 0; j <= i; j++) if (doc[i] === doc[j] && rule[role[i]][role[j]]) ks.push(j);
    lists.push(ks);
  }
  return lists;
}

/** Softmax probabilities of one (query, head) row over its allowed keys, and its logsumexp. */
function rowProbs(a: AttentionRefInputs, d: number, keys: number[], i: number, h: number) {
  const H = a.heads;
  const scale = 1 / Math.sqrt(d);
  const s = keys.map((j) => {
    let x = 0;
    for (let c = 0; c < d; c++) x += a.q[(i * H + h) * d + c] * a.k[(j * H + h) * d + c];
    return x * scale;
  });
  if (!keys.length) return { p: [] as number[], lse: -Infinity };
  const m = Math.max(...s);
  let z = 0;
  for (const x of s) z += Math.exp(x - m);
  const lse = m + Math.log(z);
  return { p: s.map((x) => Math.exp(x - lse)), lse };
}

export function attentionForwardRef(a: AttentionRefInputs): { o: Float64Array; lse: Float64Array } {
  const { n, d, rule } = dims(a);
  const H = a.heads;
  const keys = keyLists(a.doc, a.role, rule);
  const o = new Float64Array(n * H * d);
  const lse = new Float64Array(H * n);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < n; i++) {
      const r = rowProbs(a, d, keys[i], i, h);
      lse[h * n + i] = r.lse;
      keys[i].forEach((j, t) => {
        for (let c = 0; c < d; c++) o[(i * H + h) * d + c] += r.p[t] * a.v[(j * H + h) * d + c];
      });
    }
  }
  return { o, lse };
}

/** Gradients of sum(dO * O) with respect to q, k and v. */
export function attentionBackwardRef(
  a: AttentionRefInputs,
  dO: ArrayLike<number>,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { n, d, rule } = dims(a);
  if (dO.length !== a.q.length) throw new RangeError(`attention reference: dO has ${dO.length} values, q has ${a.q.length}`);
  const H = a.heads;
  const scale = 1 / Math.sqrt(d);
  const keys = keyLists(a.doc, a.role, rule);
  const dq = new Float64Array(n * H * d);
  const dk = new Float64Array(n * H * d);
  const dv = new Float64Array(n * H * d);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < n; i++) {
      const { p } = rowProbs(a, d, keys[i], i, h);
      const bi = (i * H + h) * d;
      // dP_j = dO_i . v_j; dS_j = P_j (dP_j - sum_t P_t dP_t)
      const dp = keys[i].map((j) => {
        let x = 0;
        for (let c = 0; c < d; c++) x += dO[bi + c] * a.v[(j * H + h) * d + c];
        return x;
      });
      let delta = 0;
      p.forEach((pj, t) => (delta += pj * dp[t]));
      keys[i].forEach((j, t) => {
        const bj = (j * H + h) * d;
        const ds = p[t] * (dp[t] - delta) * scale;
        for (let c = 0; c < d; c++) {
          dv[bj + c] += p[t] * dO[bi + c];
          dq[bi + c] += ds * a.k[bj + c];
          dk[bj + c] += ds * a.q[bi + c];
        }
      });
    }
  }
  return { dq, dk, dv };
}
