/**
 * The overfit check (issue 10, DESIGN.md 9): the pipeline's correctness test. A policy
 * trained on one to four expert demonstrations of one task must reproduce them from the
 * same fixed initial states and succeed, in the AR mode (FAST tokens from the LM head)
 * and in the DiT mode. A policy that cannot do that has a defect somewhere between the
 * dataset and the simulator (action normalisation, chunk alignment, gripper convention,
 * observation timing, camera parity), not a scale problem.
 *
 * One stage per demonstration count n (default 1, then 4):
 *   1. the scripted expert records n demonstrations from initial states 0..n-1 into an
 *      in-memory LeRobot dataset, through the same recordDemo as `npm run gen`;
 *   2. pre-training (Pretrainer, BC + lambda_crl InfoNCE) with a closed-loop check every
 *      `evalEvery` steps: the AR policy rolls out from the same states in the evaluation
 *      harness; the stage's AR result is the first check where every rollout succeeds
 *      (solvedAt), or the last one at maxPretrainSteps;
 *   3. post-training (PostTrainRun: a fresh DiT, masked flow matching) from the
 *      pre-trained backbone, checked the same way in the DiT mode.
 * Each check also measures how far the executed actions stray from the demonstration:
 * the mean |a_t - a_demo_t| over the 7 action channels at every control step t both
 * episodes reach (perStepError), so a failure shows where the rollout leaves the demo.
 *
 * Runs anywhere the engine runs (browser worker or Node); `npm run check:overfit` is
 * the CLI (src/train/cli/overfit.ts).
 */
import { LeRobotReader, LeRobotWriter, memoryIO } from '../data/index.ts';
import type { Runtime } from '../engine/runtime.ts';
import type { WorkbenchConfig } from '../model/config.ts';
import { demoCamera, demoFeatures, recordDemo } from '../sim/demos.ts';
import { CONTROL_HZ } from '../sim/scene.ts';
import { getTask } from '../sim/tasks/suites.ts';
import { ACTION_DIM } from '../sim/index.ts';
import type { CheckpointData } from './checkpoint.ts';
import { evaluate } from './eval.ts';
import type { EvalResults } from './eval-results.ts';
import { prtsPolicyFromCheckpoint, type PrtsPolicyMode } from './inference.ts';
import { backboneCheckpoint, PostTrainRun } from './posttrain.ts';
import { Pretrainer } from './pretrain.ts';

export interface OverfitOptions {
  /** Task id (default 'reach/touch_red'). */
  task?: string;
  /** Demonstrations per stage (default [1, 4]); stage n uses initial states 0..n-1. */
  demos?: number[];
  /** Model and training config; its batch must hold every sample of a stage's task together (samplesPerTask is set to batchSize). */
  config: WorkbenchConfig;
  /** Camera size of the demonstrations (default config.model.imageSize). */
  imageSize?: number;
  maxPretrainSteps?: number;
  maxPosttrainSteps?: number;
  /** Training steps between closed-loop checks (default 50). */
  evalEvery?: number;
  /** Actions executed per chunk before re-planning (default the chunk length). */
  executeSteps?: number;
  /** DiT sizes (default DEFAULT_DIT). */
  dit?: { dModel?: number; layers?: number; heads?: number };
  onLog?: (line: string) => void;
}

export interface OverfitCheck {
  /** Training steps done when this check ran. */
  step: number;
  /** Training loss at that step (BC for pre-training, flow for post-training). */
  loss: number;
  successes: number;
  episodes: number;
}

export interface OverfitModeResult {
  mode: PrtsPolicyMode;
  /** Fraction of rollouts that succeeded at the final check. */
  success: number;
  /** First check at which every rollout succeeded (training steps), null if none did. */
  solvedAt: number | null;
  /** Training steps run. */
  steps: number;
  finalLoss: number;
  checks: OverfitCheck[];
  /** Mean |a - a_demo| over the action channels at each control step, averaged over the episodes that reach it. */
  perStepError: number[];
  meanError: number;
  /** Rollout length of each episode at the final check, and whether it succeeded. */
  rollouts: Array<{ initState: number; success: boolean; steps: number; demoSteps: number }>;
  /** Policy problems reported during the final check (e.g. AR chunks that did not decode). */
  policyIssues: number;
  seconds: number;
}

export interface OverfitStageResult {
  demos: number;
  initStates: number[];
  demoFrames: number;
  ar: OverfitModeResult;
  dit: OverfitModeResult;
}

export interface OverfitReport {
  task: string;
  config: string;
  stages: OverfitStageResult[];
  /** Fraction of all final rollouts that succeeded, per mode. */
  success_ar: number;
  success_dit: number;
  seconds: number;
}

/** Records the expert's demonstrations from initial states 0..n-1 into memory; returns the reader and each demo's actions. */
export async function recordOverfitDemos(rt: Runtime, taskId: string, n: number, size: number): Promise<{ reader: LeRobotReader; actions: number[][][]; frames: number }> {
  const task = getTask(taskId);
  const io = memoryIO();
  const writer = await LeRobotWriter.create(io, { repoId: `prts/overfit_${taskId.replace('/', '_')}`, fps: CONTROL_HZ, robotType: 'panda_like', features: demoFeatures(size) });
  const camera = await demoCamera(rt.device, [task], size);
  let frames = 0;
  try {
    for (let i = 0; i < n; i++) {
      const r = await recordDemo(writer, { task, init: i, planIndex: i, perturbKinds: [], seed: i, size, camera });
      if (!r.success) throw new Error(`overfit: the scripted expert failed ${taskId} from initial state ${i}; pick another task`);
      frames += r.frames;
    }
    await writer.finalize();
  } finally {
    camera.destroy();
  }
  const reader = await LeRobotReader.open(io);
  const actions: number[][][] = [];
  for (let e = 0; e < n; e++) {
    const col = (await reader.readEpisode(e, ['action'])).columns.action;
    if (col.dtype !== 'float32') throw new Error(`overfit: the action column is ${col.dtype}, expected float32`);
    const flat = col.data;
    const steps: number[][] = [];
    for (let t = 0; t * ACTION_DIM < flat.length; t++) steps.push(Array.from({ length: ACTION_DIM }, (_, d) => flat[t * ACTION_DIM + d]));
    actions.push(steps);
  }
  return { reader, actions, frames };
}

/** Per-step mean |a - a_demo| over the channels, averaged over the episodes long enough to have step t. */
export function actionErrorCurve(rollouts: readonly (readonly (readonly number[])[])[], demos: readonly (readonly (readonly number[])[])[]): number[] {
  const sums: number[] = [];
  const counts: number[] = [];
  rollouts.forEach((ep, i) => {
    const demo = demos[i];
    const T = Math.min(ep.length, demo.length);
    for (let t = 0; t < T; t++) {
      let e = 0;
      for (let d = 0; d < ACTION_DIM; d++) e += Math.abs(ep[t][d] - demo[t][d]);
      sums[t] = (sums[t] ?? 0) + e / ACTION_DIM;
      counts[t] = (counts[t] ?? 0) + 1;
    }
  });
  return sums.map((s, t) => s / counts[t]);
}

interface StageContext {
  rt: Runtime;
  taskId: string;
  initStates: number[];
  demoActions: number[][][];
  imageSize: number;
  executeSteps?: number;
}

/** One closed-loop check of a checkpoint in `mode` from the stage's initial states. */
async function rollOut(ctx: StageContext, data: CheckpointData, mode: PrtsPolicyMode): Promise<EvalResults> {
  const policy = await prtsPolicyFromCheckpoint(data, { mode, rt: ctx.rt, seed: 0 });
  try {
    return await evaluate(policy, {
      tasks: [ctx.taskId],
      initStates: ctx.initStates,
      envsPerBatch: ctx.initStates.length,
      executeSteps: ctx.executeSteps,
      keepActions: true,
      camera: { width: ctx.imageSize, height: ctx.imageSize, device: ctx.rt.device },
    });
  } finally {
    policy.dispose();
  }
}

function modeResult(mode: PrtsPolicyMode, ctx: StageContext, res: EvalResults, checks: OverfitCheck[], steps: number, finalLoss: number, seconds: number): OverfitModeResult {
  const eps = [...res.episodes].sort((a, b) => a.initState - b.initState);
  const perStepError = actionErrorCurve(
    eps.map((e) => e.actions ?? []),
    eps.map((e) => ctx.demoActions[ctx.initStates.indexOf(e.initState)]),
  );
  const solved = checks.find((c) => c.successes === c.episodes);
  return {
    mode,
    success: eps.filter((e) => e.success).length / eps.length,
    solvedAt: solved ? solved.step : null,
    steps,
    finalLoss,
    checks,
    perStepError,
    meanError: perStepError.length ? perStepError.reduce((a, b) => a + b, 0) / perStepError.length : 0,
    rollouts: eps.map((e) => ({ initState: e.initState, success: e.success, steps: e.steps, demoSteps: ctx.demoActions[ctx.initStates.indexOf(e.initState)].length })),
    policyIssues: eps.reduce((a, e) => a + e.policyIssues, 0),
    seconds,
  };
}

/**
 * Trains with `step` until a check succeeds everywhere or `maxSteps` is reached;
 * `snapshot` gives the checkpoint a check rolls out.
 */
async function trainUntilSolved(
  ctx: StageContext,
  mode: PrtsPolicyMode,
  loop: { step(): Promise<number>; snapshot(): Promise<CheckpointData> },
  maxSteps: number,
  evalEvery: number,
  log: (line: string) => void,
): Promise<{ result: OverfitModeResult; last: CheckpointData }> {
  const t0 = performance.now();
  const checks: OverfitCheck[] = [];
  let loss = NaN;
  let steps = 0;
  let res: EvalResults | null = null;
  let data: CheckpointData | null = null;
  while (steps < maxSteps) {
    loss = await loop.step();
    steps++;
    if (steps % evalEvery !== 0 && steps !== maxSteps) continue;
    data = await loop.snapshot();
    res = await rollOut(ctx, data, mode);
    const successes = res.episodes.filter((e) => e.success).length;
    checks.push({ step: steps, loss, successes, episodes: res.episodes.length });
    log(`  ${mode} step ${steps}: loss ${loss.toFixed(4)}, ${successes}/${res.episodes.length} rollouts succeed`);
    if (successes === res.episodes.length) break;
  }
  return { result: modeResult(mode, ctx, res!, checks, steps, loss, (performance.now() - t0) / 1000), last: data! };
}

/** Runs the overfit check; see the module comment. */
export async function runOverfitCheck(rt: Runtime, opts: OverfitOptions): Promise<OverfitReport> {
  const t0 = performance.now();
  const taskId = opts.task ?? 'reach/touch_red';
  const stages = opts.demos ?? [1, 4];
  const log = opts.onLog ?? (() => {});
  const imageSize = opts.imageSize ?? opts.config.model.imageSize;
  const evalEvery = opts.evalEvery ?? 50;
  const maxPre = opts.maxPretrainSteps ?? opts.config.train.steps;
  const maxPost = opts.maxPosttrainSteps ?? opts.config.train.steps;
  for (const n of stages) if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`demos: ${n} is not a demonstration count in [1, 50]`);
  if (!Number.isInteger(evalEvery) || evalEvery < 1) throw new Error(`evalEvery must be a positive integer, got ${evalEvery}`);
  getTask(taskId);
  const out: OverfitStageResult[] = [];
  for (const n of stages) {
    const initStates = Array.from({ length: n }, (_, i) => i);
    const { reader, actions, frames } = await recordOverfitDemos(rt, taskId, n, imageSize);
    log(`stage ${n} demonstration(s) of ${taskId} (initial states ${initStates.join(', ')}): ${frames} frames`);
    const ctx: StageContext = { rt, taskId, initStates, demoActions: actions, imageSize, executeSteps: opts.executeSteps };
    // One task: every sample of the batch comes from it.
    const config: WorkbenchConfig = { ...opts.config, train: { ...opts.config.train, samplesPerTask: opts.config.train.batchSize, steps: maxPre, warmupSteps: Math.min(opts.config.train.warmupSteps, maxPre) } };
    const pre = await Pretrainer.create(rt, config, reader);
    let ar: { result: OverfitModeResult; last: CheckpointData };
    try {
      ar = await trainUntilSolved(ctx, 'ar', { step: async () => (await pre.step()).bc, snapshot: () => pre.checkpoint() }, maxPre, evalEvery, log);
    } finally {
      pre.dispose();
    }
    const post = await PostTrainRun.create(rt, backboneCheckpoint(ar.last), reader, { steps: maxPost, dit: opts.dit ? { ...opts.dit, ...(opts.dit.dModel ? { mlpHidden: 4 * opts.dit.dModel } : {}) } : undefined });
    let dit: { result: OverfitModeResult };
    try {
      dit = await trainUntilSolved(ctx, 'dit', { step: async () => (await post.step()).loss, snapshot: () => post.checkpoint() }, maxPost, evalEvery, log);
    } finally {
      post.dispose();
    }
    out.push({ demos: n, initStates, demoFrames: frames, ar: ar.result, dit: dit.result });
  }
  const all = (m: 'ar' | 'dit') => {
    const r = out.flatMap((s) => s[m].rollouts);
    return r.filter((x) => x.success).length / r.length;
  };
  return { task: taskId, config: opts.config.name, stages: out, success_ar: all('ar'), success_dit: all('dit'), seconds: (performance.now() - t0) / 1000 };
}
