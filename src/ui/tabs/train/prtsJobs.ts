/**
 * The Train tab's PRTS jobs (pre-training, post-training) as pure functions of the form
 * settings: per-field validation and the job spec to start. No React, no IndexedDB:
 * unit-tested in Node (tests/unit/ui/train-prts.test.ts). The worker checks the same
 * things again (worker/jobs/pretrain.ts, posttrain.ts); these give the per-field
 * messages before anything starts.
 */
import type { JobParams } from '../../../../worker/protocol.ts';
import type { RunSummary } from '../../../../worker/jobs/runs.ts';
import type { ValidationResult, WorkbenchConfig } from '../../../model/config.ts';
import type { GpuStatus } from '../../stores/gpu.ts';

export type RunMode = 'new' | 'continue';

/**
 * The Train tab's job kind when the URL names none: PRTS pre-training, unless the GPU
 * worker found no WebGPU adapter ('error'), when the CPU MLP is the job that can run.
 * While the worker starts the answer is not known yet; pre-training is shown (its start
 * button waits for the worker) so the form does not jump once it is.
 */
export function defaultJobKind(gpu: GpuStatus): 'pretrain' | 'cpu-mlp' {
  return gpu === 'error' || gpu === 'unavailable' ? 'cpu-mlp' : 'pretrain';
}

export interface PretrainSettings {
  mode: RunMode;
  /** new: the server dataset. */
  dataset: string;
  /** new: steps of the run; continue: the step to train until. */
  steps: number;
  /** new: the run's name ('' = the suggested one). */
  name: string;
  /** continue: the pre-training run to continue. */
  run: string;
}

export interface PosttrainSettings {
  mode: RunMode;
  /** new: the pre-training run to attach the DiT to. */
  source: string;
  /** new: the server dataset ('' = the source run's). */
  dataset: string;
  steps: number;
  seed: number;
  freezeBackbone: boolean;
  name: string;
  /** continue: the post-training run to continue. */
  run: string;
}

export interface PrtsSettings {
  pretrain: PretrainSettings;
  posttrain: PosttrainSettings;
  /** Save the run's checkpoint to IndexedDB every this many steps (0: at the end only; always also on cancel). */
  checkpointEvery: number;
}

export const DEFAULT_PRTS: PrtsSettings = {
  pretrain: { mode: 'new', dataset: '', steps: 200, name: '', run: '' },
  posttrain: { mode: 'new', source: '', dataset: '', steps: 100, seed: 0, freezeBackbone: false, name: '', run: '' },
  checkpointEvery: 50,
};

export interface FormContext {
  /** Server datasets; null while unknown (server offline or not answered yet). */
  datasets: string[] | null;
  runs: readonly RunSummary[];
  /** The Model tab's config, validated. */
  config: ValidationResult<WorkbenchConfig>;
  /** Runs that a running or paused job is writing now. */
  busy?: readonly string[];
}

export type PretrainField = 'config' | 'dataset' | 'steps' | 'name' | 'run' | 'checkpointEvery';
export type PosttrainField = 'source' | 'dataset' | 'steps' | 'seed' | 'name' | 'run' | 'checkpointEvery';

export interface Form<F extends string, K extends 'pretrain' | 'posttrain'> {
  errors: Partial<Record<F, string>>;
  /** The run the job writes (the typed name or the suggestion). */
  name: string;
  /** The job to start; null while any field has an error. */
  spec: { kind: K; params: JobParams[K] } | null;
  label: string;
  /** What the form's selects show: the typed choice, or the only one there is. */
  chosen: { dataset?: string; source?: string };
}

/**
 * The only option when there is exactly one, so a form over a server with one dataset
 * (or a browser with one pre-training run) opens ready to start instead of with an error.
 */
export function onlyChoice(typed: string, options: readonly string[] | null | undefined): string {
  return typed || (options?.length === 1 ? options[0] : '');
}

/** The forms' labels of the error keys that are not their own label. */
const FIELD_LABELS: Record<string, string> = { config: "Model tab's config", name: 'run name', source: 'pre-training run', checkpointEvery: 'save every' };

/** Why Start is disabled, naming the fields, which the form shows above this message. */
export function blockerText(errors: Partial<Record<string, string>>, labels: Partial<Record<string, string>> = FIELD_LABELS): string | null {
  const keys = Object.keys(errors).filter((k) => errors[k]);
  if (!keys.length) return null;
  return `fix the field${keys.length > 1 ? 's' : ''} marked above (${keys.map((k) => labels[k] ?? k).join(', ')})`;
}

export const RUN_NAME = /^[\w.-]{1,64}$/;
const MAX_STEPS = 10_000_000;

/** `base`, or `base-2`, `base-3`, ... : the first that no run (and no running job) has. */
export function uniqueRunName(base: string, runs: readonly RunSummary[], busy: readonly string[] = []): string {
  const clean = base.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56) || 'run';
  const taken = new Set([...runs.map((r) => r.name), ...busy]);
  if (!taken.has(clean)) return clean;
  for (let k = 2; ; k++) if (!taken.has(`${clean}-${k}`)) return `${clean}-${k}`;
}

function stepsError(steps: number, atLeast = 1): string | undefined {
  if (!Number.isInteger(steps) || steps < atLeast || steps > MAX_STEPS) {
    return atLeast > 1 ? `the run is at step ${atLeast - 1}: train until a later step (a whole number in [${atLeast}, ${MAX_STEPS}])` : `steps must be a whole number in [1, ${MAX_STEPS}]`;
  }
  return undefined;
}

function everyError(n: number): string | undefined {
  return Number.isInteger(n) && n >= 0 && n <= 1_000_000 ? undefined : 'save every must be a whole number of steps >= 0 (0: only at the end)';
}

function newNameError(name: string, ctx: FormContext): string | undefined {
  if (!RUN_NAME.test(name)) return 'run names are 1-64 letters, digits, ".", "_" or "-"';
  if (ctx.busy?.includes(name)) return `a running job is writing run "${name}": choose another name`;
  if (ctx.runs.some((r) => r.name === name)) return `a browser run named "${name}" exists: choose another name, or continue that run`;
  return undefined;
}

function datasetError(ds: string, datasets: string[] | null, what = 'choose a server dataset'): string | undefined {
  if (!ds) return what;
  if (datasets && !datasets.includes(ds)) return `dataset "${ds}" is not on the server (datasets: ${datasets.join(', ') || 'none'})`;
  return undefined;
}

/** A saved run continues on its own dataset; an imported Node run records none. */
function runDatasetError(run: RunSummary, datasets: string[] | null): string | undefined {
  if (!run.dataset) return `run "${run.name}" records no dataset (imported from an archive of a Node run): continue it with npm run train -- --resume, or post-train it on a dataset`;
  return datasetError(run.dataset, datasets);
}

function runError(name: string, ctx: FormContext, kind: RunSummary['kind'], what: string): string | undefined {
  if (!name) return `choose the ${what}`;
  const r = ctx.runs.find((x) => x.name === name);
  if (!r) return `there is no browser run "${name}"`;
  if (r.kind !== kind) return `"${name}" is a ${r.kind === 'posttrain' ? 'post-training' : 'pre-training'} run`;
  if (ctx.busy?.includes(name)) return `a running job is writing run "${name}": wait for it to end (or cancel it)`;
  return undefined;
}

/** The step to train until when continuing `run`: its planned end if it stopped early, else twice as far. */
export function continueSteps(run: RunSummary): number {
  return run.totalSteps !== undefined && run.totalSteps > run.steps ? run.totalSteps : Math.max(run.steps + 1, 2 * run.steps);
}

/**
 * Checks shared by continuing either kind of run: the run exists and is of that kind, the
 * new end step lies beyond its saved step, and its dataset is still served. Errors go into
 * `errors`; returns the run when it was found.
 */
function continueChecks(
  s: { run: string; steps: number },
  ctx: FormContext,
  kind: 'pretrain' | 'posttrain',
  what: string,
  errors: Partial<Record<'run' | 'steps' | 'dataset', string>>,
): RunSummary | undefined {
  const re = runError(s.run, ctx, kind, what);
  const run = ctx.runs.find((r) => r.name === s.run);
  if (re) errors.run = re;
  else if (run) {
    const se = stepsError(s.steps, run.steps + 1);
    if (se) errors.steps = se;
    const de = runDatasetError(run, ctx.datasets);
    if (de) errors.dataset = de;
  }
  return run;
}

export function pretrainForm(s: PretrainSettings, every: number, ctx: FormContext): Form<PretrainField, 'pretrain'> {
  const errors: Partial<Record<PretrainField, string>> = {};
  const e = everyError(every);
  if (e) errors.checkpointEvery = e;
  if (s.mode === 'continue') {
    const run = continueChecks(s, ctx, 'pretrain', 'pre-training run to continue', errors);
    const ok = Object.keys(errors).length === 0 && run;
    return {
      errors,
      name: s.run,
      // The run continues with its saved config: the Model tab's plays no part.
      spec: ok ? { kind: 'pretrain', params: { dataset: run.dataset, steps: s.steps, name: run.name, checkpointEvery: every, resume: true } } : null,
      label: `pretrain ${s.run} → step ${s.steps}`,
      chosen: {},
    };
  }
  if (!ctx.config.ok) errors.config = `the Model tab's config is invalid (${ctx.config.errors.map((x) => x.path).join(', ')}): fix it there`;
  const dataset = onlyChoice(s.dataset, ctx.datasets);
  const de = datasetError(dataset, ctx.datasets);
  if (de) errors.dataset = de;
  const se = stepsError(s.steps);
  if (se) errors.steps = se;
  const typed = s.name.trim() !== '';
  const name = typed ? s.name.trim() : uniqueRunName(`${ctx.config.ok ? ctx.config.value.name : 'prts'}-${dataset || 'data'}`, ctx.runs, ctx.busy);
  const ne = newNameError(name, ctx);
  if (ne) errors.name = ne;
  const ok = Object.keys(errors).length === 0 && ctx.config.ok;
  return {
    errors,
    name,
    spec: ok && ctx.config.ok ? { kind: 'pretrain', params: { dataset, config: ctx.config.value, steps: s.steps, name, checkpointEvery: every } } : null,
    label: `pretrain ${name}`,
    chosen: { dataset },
  };
}

export function posttrainForm(s: PosttrainSettings, every: number, ctx: FormContext): Form<PosttrainField, 'posttrain'> {
  const errors: Partial<Record<PosttrainField, string>> = {};
  const e = everyError(every);
  if (e) errors.checkpointEvery = e;
  if (s.mode === 'continue') {
    const run = continueChecks(s, ctx, 'posttrain', 'post-training run to continue', errors);
    const ok = Object.keys(errors).length === 0 && run;
    return {
      errors,
      name: s.run,
      spec: ok
        ? { kind: 'posttrain', params: { source: run.source ?? '', dataset: run.dataset, steps: s.steps, seed: 0, freezeBackbone: run.freezeBackbone ?? false, name: run.name, checkpointEvery: every, resume: true } }
        : null,
      label: `posttrain ${s.run} → step ${s.steps}`,
      chosen: {},
    };
  }
  const source = onlyChoice(s.source, ctx.runs.filter((r) => r.kind === 'pretrain').map((r) => r.name));
  const sourceError = runError(source, ctx, 'pretrain', 'pre-training run to post-train');
  if (sourceError) errors.source = sourceError;
  const src = ctx.runs.find((r) => r.name === source);
  const dataset = s.dataset || src?.dataset || '';
  const de = datasetError(dataset, ctx.datasets, 'choose a server dataset (default: the source run\'s)');
  if (de) errors.dataset = de;
  const se = stepsError(s.steps);
  if (se) errors.steps = se;
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff) errors.seed = 'seed must be a whole number in [0, 4294967295]';
  const typed = s.name.trim() !== '';
  const name = typed ? s.name.trim() : uniqueRunName(`${source || 'run'}-post`, ctx.runs, ctx.busy);
  const ne = newNameError(name, ctx) ?? (name === source ? 'the post-trained run needs a name of its own (this is its source run)' : undefined);
  if (ne) errors.name = ne;
  const ok = Object.keys(errors).length === 0;
  return {
    errors,
    name,
    spec: ok ? { kind: 'posttrain', params: { source, dataset, steps: s.steps, seed: s.seed, freezeBackbone: s.freezeBackbone, name, checkpointEvery: every } } : null,
    label: `posttrain ${name}`,
    chosen: { source },
  };
}
