/**
 * Per-step training metrics: the record every loop emits (Train tab curves, CLI progress
 * lines, metrics.jsonl in checkpoints), throughput / ETA tracking and formatting.
 */

/** One pre-training step. CRL fields are null when the batch carries no CRL blocks. */
export interface PretrainStepMetrics {
  /** 0-based index of the optimizer step this record describes. */
  step: number;
  lr: number;
  /** BC + lambda_crl (L_sa->l + L_l->sa) [+ lambda_grounding L_grounding], the optimised loss. */
  total: number;
  bc: number;
  /** L_sa->l and L_l->sa (unweighted). */
  saL: number | null;
  lSa: number | null;
  /** H(q): the lowest value L_l->sa can reach on this batch (soft targets' entropy). */
  lSaFloor: number | null;
  /** Fraction of samples whose best-scoring goal is their own. */
  accuracy: number | null;
  /** 1 / min(exp(s), maxScale). */
  temperature: number | null;
  /** The grounding loss and the fraction of its samples whose best region is right (absent without train.lambdaGrounding). */
  grounding?: number | null;
  groundingAccuracy?: number | null;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Real (non-padding) tokens of the batch, and the packed length n. */
  tokens: number;
  packedTokens: number;
  samples: number;
  goals: number;
  /** Wall time of the step (batch assembly + forward + backward + update + readback). */
  ms: number;
  /** Of which assembling the batch on the CPU (sampling, tokenizing, packing, frames). */
  dataMs: number;
  /** Smoothed real tokens per second, and the estimated seconds to the end of the run. */
  tokensPerSec: number;
  etaSec: number;
}

/** Mean over goals of the entropy of q_gj = w_j / sum_{S(g)} w, w = gamma^(T - t). */
export function lSaFloor(batch: { samples: number; goalOf: ArrayLike<number>; t: ArrayLike<number>; T: ArrayLike<number> }, gamma: number): number {
  const byGoal = new Map<number, number[]>();
  for (let i = 0; i < batch.samples; i++) {
    const list = byGoal.get(batch.goalOf[i]) ?? [];
    list.push(Math.pow(gamma, batch.T[i] - batch.t[i]));
    byGoal.set(batch.goalOf[i], list);
  }
  let h = 0;
  for (const ws of byGoal.values()) {
    const s = ws.reduce((a, b) => a + b, 0);
    for (const w of ws) if (w > 0) h -= (w / s) * Math.log(w / s);
  }
  return byGoal.size ? h / byGoal.size : 0;
}

/**
 * Exponentially smoothed step time and token rate. The first steps compile pipelines
 * and are much slower, so the first sample seeds the average and later ones pull it
 * with weight `alpha`.
 */
export class ThroughputMeter {
  private stepSec = 0;
  private tokSec = 0;
  private seen = 0;

  constructor(private readonly alpha = 0.2) {}

  update(seconds: number, tokens: number): void {
    const a = this.seen === 0 ? 1 : this.alpha;
    this.stepSec += a * (seconds - this.stepSec);
    this.tokSec += a * (tokens / Math.max(seconds, 1e-9) - this.tokSec);
    this.seen++;
  }

  get tokensPerSec(): number {
    return this.tokSec;
  }

  eta(remainingSteps: number): number {
    return Math.max(0, remainingSteps) * this.stepSec;
  }
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** One progress line with every loss term (CLI). */
export function formatStep(m: PretrainStepMetrics, totalSteps: number): string {
  const f = (v: number | null, d = 3) => (v === null ? '-' : v.toFixed(d));
  const crl = m.saL === null ? 'crl off' : `sa->l ${f(m.saL)}  l->sa ${f(m.lSa)} (floor ${f(m.lSaFloor)})  acc ${f(m.accuracy, 2)}  temp ${f(m.temperature)}`;
  const grounding = m.grounding === undefined || m.grounding === null ? '' : `  grounding ${f(m.grounding)} (acc ${f(m.groundingAccuracy ?? null, 2)})`;
  return (
    `step ${String(m.step + 1).padStart(String(totalSteps).length)}/${totalSteps}  loss ${f(m.total)}  bc ${f(m.bc)}  ${crl}${grounding}` +
    `  |g| ${f(m.gradNorm, 2)}  lr ${m.lr.toExponential(2)}  ${Math.round(m.tokensPerSec)} tok/s  ${m.ms.toFixed(0)} ms  eta ${formatDuration(m.etaSec)}`
  );
}
