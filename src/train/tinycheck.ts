/**
 * The engine's end-to-end check (issue 2, item 5): a 2-layer PRTS transformer with the
 * real role layout trained on the synthetic task of tinycheck-data.ts. BC and both CRL
 * directions must fall, which only happens if the tape, the block-sparse attention
 * (forward and backward), InfoNCE and AdamW work together.
 *
 * Pass criteria (checked by tests/unit/train/tinycheck.test.ts and reported here):
 * - BC < 0.3 nats. A uniform guess over the vocabulary costs ln(V) ~ 3.8 nats; the
 *   labels are a deterministic function of (instruction, image pattern), so a model that
 *   routes both through attention can drive BC towards 0.
 * - L_sa->l < 0.3 nats, from ln(tasks) = 1.39 at chance: phi must identify the task from
 *   the CRL_action copy of the actions, with the instruction masked out.
 * - L_l->sa - H(q) < 0.3 nats: L_l->sa cannot go below the entropy H(q) of its soft
 *   targets (the temporal weights spread each goal's mass over its samples), so the gap
 *   to that floor is what measures learning; at chance it is ln(B) - H(q) ~ 1.4.
 */
import { backward, zeroGrad } from '../engine/autograd';
import { readInfoNCEDiagnostics } from '../engine/ops/infonce';
import { AdamW } from '../engine/optim';
import { Rng } from '../engine/random';
import type { Runtime } from '../engine/runtime';
import { Scope } from '../engine/tensor';
import { PrtsModel, type PrtsConfig } from '../model/prts';
import { DEFAULT_TINY_TASK, TinyWorld, type PackedBatch, type TinyTaskConfig } from './tinycheck-data';

export interface TinyCheckConfig {
  task: TinyTaskConfig;
  model: Omit<PrtsConfig, 'backbone'> & { backbone: Omit<PrtsConfig['backbone'], 'vocabSize'> };
  steps: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  clipNorm: number;
}

export const DEFAULT_TINY_CHECK: TinyCheckConfig = {
  task: DEFAULT_TINY_TASK,
  model: {
    backbone: { dModel: 64, layers: 2, heads: 2, headDim: 32, mlpHidden: 128, ropeBase: 10000, normEps: 1e-6, patchFeatures: 16 },
    crl: { hidden: 64, embedDim: 32, temperatureInit: 0.2, maxScale: 100 },
    gamma: 0.9,
    lambdaCrl: 1,
    tile: 32,
    seed: 7,
  },
  steps: 150,
  lr: 3e-3,
  warmup: 10,
  weightDecay: 0.01,
  clipNorm: 1,
};

export interface TinyCheckStep {
  step: number;
  total: number;
  bc: number;
  saL: number;
  lSa: number;
  /** H(q): the lowest value L_l->sa can reach on this batch. */
  lSaFloor: number;
  accuracy: number;
  temperature: number;
  tokens: number;
  ms: number;
}

export interface TinyCheckResult {
  steps: TinyCheckStep[];
  /** Means over the last 10 steps. */
  final: { bc: number; saL: number; lSaGap: number };
  passed: boolean;
  thresholds: { bc: number; saL: number; lSaGap: number };
  params: number;
  tokensPerSecond: number;
}

export const TINY_CHECK_THRESHOLDS = { bc: 0.3, saL: 0.3, lSaGap: 0.3 };

/** Mean over goals of the entropy of the soft targets q_gj = w_j / sum_{S(g)} w. */
export function lSaFloor(batch: PackedBatch, gamma: number): number {
  const byGoal = new Map<number, number[]>();
  for (let i = 0; i < batch.samples; i++) {
    const w = Math.pow(gamma, batch.T[i] - batch.t[i]);
    const list = byGoal.get(batch.goalOf[i]) ?? [];
    list.push(w);
    byGoal.set(batch.goalOf[i], list);
  }
  let h = 0;
  for (const ws of byGoal.values()) {
    const s = ws.reduce((a, b) => a + b, 0);
    for (const w of ws) h -= (w / s) * Math.log(w / s);
  }
  return h / byGoal.size;
}

function cosineLr(step: number, cfg: TinyCheckConfig): number {
  if (step < cfg.warmup) return (cfg.lr * (step + 1)) / cfg.warmup;
  const p = (step - cfg.warmup) / Math.max(1, cfg.steps - cfg.warmup);
  return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * p)));
}

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface TinyCheckHooks {
  /** Awaited after every step: a caller may pause here, or throw to cancel. */
  onStep?: (s: TinyCheckStep) => void | Promise<void>;
  /** Polled between steps; returning true stops the run early. */
  shouldStop?: () => boolean;
  /** Every `checkpointEvery` steps and at the end: the parameters, read back. */
  checkpointEvery?: number;
  onCheckpoint?: (step: number, params: NamedArray[]) => void | Promise<void>;
}

async function readParams(model: PrtsModel): Promise<NamedArray[]> {
  return Promise.all(
    [...model.store.tensors].map(async ([name, t]) => ({ name, shape: [...t.shape], data: await t.toFloat32() })),
  );
}

export async function runTinyCheck(rt: Runtime, cfg: TinyCheckConfig = DEFAULT_TINY_CHECK, hooks: TinyCheckHooks = {}): Promise<TinyCheckResult> {
  const world = new TinyWorld(cfg.task);
  const model = new PrtsModel(rt, { ...cfg.model, backbone: { ...cfg.model.backbone, vocabSize: world.vocab.size } });
  const opt = new AdamW(
    [
      { params: model.store.decayed(), weightDecay: cfg.weightDecay },
      { params: model.store.notDecayed(), weightDecay: 0 },
    ],
    { maxGradNorm: cfg.clipNorm },
  );
  const rng = new Rng(cfg.task.seed + 1000);
  const steps: TinyCheckStep[] = [];
  const params = [...model.store.tensors.values()];
  let tokens = 0;
  let seconds = 0;
  try {
    for (let step = 0; step < cfg.steps; step++) {
      if (hooks.shouldStop?.()) break;
      const t0 = performance.now();
      const batch = world.batch(rng);
      const map = model.blockMap(batch);
      const scope = new Scope();
      const out = scope.run(() => {
        const L = model.losses(batch, map);
        backward(L.total);
        opt.step(cosineLr(step, cfg));
        return L;
      });
      const [total, bc, saL, lSa, diag] = await Promise.all([
        out.total.item(),
        out.bc.item(),
        out.crl!.lossSaL.item(),
        out.crl!.lossLSa.item(),
        readInfoNCEDiagnostics(out.crl!.diagnostics),
      ]);
      scope.dispose();
      map.release();
      zeroGrad(params);
      const ms = performance.now() - t0;
      tokens += batch.n;
      seconds += ms / 1000;
      const s: TinyCheckStep = {
        step,
        total,
        bc,
        saL,
        lSa,
        lSaFloor: lSaFloor(batch, cfg.model.gamma),
        accuracy: diag.accuracy,
        temperature: diag.temperature,
        tokens: batch.n,
        ms,
      };
      steps.push(s);
      await hooks.onStep?.(s);
      const every = hooks.checkpointEvery ?? 0;
      const last = step === cfg.steps - 1;
      if (hooks.onCheckpoint && ((every > 0 && (step + 1) % every === 0) || last)) {
        await hooks.onCheckpoint(step + 1, await readParams(model));
      }
    }
  } finally {
    opt.dispose();
    model.store.dispose();
  }
  const tail = steps.slice(-10);
  const mean = (f: (s: TinyCheckStep) => number) => tail.reduce((a, s) => a + f(s), 0) / Math.max(1, tail.length);
  const final = { bc: mean((s) => s.bc), saL: mean((s) => s.saL), lSaGap: mean((s) => s.lSa - s.lSaFloor) };
  const th = TINY_CHECK_THRESHOLDS;
  return {
    steps,
    final,
    passed: steps.length === cfg.steps && final.bc < th.bc && final.saL < th.saL && final.lSaGap < th.lSaGap,
    thresholds: th,
    params: params.reduce((a, p) => a + p.size, 0),
    tokensPerSecond: tokens / Math.max(seconds, 1e-9),
  };
}
