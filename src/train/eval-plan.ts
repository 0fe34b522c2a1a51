/**
 * What an evaluation runs (eval.ts): its options, the perturbation axes, and the plan of
 * episodes with their seeds and perturbation records. Separate from the rollout loop
 * because planning is pure and cheap (no environment, no policy), so the episode list and
 * its seeds can be computed and checked on their own (the Sim tab seeds its rollouts
 * with episodeSeed).
 */
import {
  getInitState,
  getTask,
  INIT_STATES_PER_TASK,
  MAX_INIT_STATES_PER_TASK,
  listTasks,
  PERTURBATION_KINDS,
  SUITES,
  samplePerturbation,
  type Perturbation,
  type PerturbationKind,
  type Suite,
  type TaskSpec,
} from '../sim/index';

export type EvalAxis = 'nominal' | PerturbationKind;
/** Every axis the harness knows, in table order. */
export const EVAL_AXES: readonly EvalAxis[] = ['nominal', ...PERTURBATION_KINDS];

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

export function resolveStates(opts: EvalOptions): number[] {
  const states = opts.initStates ?? Array.from({ length: INIT_STATES_PER_TASK }, (_, i) => i);
  if (states.length === 0) throw new Error('initStates: give at least one initial state');
  for (const s of states) {
    // 0-49 are the benchmark's states; 50 and up are training-only (npm run gen --first-state),
    // accepted so that a policy can be checked on its own training scenes.
    if (!Number.isInteger(s) || s < 0 || s >= MAX_INIT_STATES_PER_TASK) throw new Error(`initStates: ${s} is not an index in [0, ${MAX_INIT_STATES_PER_TASK - 1}]`);
  }
  if (new Set(states).size !== states.length) throw new Error(`initStates: duplicate indices in [${states.join(', ')}]`);
  return states;
}

export function resolveAxes(opts: EvalOptions): EvalAxis[] {
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
export function planEpisodes(opts: EvalOptions = {}): { episodes: EpisodePlan[]; skipped: SkippedEpisode[]; initStates: number[]; perturbations: EvalAxis[] } {
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
  // The resolved settings too, so the results record what ran without resolving twice.
  return { episodes, skipped, initStates: states, perturbations: axes };
}
