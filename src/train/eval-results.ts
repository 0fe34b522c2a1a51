/**
 * An evaluation's results (eval.ts): the results schema, per-cell and pooled success rates
 * with Wilson intervals (summarize), and the check of a results JSON read back from a file
 * (parseResults). Separate from the rollout so the tables, the comparison and the CLI can
 * work on saved results without loading the simulator's rollout loop.
 */
import { wilsonInterval } from './intervals';
import { SUITES, type Perturbation, type Suite } from '../sim/index';
import { EVAL_AXES, type EpisodePlan, type EvalAxis, type SkippedEpisode } from './eval-plan';

export const RESULTS_SCHEMA = 'prts-workbench/eval-results@1';

/** A planned episode (its record renamed perturbationRecord) and how it went. */
export interface EpisodeResult extends Omit<EpisodePlan, 'record'> {
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

export function rate(successes: number, n: number, level: number): RateSummary {
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
