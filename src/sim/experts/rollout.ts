/** Running the scripted expert for one episode on a World (no cameras). */
import type { InitState } from '../tasks/init';
import type { World } from '../world';
import { Expert, type Phase } from './expert';

export interface ExpertRollout {
  success: boolean;
  /** Control steps taken (the expert's 'done' steps are not counted). */
  steps: number;
  actions: Float32Array[];
  phases: Phase[];
  descriptions: string[];
  /** Whether the goal predicates held after each step. */
  successTrace: boolean[];
}

/**
 * Resets `world` to `init` and lets the expert act until it reports 'done' or the
 * task's step limit runs out. Success is the goal check at the end of the episode.
 */
export function runExpert(world: World, init: InitState, maxSteps = world.task.maxSteps): ExpertRollout {
  world.reset(init);
  const expert = new Expert(world);
  const out: ExpertRollout = { success: false, steps: 0, actions: [], phases: [], descriptions: [], successTrace: [] };
  for (let s = 0; s < maxSteps; s++) {
    const a = expert.nextAction();
    if (a.phase === 'done') break;
    world.step(a.action);
    out.actions.push(a.action);
    out.phases.push(a.phase);
    out.descriptions.push(a.description);
    out.successTrace.push(world.success());
    out.steps++;
  }
  out.success = world.success();
  return out;
}
