/**
 * Where a policy went: replays the actions an evaluation kept (--keep-actions) and says,
 * per episode, where the tool came down and which object stood nearest to that point.
 * A success rate says how often a policy fails; this says how: a policy that descends on
 * the wrong block has grounded the motion but not the instruction, one that descends on
 * no block at all has not found the objects (docs/results.md rounds 3 and 5).
 *
 * The replay is the physics of the evaluated episode: the same task, fixed initial state
 * and perturbation (applyPerturbation), stepped with the recorded actions. Observation
 * noise does not enter, because the recorded actions already carry its effect.
 */
import { applyPerturbation, getInitState, getTask } from '../sim/index';
import { World } from '../sim/world';
import type { EpisodeResult } from './eval-results';

export type LandingKind = 'success' | 'goal_object' | 'other_object' | 'no_object';

export interface Landing {
  index: number;
  taskId: string;
  initState: number;
  perturbation: string;
  kind: LandingKind;
  /** The tool's lowest point over the episode (m, world frame). */
  lowest: [number, number, number];
  /**
   * Where it came down: the first point below `descent` (or the lowest point if it never
   * got that low). A policy that lands beside the blocks often slides along the table
   * afterwards, so its lowest point says less about where it was aiming.
   */
  touchdown: [number, number, number];
  /** The object nearest to the touchdown point in the horizontal plane, and its distance (m). */
  nearest: string;
  nearestDistance: number;
  /** Horizontal distance from the touchdown point to the nearest object the goal names (m; null when the goal names none). */
  goalDistance: number | null;
  /**
   * Touchdown minus that goal object in the horizontal plane (m), and its component along
   * the direction from the tool's start to the object: negative = came down short of it,
   * positive = beyond it. Null when the goal names no object.
   */
  goalOffset: { dx: number; dy: number; along: number } | null;
}

export interface WhereOptions {
  /** Horizontal distance within which the touchdown point counts as on an object (m, default 0.04). */
  radius?: number;
  /** Height (m, world frame) below which the tool counts as coming down (default 0.08: above the reach blocks' 5 cm tops). */
  descent?: number;
}

/** The objects a task's goal predicates name (Touch/Up: [object]; On/In: [object, support]), in the order the goal names them. */
export function goalObjects(goal: { args: string[] }[], objects: Set<string>): string[] {
  return [...new Set(goal.flatMap((p) => p.args).filter((a) => objects.has(a)))];
}

/** Replays each episode's kept actions and classifies where it came down. Episodes without actions are refused. */
export async function whereEpisodesWent(episodes: readonly EpisodeResult[], o: WhereOptions = {}): Promise<Landing[]> {
  const radius = o.radius ?? 0.04;
  if (!(radius > 0)) throw new RangeError(`radius must be a positive distance in metres, got ${radius}`);
  const descent = o.descent ?? 0.08;
  if (!Number.isFinite(descent)) throw new RangeError(`descent must be a height in metres, got ${descent}`);
  const out: Landing[] = [];
  for (const e of episodes) {
    if (!e.actions) throw new Error(`episode ${e.index} (${e.taskId}#${e.initState}) has no actions: evaluate with --keep-actions`);
    const task = getTask(e.taskId);
    const cfg = applyPerturbation(task, getInitState(task, e.initState), e.perturbationRecord);
    const world = await World.create(cfg.task, cfg.scene, cfg.goal);
    try {
      world.reset(cfg.init);
      let lowest: [number, number, number] = [0, 0, Infinity];
      const start = world.proprio().eePos;
      const names = cfg.scene.objects.map((x) => x.name);
      // Objects where they stood at that moment: a policy sliding along the table pushes them.
      const snapshot = () => new Map(names.map((n) => [n, world.objectPos(n)] as const));
      let touchdown: [number, number, number] | null = null;
      let atTouchdown = snapshot();
      let atLowest = atTouchdown;
      let succeeded = false;
      for (const a of e.actions) {
        world.step(a);
        succeeded ||= world.success();
        const p = world.proprio().eePos;
        if (p[2] < lowest[2]) {
          lowest = [p[0], p[1], p[2]];
          if (!touchdown) atLowest = snapshot();
        }
        if (!touchdown && p[2] < descent) {
          touchdown = [p[0], p[1], p[2]];
          atTouchdown = snapshot();
        }
      }
      const at = touchdown ?? lowest;
      const objectsThen = touchdown ? atTouchdown : atLowest;
      // The replay is only evidence about the evaluated episode if it reproduces its outcome.
      if (succeeded !== e.success) {
        throw new Error(
          `episode ${e.index} (${e.taskId}#${e.initState}, ${e.perturbation}): the replay ${succeeded ? 'succeeds' : 'fails'} where the evaluation ${e.success ? 'succeeded' : 'failed'}; were the results written by another version of the simulator?`,
        );
      }
      const flat = (name: string) => {
        const q = objectsThen.get(name)!;
        return Math.hypot(q[0] - at[0], q[1] - at[1]);
      };
      let nearest = '';
      let nearestDistance = Infinity;
      for (const n of names) {
        const d = flat(n);
        if (d < nearestDistance) [nearest, nearestDistance] = [n, d];
      }
      const goals = goalObjects(cfg.goal, new Set(names));
      const goalDistance = goals.length ? Math.min(...goals.map(flat)) : null;
      let goalOffset: Landing['goalOffset'] = null;
      if (goals.length) {
        const g = objectsThen.get(goals.reduce((a, b) => (flat(b) < flat(a) ? b : a)))!;
        const [dx, dy] = [at[0] - g[0], at[1] - g[1]];
        const [ux, uy] = [g[0] - start[0], g[1] - start[1]];
        const norm = Math.hypot(ux, uy) || 1;
        goalOffset = { dx, dy, along: (dx * ux + dy * uy) / norm };
      }
      const kind: LandingKind = e.success
        ? 'success'
        : nearestDistance > radius
          ? 'no_object'
          : goals.includes(nearest)
            ? 'goal_object'
            : 'other_object';
      out.push({ index: e.index, taskId: e.taskId, initState: e.initState, perturbation: e.perturbation, kind, lowest, touchdown: at, nearest, nearestDistance, goalDistance, goalOffset });
    } finally {
      world.delete();
    }
  }
  return out;
}

/**
 * Mean offset from the named object over the landings that came down within `within` m of
 * it (successes included): a systematic `along` < 0 is a policy that stops short.
 */
export function meanGoalOffset(landings: readonly Landing[], within: number): { within: number; n: number; dx: number | null; dy: number | null; along: number | null } {
  const near = landings.filter((l) => l.goalOffset && l.goalDistance !== null && l.goalDistance <= within);
  const mean = (f: (l: Landing) => number) => (near.length ? near.reduce((a, l) => a + f(l), 0) / near.length : null);
  return { within, n: near.length, dx: mean((l) => l.goalOffset!.dx), dy: mean((l) => l.goalOffset!.dy), along: mean((l) => l.goalOffset!.along) };
}

/** Counts of each kind, in a fixed order. */
export function landingCounts(landings: readonly Landing[]): Record<LandingKind, number> {
  const c: Record<LandingKind, number> = { success: 0, goal_object: 0, other_object: 0, no_object: 0 };
  for (const l of landings) c[l.kind]++;
  return c;
}
