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
 * aggregates per suite and per axis, episode records (optionally with actions, for value
 * curves), a markdown renderer for docs/results.md and a comparison of two result sets
 * (CRL vs no-CRL) with Newcombe difference intervals.
 *
 * rolloutEpisode runs one episode through the same loop with a per-step observer, for
 * the Sim tab's checkpoint rollouts (src/train/rollout.ts).
 */
import { newcombeDifference, wilsonInterval } from './intervals';
import {
  BatchEnv,
  getInitState,
  getTask,
  INIT_STATES_PER_TASK,
  listTasks,
  PERTURBATION_KINDS,
  SUITES,
  samplePerturbation,
  type EpisodeRecord,
  type Observation,
  type Perturbation,
  type PerturbationKind,
  type Suite,
  type TaskSpec,
} from '../sim/index';
import { RecedingHorizonExecutor, type EpisodeStart, type Policy, type PolicyInput } from './policy';

export type EvalAxis = 'nominal' | PerturbationKind;
/** Every axis the harness knows, in table order. */
export const EVAL_AXES: readonly EvalAxis[] = ['nominal', ...PERTURBATION_KINDS];
export const RESULTS_SCHEMA = 'prts-workbench/eval-results@1';

export interface EvalProgress {
  episodesDone: number;
  episodesTotal: number;
  successes: number;
  batch: number;
  batches: number;
  /** Control step reached in the current batch. */
  step: number;
  elapsedMs: number;
  /** Remaining time extrapolated from finished episodes (null before the first batch ends). */
  etaMs: number | null;
  envStepsPerS: number;
}

export interface EvalOptions {
  /** Suites to run (default all four); ignored for tasks named in `tasks`. */
  suites?: Suite[];
  /** Task ids ("goal/open_drawer"); default every task of the suites. */
  tasks?: string[];
  /** Indices of the fixed initial states (default 0..49). */
  initStates?: number[];
  /** Axes (default ['nominal']). */
  perturbations?: EvalAxis[];
  /** Environments stepped together (default 16). */
  envsPerBatch?: number;
  /** Evaluation seed (default 0). */
  seed?: number;
  /** Actions executed per chunk before re-planning (default: the policy's executeSteps, else its chunkSize). */
  executeSteps?: number;
  /** Overrides every task's step limit (default: the task spec's maxSteps). */
  maxSteps?: number;
  /** Observation cameras, used only when the policy needs images. */
  camera?: { width?: number; height?: number; device?: GPUDevice };
  /** Keep each episode's actions in the results (for value curves; large). */
  keepActions?: boolean;
  /** Confidence level of the intervals (default 0.95). */
  level?: number;
  onProgress?: (p: EvalProgress) => void;
  /** Stops between control steps with an AbortError. */
  signal?: AbortSignal;
}

/** One planned episode. */
export interface EpisodePlan {
  index: number;
  suite: Suite;
  taskId: string;
  initState: number;
  perturbation: EvalAxis;
  seed: number;
  /** The logged perturbation record (null for nominal). */
  record: Perturbation | null;
}

export interface SkippedEpisode {
  taskId: string;
  initState: number;
  perturbation: EvalAxis;
  reason: string;
}

export interface EpisodeResult {
  index: number;
  suite: Suite;
  taskId: string;
  initState: number;
  perturbation: EvalAxis;
  seed: number;
  instruction: string;
  perturbationRecord: Perturbation | null;
  success: boolean;
  steps: number;
  maxSteps: number;
  /** Physics state hash when the episode ended (replay / batching checks). */
  finalStateHash: string;
  /** Problems the policy reported for this episode (Policy.episodeIssues: e.g. AR chunks that did not decode). */
  policyIssues: number;
  actions?: number[][];
}

export interface RateSummary {
  successes: number;
  n: number;
  rate: number;
  lo: number;
  hi: number;
}

export interface CellResult extends RateSummary {
  suite: Suite;
  taskId: string;
  perturbation: EvalAxis;
  meanSteps: number;
  /** Episodes of this cell the axis could not be applied to (see `skipped`). */
  skipped: number;
}

export interface AggregateResult extends RateSummary {
  /** A suite, or 'all'. */
  suite: Suite | 'all';
  /** An axis, or 'all' (pooled over the axes run, LIBERO-Plus's "total"). */
  perturbation: EvalAxis | 'all';
}

export interface EvalResults {
  schema: typeof RESULTS_SCHEMA;
  policy: string;
  chunkSize: number;
  executeSteps: number;
  config: {
    suites: Suite[];
    tasks: string[];
    initStates: number[];
    perturbations: EvalAxis[];
    seed: number;
    envsPerBatch: number;
    maxSteps: number | null;
    camera: { width: number; height: number } | null;
    level: number;
  };
  cells: CellResult[];
  aggregates: AggregateResult[];
  episodes: EpisodeResult[];
  skipped: SkippedEpisode[];
  /** Policy.diagnostics() after the run ({} when the policy has none). */
  policyDiagnostics: Record<string, unknown>;
  timing: { seconds: number; envSteps: number; envStepsPerS: number; actCalls: number };
}

// ------------------------------------------------------------------ planning

/** FNV-1a over a string: stable per-episode seeds from names. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The seed of an episode: a function of its identity only. */
export function episodeSeed(seed: number, taskId: string, initState: number, axis: EvalAxis): number {
  return hash32(`${seed}|${taskId}|${initState}|${axis}`);
}

function resolveTasks(opts: EvalOptions): TaskSpec[] {
  if (opts.tasks?.length) {
    return opts.tasks.map((id) => {
      try {
        return getTask(id);
      } catch {
        throw new Error(`tasks: unknown task '${id}' (known: ${listTasks().map((t) => t.id).join(', ')})`);
      }
    });
  }
  const suites = opts.suites ?? [...SUITES];
  if (suites.length === 0) throw new Error('suites: give at least one suite');
  for (const s of suites) if (!SUITES.includes(s)) throw new Error(`suites: unknown suite '${s}' (known: ${SUITES.join(', ')})`);
  return suites.flatMap((s) => listTasks(s));
}

function resolveStates(opts: EvalOptions): number[] {
  const states = opts.initStates ?? Array.from({ length: INIT_STATES_PER_TASK }, (_, i) => i);
  if (states.length === 0) throw new Error('initStates: give at least one initial state');
  for (const s of states) {
    if (!Number.isInteger(s) || s < 0 || s >= INIT_STATES_PER_TASK) throw new Error(`initStates: ${s} is not an index in [0, ${INIT_STATES_PER_TASK - 1}]`);
  }
  if (new Set(states).size !== states.length) throw new Error(`initStates: duplicate indices in [${states.join(', ')}]`);
  return states;
}

function resolveAxes(opts: EvalOptions): EvalAxis[] {
  const axes = opts.perturbations ?? ['nominal'];
  if (axes.length === 0) throw new Error('perturbations: give at least one axis');
  for (const a of axes) if (!EVAL_AXES.includes(a)) throw new Error(`perturbations: unknown axis '${a}' (known: ${EVAL_AXES.join(', ')})`);
  if (new Set(axes).size !== axes.length) throw new Error(`perturbations: duplicate axes in [${axes.join(', ')}]`);
  return axes;
}

/**
 * Every episode of an evaluation, in task order (so a batch mostly shares one step
 * limit), with its seed and perturbation record drawn. An axis that does not apply to a
 * task's scene (samplePerturbation throws) is listed in `skipped` with the reason.
 */
export function planEpisodes(opts: EvalOptions = {}): { episodes: EpisodePlan[]; skipped: SkippedEpisode[] } {
  const tasks = resolveTasks(opts);
  const states = resolveStates(opts);
  const axes = resolveAxes(opts);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const episodes: EpisodePlan[] = [];
  const skipped: SkippedEpisode[] = [];
  for (const task of tasks) {
    for (const axis of axes) {
      for (const s of states) {
        const epSeed = episodeSeed(seed, task.id, s, axis);
        let record: Perturbation | null = null;
        if (axis !== 'nominal') {
          try {
            record = samplePerturbation(task, getInitState(task, s), [axis], epSeed);
          } catch (e) {
            skipped.push({ taskId: task.id, initState: s, perturbation: axis, reason: (e as Error).message });
            continue;
          }
        }
        episodes.push({ index: episodes.length, suite: task.suite, taskId: task.id, initState: s, perturbation: axis, seed: epSeed, record });
      }
    }
  }
  return { episodes, skipped };
}

// ------------------------------------------------------------------ running

function abortError(): Error {
  const e = new Error('evaluation aborted');
  e.name = 'AbortError';
  return e;
}

interface BatchContext {
  policy: Policy;
  executor: RecedingHorizonExecutor;
  camera: { width: number; height: number; device: GPUDevice } | null;
  maxSteps?: number;
  keepActions: boolean;
  signal?: AbortSignal;
  onStep: (step: number, envSteps: number) => void;
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
async function rollEpisodes(slots: EpisodeSlot[], ctx: RollContext): Promise<Array<{ record: EpisodeRecord; maxSteps: number; policyIssues: number }>> {
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

function rate(successes: number, n: number, level: number): RateSummary {
  const ci = wilsonInterval(successes, n, level);
  return { successes, n, rate: ci.estimate, lo: ci.lo, hi: ci.hi };
}

/** Per-cell and pooled aggregates from episode results. */
export function summarize(
  episodes: EpisodeResult[],
  skipped: SkippedEpisode[],
  level = 0.95,
): { cells: CellResult[]; aggregates: AggregateResult[] } {
  const cellMap = new Map<string, { suite: Suite; taskId: string; perturbation: EvalAxis; k: number; n: number; steps: number; skipped: number }>();
  const key = (taskId: string, axis: string) => `${taskId}|${axis}`;
  for (const e of episodes) {
    const k = key(e.taskId, e.perturbation);
    let c = cellMap.get(k);
    if (!c) cellMap.set(k, (c = { suite: e.suite, taskId: e.taskId, perturbation: e.perturbation, k: 0, n: 0, steps: 0, skipped: 0 }));
    c.n++;
    c.steps += e.steps;
    if (e.success) c.k++;
  }
  for (const s of skipped) {
    const c = cellMap.get(key(s.taskId, s.perturbation));
    if (c) c.skipped++;
  }
  const cells: CellResult[] = [...cellMap.values()].map((c) => ({
    suite: c.suite,
    taskId: c.taskId,
    perturbation: c.perturbation,
    ...rate(c.k, c.n, level),
    meanSteps: c.steps / c.n,
    skipped: c.skipped,
  }));
  // Pooled counts: with equal episodes per task this is LIBERO's mean over tasks, and the
  // Wilson interval then covers the pooled proportion.
  const agg = new Map<string, { suite: Suite | 'all'; perturbation: EvalAxis | 'all'; k: number; n: number }>();
  const axesRun = new Set(cells.map((c) => c.perturbation));
  const suitesRun = new Set(cells.map((c) => c.suite));
  for (const c of cells) {
    const keys: Array<[Suite | 'all', EvalAxis | 'all']> = [
      [c.suite, c.perturbation],
      ['all', c.perturbation],
    ];
    if (axesRun.size > 1) keys.push([c.suite, 'all'], ['all', 'all']);
    for (const [s, p] of keys) {
      if (s === 'all' && suitesRun.size === 1) continue; // would repeat the suite's row
      const k = `${s}|${p}`;
      let a = agg.get(k);
      if (!a) agg.set(k, (a = { suite: s, perturbation: p, k: 0, n: 0 }));
      a.k += c.successes;
      a.n += c.n;
    }
  }
  // Table order: suites as in SUITES then 'all'; axes as in EVAL_AXES then 'all'.
  const suiteRank = (x: Suite | 'all') => (x === 'all' ? SUITES.length : SUITES.indexOf(x));
  const axisRank = (x: EvalAxis | 'all') => (x === 'all' ? EVAL_AXES.length : EVAL_AXES.indexOf(x));
  const aggregates = [...agg.values()]
    .sort((x, y) => suiteRank(x.suite) - suiteRank(y.suite) || axisRank(x.perturbation) - axisRank(y.perturbation))
    .map((a) => ({ suite: a.suite, perturbation: a.perturbation, ...rate(a.k, a.n, level) }));
  return { cells, aggregates };
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
  const { episodes: plans, skipped } = planEpisodes(opts);
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
      initStates: resolveStates(opts),
      perturbations: resolveAxes(opts),
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

// ------------------------------------------------------------------ reading results

function need(cond: boolean, field: string, what: string): void {
  if (!cond) throw new Error(`eval results: field '${field}' ${what}`);
}

/** Checks a parsed results JSON (e.g. from a file) and returns it typed. */
export function parseResults(json: unknown, source = 'results'): EvalResults {
  try {
    need(typeof json === 'object' && json !== null, '(root)', 'must be an object');
    const r = json as Record<string, unknown>;
    need(r.schema === RESULTS_SCHEMA, 'schema', `must be '${RESULTS_SCHEMA}', got ${JSON.stringify(r.schema)}`);
    need(typeof r.policy === 'string', 'policy', 'must be a string');
    need(typeof r.config === 'object' && r.config !== null, 'config', 'must be an object');
    for (const f of ['cells', 'aggregates', 'episodes', 'skipped'] as const) need(Array.isArray(r[f]), f, 'must be an array');
    const checkRate = (x: unknown, f: string) => {
      const o = x as Record<string, unknown>;
      for (const k of ['successes', 'n', 'rate', 'lo', 'hi']) need(typeof o?.[k] === 'number', `${f}.${k}`, 'must be a number');
      need(typeof o.suite === 'string', `${f}.suite`, 'must be a string');
      need(typeof o.perturbation === 'string', `${f}.perturbation`, 'must be a string');
    };
    (r.cells as unknown[]).forEach((c, i) => {
      checkRate(c, `cells[${i}]`);
      need(typeof (c as Record<string, unknown>).taskId === 'string', `cells[${i}].taskId`, 'must be a string');
    });
    (r.aggregates as unknown[]).forEach((c, i) => checkRate(c, `aggregates[${i}]`));
    return json as EvalResults;
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}

// ------------------------------------------------------------------ markdown

/** One line for a policy's diagnostics: its counters and last problem, e.g. "arFailures 3, lastFailure ...". */
export function describeDiagnostics(d: Record<string, unknown> | undefined): string {
  if (!d) return 'no diagnostics';
  const parts = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && (typeof v === 'number' || typeof v === 'string'))
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'no diagnostics';
}

const pct = (x: number) => (100 * x).toFixed(1);
const cellText = (r: RateSummary) => `${r.successes}/${r.n} = ${pct(r.rate)} [${pct(r.lo)}, ${pct(r.hi)}]`;

function axesOf(results: EvalResults): Array<EvalAxis | 'all'> {
  const axes: Array<EvalAxis | 'all'> = EVAL_AXES.filter((a) => results.config.perturbations.includes(a));
  if (results.aggregates.some((a) => a.perturbation === 'all')) axes.push('all');
  return axes;
}

/**
 * Markdown tables for docs/results.md: suites x axes (success/n = % [Wilson CI]) and,
 * with perTask, tasks x axes.
 */
export function renderMarkdown(results: EvalResults, opts: { perTask?: boolean; title?: string } = {}): string {
  const axes = axesOf(results);
  const lines: string[] = [];
  const lvl = Math.round(results.config.level * 100);
  lines.push(`### ${opts.title ?? `Policy \`${results.policy}\``}`, '');
  lines.push(
    `Success rate, % [${lvl}% Wilson interval]; ${results.config.initStates.length} initial states per task, seed ${results.config.seed}, chunk ${results.chunkSize} (execute ${results.executeSteps}).`,
    '',
  );
  lines.push(`| suite | ${axes.join(' | ')} |`, `|---|${axes.map(() => '---').join('|')}|`);
  const rows: Array<Suite | 'all'> = [...SUITES.filter((s) => results.config.suites.includes(s))];
  if (results.aggregates.some((a) => a.suite === 'all')) rows.push('all');
  for (const s of rows) {
    const cells = axes.map((a) => {
      const g = results.aggregates.find((x) => x.suite === s && x.perturbation === a);
      return g ? cellText(g) : '-';
    });
    lines.push(`| ${s} | ${cells.join(' | ')} |`);
  }
  if (opts.perTask) {
    const taskAxes = axes.filter((a): a is EvalAxis => a !== 'all');
    lines.push('', `| task | ${taskAxes.join(' | ')} |`, `|---|${taskAxes.map(() => '---').join('|')}|`);
    for (const t of results.config.tasks) {
      const cells = taskAxes.map((a) => {
        const c = results.cells.find((x) => x.taskId === t && x.perturbation === a);
        return c ? cellText(c) : '-';
      });
      lines.push(`| ${t} | ${cells.join(' | ')} |`);
    }
  }
  if (results.skipped.length) lines.push('', `${results.skipped.length} episode(s) skipped: the axis does not apply to the scene (see \`skipped\` in the JSON).`);
  const troubled = results.episodes.filter((e) => (e.policyIssues ?? 0) > 0);
  if (troubled.length) {
    const n = troubled.reduce((a, e) => a + e.policyIssues, 0);
    lines.push('', `Policy problems: ${n} in ${troubled.length} of ${results.episodes.length} episodes (${describeDiagnostics(results.policyDiagnostics)}).`);
  }
  return lines.join('\n') + '\n';
}

// ------------------------------------------------------------------ comparison

export interface ComparisonRow {
  suite: Suite | 'all';
  perturbation: EvalAxis | 'all';
  /** Task id for per-task rows, null for aggregates. */
  taskId: string | null;
  a: RateSummary;
  b: RateSummary;
  /** a.rate - b.rate with Newcombe's hybrid score interval. */
  diff: number;
  lo: number;
  hi: number;
  /** The interval excludes zero. */
  significant: boolean;
}

export interface Comparison {
  a: string;
  b: string;
  level: number;
  rows: ComparisonRow[];
  /** Differences in the evaluation configs that make the comparison unfair. */
  warnings: string[];
}

/**
 * Compares two result sets (e.g. CRL vs no-CRL) on every aggregate and cell both
 * contain. Newcombe's interval treats the two rates as independent; with the same seed
 * the episodes are paired (same states and perturbations), which makes it conservative.
 */
export function compareResults(a: EvalResults, b: EvalResults, opts: { level?: number; perTask?: boolean } = {}): Comparison {
  const level = opts.level ?? a.config.level;
  const warnings: string[] = [];
  const same = (f: keyof EvalResults['config']) => JSON.stringify(a.config[f]) === JSON.stringify(b.config[f]);
  for (const f of ['seed', 'initStates', 'tasks', 'perturbations', 'maxSteps'] as const) {
    if (!same(f)) warnings.push(`config.${f} differs: ${JSON.stringify(a.config[f])} vs ${JSON.stringify(b.config[f])}`);
  }
  if (a.executeSteps !== b.executeSteps) warnings.push(`executeSteps differs: ${a.executeSteps} vs ${b.executeSteps}`);
  const row = (ra: RateSummary, rb: RateSummary, suite: Suite | 'all', perturbation: EvalAxis | 'all', taskId: string | null): ComparisonRow => {
    const d = newcombeDifference(ra.successes, ra.n, rb.successes, rb.n, level);
    const pick = (r: RateSummary) => ({ ...rate(r.successes, r.n, level) });
    return { suite, perturbation, taskId, a: pick(ra), b: pick(rb), diff: d.estimate, lo: d.lo, hi: d.hi, significant: d.lo > 0 || d.hi < 0 };
  };
  const rows: ComparisonRow[] = [];
  for (const x of a.aggregates) {
    const y = b.aggregates.find((g) => g.suite === x.suite && g.perturbation === x.perturbation);
    if (y) rows.push(row(x, y, x.suite, x.perturbation, null));
  }
  if (opts.perTask) {
    for (const x of a.cells) {
      const y = b.cells.find((c) => c.taskId === x.taskId && c.perturbation === x.perturbation);
      if (y) rows.push(row(x, y, x.suite, x.perturbation, x.taskId));
    }
  }
  if (rows.length === 0) warnings.push('the two result sets share no (suite, axis) aggregate');
  return { a: a.policy, b: b.policy, level, rows, warnings };
}

export function renderComparisonMarkdown(c: Comparison, labels: { a?: string; b?: string } = {}): string {
  const la = labels.a ?? c.a;
  const lb = labels.b ?? c.b;
  const lvl = Math.round(c.level * 100);
  const lines = [
    `| suite | axis | ${la} | ${lb} | difference (${lvl}% Newcombe) |`,
    '|---|---|---|---|---|',
    ...c.rows.map(
      (r) =>
        `| ${r.taskId ?? r.suite} | ${r.perturbation} | ${cellText(r.a)} | ${cellText(r.b)} | ${r.diff >= 0 ? '+' : ''}${pct(r.diff)} [${pct(r.lo)}, ${pct(r.hi)}]${r.significant ? ' *' : ''} |`,
    ),
  ];
  lines.push('', `\\* the ${lvl}% interval of the difference excludes zero.`);
  for (const w of c.warnings) lines.push('', `Warning: ${w}`);
  return lines.join('\n') + '\n';
}
