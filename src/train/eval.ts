/**
 * Evaluation harness (issue 6 item 5; PRTS Sec. 6.1-6.3 protocol on our LIBERO-style
 * suites): a policy is rolled out over suites x tasks x fixed initial states x
 * perturbation axes ('nominal' plus every LIBERO-Plus / LIBERO-PRO axis of the
 * simulation), many environments stepped together in BatchEnv, receding-horizon over the
 * policy's action chunks. An episode ends at the first step its goal holds (LIBERO's
 * success) or at the task's step limit.
 *
 * Reproducibility: every episode's seed (perturbation draw, stochastic policies) is a
 * hash of (evaluation seed, task, initial state, axis), never of its batch slot, and the
 * environments of a batch share nothing, so the same seed gives the same results however
 * the episodes are batched. The `timing` block is the only field that differs between
 * two runs.
 *
 * Output: per (suite, task, axis) success counts with Wilson 95% intervals, pooled
 * aggregates per suite and per axis and episode records (optionally with actions, for
 * value curves).
 *
 * This file holds evaluate(), which runs the plan batch by batch and assembles the
 * results; the rest lives beside it: eval-plan.ts (options, axes, the episode plan and
 * seeds), eval-rollout.ts (the rollout loop, and rolloutEpisode, one episode through it
 * with a per-step observer for the Sim tab's checkpoint rollouts, src/train/rollout.ts),
 * eval-results.ts (the results schema, summarize, parseResults), eval-report.ts (the
 * markdown for docs/results.md) and eval-compare.ts (two result sets, e.g. CRL vs
 * no-CRL, with Newcombe difference intervals).
 */
import { planEpisodes, type EpisodePlan, type EvalOptions } from './eval-plan';
import { RESULTS_SCHEMA, summarize, type EpisodeResult, type EvalResults } from './eval-results';
import { rollEpisodes } from './eval-rollout';
import { RecedingHorizonExecutor, type Policy } from './policy';


interface BatchContext {
  policy: Policy;
  executor: RecedingHorizonExecutor;
  camera: { width: number; height: number; device: GPUDevice } | null;
  maxSteps?: number;
  keepActions: boolean;
  signal?: AbortSignal;
  onStep: (step: number, envSteps: number) => void;
}

/** Runs one batch of episodes to completion; results in plan order. */
async function runBatch(plans: EpisodePlan[], ctx: BatchContext): Promise<EpisodeResult[]> {
  const slots = plans.map((p) => ({ taskId: p.taskId, initState: p.initState, perturbation: p.record, axis: p.perturbation, seed: p.seed }));
  const out = await rollEpisodes(slots, ctx);
  return out.map(({ record: r, maxSteps, policyIssues }, i) => {
    const p = plans[i];
    return {
      index: p.index,
      suite: p.suite,
      taskId: p.taskId,
      initState: p.initState,
      perturbation: p.perturbation,
      seed: p.seed,
      instruction: r.instruction,
      perturbationRecord: r.perturbation,
      success: r.success,
      steps: r.steps,
      maxSteps,
      finalStateHash: r.finalStateHash,
      policyIssues,
      ...(ctx.keepActions ? { actions: r.actions } : {}),
    };
  });
}

/**
 * Rolls `policy` out over the planned episodes, envsPerBatch environments at a time,
 * and returns the results (see EvalResults; schema RESULTS_SCHEMA).
 */
export async function evaluate(policy: Policy, opts: EvalOptions = {}): Promise<EvalResults> {
  const t0 = performance.now();
  const level = opts.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new Error(`level must be in (0, 1), got ${level}`);
  const envsPerBatch = opts.envsPerBatch ?? 16;
  if (!Number.isInteger(envsPerBatch) || envsPerBatch < 1) throw new Error(`envsPerBatch must be a positive integer, got ${envsPerBatch}`);
  if (opts.maxSteps !== undefined && (!Number.isInteger(opts.maxSteps) || opts.maxSteps < 1)) throw new Error(`maxSteps must be a positive integer, got ${opts.maxSteps}`);
  const { episodes: plans, skipped, initStates, perturbations } = planEpisodes(opts);
  if (plans.length === 0) throw new Error(`no episode to run: every (task, state, axis) was skipped (${skipped[0]?.reason ?? 'empty plan'})`);
  const executor = new RecedingHorizonExecutor(policy, { executeSteps: opts.executeSteps });

  let camera: BatchContext['camera'] = null;
  let ownDevice: GPUDevice | null = null;
  if (policy.needsImages) {
    const width = opts.camera?.width ?? 64;
    const height = opts.camera?.height ?? width;
    let device = opts.camera?.device;
    if (!device) {
      // One device for the whole evaluation; BatchEnv would otherwise acquire one per batch.
      device = (await (await import('../engine/device')).acquireDevice()).device;
      ownDevice = device;
    }
    camera = { width, height, device };
  }

  const batches: EpisodePlan[][] = [];
  for (let i = 0; i < plans.length; i += envsPerBatch) batches.push(plans.slice(i, i + envsPerBatch));
  const episodes: EpisodeResult[] = [];
  let envSteps = 0;
  let successes = 0;
  const progress = (batch: number, step: number): void => {
    if (!opts.onProgress) return;
    const elapsedMs = performance.now() - t0;
    const done = episodes.length;
    opts.onProgress({
      episodesDone: done,
      episodesTotal: plans.length,
      successes,
      batch,
      batches: batches.length,
      step,
      elapsedMs,
      etaMs: done > 0 ? (elapsedMs / done) * (plans.length - done) : null,
      envStepsPerS: envSteps / Math.max(elapsedMs / 1000, 1e-9),
    });
  };
  try {
    for (let b = 0; b < batches.length; b++) {
      const res = await runBatch(batches[b], {
        policy,
        executor,
        camera,
        maxSteps: opts.maxSteps,
        keepActions: !!opts.keepActions,
        signal: opts.signal,
        onStep: (step, running) => {
          envSteps += running;
          if (step % 50 === 0) progress(b, step);
        },
      });
      for (const r of res) {
        episodes.push(r);
        if (r.success) successes++;
      }
      progress(b + 1, 0);
    }
  } finally {
    ownDevice?.destroy();
  }
  const { cells, aggregates } = summarize(episodes, skipped, level);
  const seconds = (performance.now() - t0) / 1000;
  return {
    schema: RESULTS_SCHEMA,
    policy: policy.name,
    chunkSize: policy.chunkSize,
    executeSteps: executor.executeSteps,
    config: {
      suites: [...new Set(plans.map((p) => p.suite))],
      tasks: [...new Set(plans.map((p) => p.taskId))],
      initStates,
      perturbations,
      seed: opts.seed ?? 0,
      envsPerBatch,
      maxSteps: opts.maxSteps ?? null,
      camera: camera ? { width: camera.width, height: camera.height } : null,
      level,
    },
    cells,
    aggregates,
    episodes,
    skipped,
    policyDiagnostics: policy.diagnostics?.() ?? {},
    timing: { seconds, envSteps, envStepsPerS: envSteps / Math.max(seconds, 1e-9), actCalls: executor.actCalls },
  };
}
