/**
 * Labels of the grounding loss (src/model/grounding.ts): for each episode of a dataset
 * the simulator wrote, the region of its task that holds the goal's object at the
 * episode's initial state (the reach suite: which of the six slots the named block
 * stands on). The simulator records `task_id` and `init_index` in every episode's
 * metadata (src/sim/demos.ts), and the initial state is a pure function of the two
 * (src/sim/tasks/init.ts), so nothing extra is stored in the dataset. Episodes of other
 * datasets, or of tasks without regions or an object goal, get -1 (not counted).
 */
import { getInitState } from '../sim/tasks/init.ts';
import { getTask } from '../sim/tasks/suites.ts';

export interface GroundingLabels {
  /** Label of each episode (by episode index), -1 where there is none. */
  byEpisode: Int32Array;
  /** Episodes with a label. */
  labelled: number;
  /** Largest label + 1 (0 when nothing is labelled). */
  classes: number;
}

/** The region index nearest the goal object's initial position, or -1 (see the file comment). */
export function groundingLabelOf(meta: Record<string, unknown>): number {
  if (typeof meta.task_id !== 'string' || typeof meta.init_index !== 'number') return -1;
  let task;
  try {
    task = getTask(meta.task_id);
  } catch {
    return -1;
  }
  const named = task.goal[0]?.args[0];
  if (!named || task.regions.length === 0) return -1;
  const init = getInitState(task, meta.init_index);
  const obj = init.objects[named];
  if (!obj) return -1;
  const [x, y] = obj.pos;
  let best = -1;
  let bestD = Infinity;
  task.regions.forEach((r, i) => {
    const d = Math.hypot(x - r.center[0], y - r.center[1]);
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

export function groundingLabels(episodes: readonly { meta: Record<string, unknown> }[]): GroundingLabels {
  const byEpisode = Int32Array.from(episodes, (e, i) => {
    try {
      return groundingLabelOf(e.meta);
    } catch (err) {
      throw new RangeError(`episode ${i}: meta.init_index: ${(err as Error).message}`);
    }
  });
  return summarizeGroundingLabels(byEpisode);
}

/** Counts the labelled episodes and the classes of labels given per episode (-1: none). */
export function summarizeGroundingLabels(byEpisode: Int32Array): GroundingLabels {
  let labelled = 0;
  let classes = 0;
  for (const v of byEpisode) {
    if (v >= 0) {
      labelled++;
      classes = Math.max(classes, v + 1);
    }
  }
  return { byEpisode, labelled, classes };
}
