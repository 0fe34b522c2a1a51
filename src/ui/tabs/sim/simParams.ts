/**
 * The Sim tab's URL state (#/sim?suite=&task=&state=&perturb=&seed=): pure parsing and
 * formatting, so a shared link opens the same scene and the rules are unit-tested
 * (tests/unit/ui/sim-params.test.ts). Unknown values fall back to defaults instead of
 * failing: a stale link still opens a valid scene.
 */
import { MAX_INIT_STATES_PER_TASK, PERTURBATION_KINDS, type PerturbationKind } from '../../../sim/index.ts';
import { intParam } from '../../lib/route.ts';

export interface SimSelection {
  suite: string;
  task: string;
  /** Initial state index: 0..INIT_STATES_PER_TASK-1 are the benchmark's fixed states, the rest up to MAX_INIT_STATES_PER_TASK-1 the training-only ones. */
  state: number;
  /** Perturbation axes, in PERTURBATION_KINDS order (so equal sets give equal links). */
  perturb: PerturbationKind[];
  /** Seed of the perturbation draw. */
  seed: number;
}

export function parseSimParams(params: Record<string, string>, suites: ReadonlyArray<{ suite: string; tasks: string[] }>): SimSelection {
  const suite = suites.find((s) => s.suite === params.suite) ?? suites[0];
  const tasks = suite?.tasks ?? [];
  // A task id names its suite ("goal/open_drawer"), so a link with only task= still works.
  const byTask = params.task ? suites.find((s) => s.tasks.includes(params.task!)) : undefined;
  const effSuite = byTask && !params.suite ? byTask : suite;
  const effTasks = effSuite?.tasks ?? tasks;
  const task = effTasks.includes(params.task ?? '') ? params.task! : (effTasks[0] ?? '');
  const wanted = new Set((params.perturb ?? '').split(',').filter(Boolean));
  const perturb = PERTURBATION_KINDS.filter((k) => wanted.has(k));
  return {
    suite: effSuite?.suite ?? '',
    task,
    state: intParam(params, 'state', 0, 0, MAX_INIT_STATES_PER_TASK - 1),
    perturb,
    seed: intParam(params, 'seed', 0, 0, 2 ** 31 - 1),
  };
}

/** URL updates for a selection; defaults are dropped so plain links stay short. */
export function simParamUpdates(s: SimSelection): Record<string, string | number | null> {
  return {
    suite: s.suite || null,
    task: s.task || null,
    state: s.state || null,
    perturb: s.perturb.length ? PERTURBATION_KINDS.filter((k) => s.perturb.includes(k)).join(',') : null,
    seed: s.perturb.length && s.seed ? s.seed : null,
  };
}
