/**
 * The harness's rollout loop (eval.ts): environments in one BatchEnv, stepped with
 * receding-horizon execution of the policy's chunks until each episode succeeds or hits
 * its step limit, and rolloutEpisode, one episode through the same loop with a per-step
 * observer for the Sim tab (src/train/rollout.ts). Separate from evaluate() so the Sim
 * tab's rollouts reach the loop without the evaluation's planning and bookkeeping.
 */
import { BatchEnv, type EpisodeRecord, type Observation, type Perturbation } from '../sim/index';
import { RecedingHorizonExecutor, type EpisodeStart, type Policy, type PolicyInput } from './policy';

function abortError(): Error {
  const e = new Error('evaluation aborted');
  e.name = 'AbortError';
  return e;
}

/** One environment of a rollEpisodes batch: its scene and what the policy is told at reset. */
export interface EpisodeSlot {
  taskId: string;
  initState: number;
  /** The perturbation record the scene is built with (null: nominal). */
  perturbation: Perturbation | null;
  /** EpisodeStart.perturbation: 'nominal' or the axis (axes) it was drawn from. */
  axis: string;
  /** EpisodeStart.seed: seeds a stochastic policy's sampling. */
  seed: number;
}

/**
 * Sees a batch after reset (step 0, actions null) and after every control step (the
 * actions every environment just executed); awaited, so it may pause or throw to stop.
 */
export type StepObserver = (step: number, env: BatchEnv, obs: Observation[], actions: Float32Array[] | null) => void | Promise<void>;

interface RollContext {
  policy: Policy;
  executor: RecedingHorizonExecutor;
  camera: { width: number; height: number; device: GPUDevice } | null;
  maxSteps?: number;
  signal?: AbortSignal;
  /** After each step: the step count and how many environments ran it. */
  onStep?: (step: number, envSteps: number) => void;
  observe?: StepObserver;
}

/**
 * The harness's rollout loop: the slots' environments in one BatchEnv, stepped until
 * every episode has succeeded or hit its step limit; each episode's record is taken at
 * the step it finished. Evaluation batches and the Sim tab's single rollouts (rolloutEpisode)
 * both run through here.
 */
export async function rollEpisodes(slots: EpisodeSlot[], ctx: RollContext): Promise<Array<{ record: EpisodeRecord; maxSteps: number; policyIssues: number }>> {
  const env = await BatchEnv.create(
    slots.map((p) => ({ task: p.taskId, initState: p.initState, perturbation: p.perturbation })),
    ctx.camera ? { device: ctx.camera.device, width: ctx.camera.width, height: ctx.camera.height, readback: true } : false,
  );
  try {
    let obs = await env.reset();
    await ctx.observe?.(0, env, obs, null);
    const worlds = env.worlds;
    const configs = env.configs();
    const privileged = !!ctx.policy.privileged;
    const limits = configs.map((c) => ctx.maxSteps ?? c.task.maxSteps);
    const starts: EpisodeStart[] = slots.map((p, i) => ({
      envId: i,
      taskId: p.taskId,
      instruction: configs[i].instruction,
      initState: p.initState,
      perturbation: p.axis,
      seed: p.seed,
      world: privileged ? worlds[i] : undefined,
    }));
    await ctx.executor.reset(starts);
    const results: Array<{ record: EpisodeRecord; maxSteps: number; policyIssues: number } | null> = slots.map(() => null);
    let active = slots.map((_, i) => i);
    // Finished environments keep stepping with a zero action (BatchEnv steps all of them
    // and renders them in one dispatch); their results were taken when they finished.
    const hold = new Float32Array(7);
    for (let t = 0; active.length > 0; t++) {
      if (ctx.signal?.aborted) throw abortError();
      const inputs: PolicyInput[] = active.map((i) => ({
        envId: i,
        obs: obs[i],
        instruction: configs[i].instruction,
        taskId: slots[i].taskId,
        world: privileged ? worlds[i] : undefined,
      }));
      const acts = await ctx.executor.next(inputs);
      const all: Float32Array[] = slots.map(() => hold);
      active.forEach((i, j) => (all[i] = acts[j]));
      const res = await env.step(all);
      obs = res.map((r) => r.obs);
      const finished = active.filter((i) => res[i].success || res[i].obs.step >= limits[i]);
      if (finished.length > 0) {
        const recs = env.records();
        for (const i of finished) {
          results[i] = { record: recs[i], maxSteps: limits[i], policyIssues: ctx.policy.episodeIssues?.(i) ?? 0 };
          ctx.executor.finish(i);
        }
        active = active.filter((i) => !finished.includes(i));
      }
      ctx.onStep?.(t + 1, active.length + finished.length);
      await ctx.observe?.(t + 1, env, obs, all);
    }
    return results as Array<{ record: EpisodeRecord; maxSteps: number; policyIssues: number }>;
  } finally {
    env.dispose();
  }
}

export interface SingleRolloutOptions {
  /** Actions executed per chunk before re-planning (default: the policy's executeSteps, else its chunkSize). */
  executeSteps?: number;
  /** Overrides the task's step limit. */
  maxSteps?: number;
  /** Observation cameras; required when the policy needs images. */
  camera?: { width: number; height: number; device: GPUDevice };
  signal?: AbortSignal;
  observe?: StepObserver;
}

/**
 * One episode through the harness's loop, as `evaluate` runs each of its episodes
 * (same termination, receding-horizon execution and seeding), for callers that want to
 * watch it step by step (the Sim tab's rollout job).
 */
export async function rolloutEpisode(policy: Policy, slot: EpisodeSlot, opts: SingleRolloutOptions = {}): Promise<{ record: EpisodeRecord; maxSteps: number; policyIssues: number; actCalls: number; executeSteps: number }> {
  if (opts.maxSteps !== undefined && (!Number.isInteger(opts.maxSteps) || opts.maxSteps < 1)) throw new Error(`maxSteps must be a positive integer, got ${opts.maxSteps}`);
  if (policy.needsImages && !opts.camera) throw new Error(`policy '${policy.name}' needs camera images: pass camera { width, height, device }`);
  const executor = new RecedingHorizonExecutor(policy, { executeSteps: opts.executeSteps });
  const [out] = await rollEpisodes([slot], {
    policy,
    executor,
    camera: policy.needsImages ? opts.camera! : null,
    maxSteps: opts.maxSteps,
    signal: opts.signal,
    observe: opts.observe,
  });
  return { ...out, actCalls: executor.actCalls, executeSteps: executor.executeSteps };
}
