/**
 * Tasks as data, in the spirit of LIBERO's BDDL files: a scene (fixtures, objects,
 * placement regions), initial-state predicates that place things, goal predicates
 * that define success, an instruction and a step limit.
 */

export type Vec2 = [number, number];
export type Vec3 = [number, number, number];

/**
 * LIBERO-style suites for GPUs (spatial, object, goal, long) and the suites sized for a CPU
 * (DESIGN.md 9): short touch tasks that need language and vision but no grasp; `reach`
 * (six blocks) and `reach4` (four larger ones, calibrated to 45 minutes of CPU training).
 */
export type Suite = 'spatial' | 'object' | 'goal' | 'long' | 'reach' | 'reach4';
export const SUITES: readonly Suite[] = ['spatial', 'object', 'goal', 'long', 'reach', 'reach4'];

/** Object kinds. Blocks and cylinders are graspable; plates and trays are supports/containers. */
export type ObjectKind = 'block' | 'cylinder' | 'plate' | 'tray';

export interface ObjectSpec {
  name: string;
  kind: ObjectKind;
  /** A colour name from COLORS. */
  color: ColorName;
  /**
   * Half sizes in metres. block: [hx, hy, hz]; cylinder and plate: [radius, half height, 0];
   * tray: [half width x, half width y, wall half height]. Defaults per kind when omitted.
   */
  size?: Vec3;
  /** Words used in instructions ("block", "can", ...); defaults per kind. */
  noun?: string;
}

export interface FixtureSpec {
  name: string;
  kind: 'drawer';
  /** Cabinet centre on the table (x, y); the drawer opens toward the robot (-x). */
  pos: Vec2;
}

/** An axis-aligned rectangle on the table where an object's centre is sampled. */
export interface RegionSpec {
  name: string;
  center: Vec2;
  half: Vec2;
  /** Uniform yaw range (rad) for objects placed here; default 0.25. */
  yaw?: number;
}

export type PredicateName = 'On' | 'In' | 'Open' | 'Close' | 'Up' | 'Touch';

export interface Predicate {
  pred: PredicateName;
  /** On/In: [object, support/container]; Open/Close: [fixture]; Up, Touch: [object]. */
  args: string[];
}

/** Initial-state predicates: On(object, region) places an object, Open/Close(fixture) sets a drawer. */
export interface InitPredicate {
  pred: 'On' | 'Open' | 'Close';
  args: string[];
}

export interface TaskSpec {
  id: string;
  suite: Suite;
  instruction: string;
  objects: ObjectSpec[];
  fixtures: FixtureSpec[];
  regions: RegionSpec[];
  init: InitPredicate[];
  /**
   * Objects placed one per region (uniformly inside it, like On) in an order drawn per
   * initial state, so where a named object stands changes from state to state and must
   * be seen. Listed objects need no On(object, region) in `init`.
   */
  shuffle?: { objects: string[]; regions: string[] };
  /**
   * Tasks with the same layoutKey share their training-only initial states (index >=
   * INIT_STATES_PER_TASK): state i is drawn from (layoutKey, i), so one scene is
   * demonstrated with every instruction of the group. The 50 benchmark states stay per
   * task. Such tasks must have the same objects, regions and shuffle.
   */
  layoutKey?: string;
  /** Conjunction; for long tasks the expert achieves them in order (two stages). */
  goal: Predicate[];
  maxSteps: number;
}

export type ColorName =
  | 'red' | 'green' | 'blue' | 'yellow' | 'purple' | 'orange' | 'black' | 'white' | 'brown' | 'pink' | 'cyan' | 'grey';

export const COLORS: Record<ColorName, Vec3> = {
  red: [0.85, 0.12, 0.1],
  green: [0.15, 0.7, 0.2],
  blue: [0.12, 0.3, 0.85],
  yellow: [0.95, 0.85, 0.1],
  purple: [0.55, 0.2, 0.75],
  orange: [0.95, 0.5, 0.1],
  black: [0.1, 0.1, 0.1],
  white: [0.95, 0.95, 0.95],
  brown: [0.5, 0.32, 0.18],
  pink: [0.95, 0.5, 0.7],
  cyan: [0.1, 0.75, 0.8],
  grey: [0.55, 0.55, 0.58],
};

export const DEFAULT_SIZE: Record<ObjectKind, Vec3> = {
  block: [0.02, 0.02, 0.02],
  cylinder: [0.02, 0.03, 0],
  plate: [0.075, 0.006, 0],
  tray: [0.08, 0.08, 0.02],
};

const DEFAULT_NOUN: Record<ObjectKind, string> = { block: 'block', cylinder: 'can', plate: 'plate', tray: 'tray' };

export function objectSize(o: ObjectSpec): Vec3 {
  return o.size ?? DEFAULT_SIZE[o.kind];
}

/** Half height of the object's collision shape (its centre rests this far above the table). */
export function objectHalfHeight(o: ObjectSpec): number {
  const s = objectSize(o);
  switch (o.kind) {
    case 'block':
      return s[2];
    case 'cylinder':
    case 'plate':
      return s[1];
    case 'tray':
      return s[2];
  }
}

/** Footprint half extents in the object's frame (for overlap checks and On/In). */
export function objectFootprint(o: ObjectSpec): Vec2 {
  const s = objectSize(o);
  return o.kind === 'block' || o.kind === 'tray' ? [s[0], s[1]] : [s[0], s[0]];
}

export function isGraspable(o: ObjectSpec): boolean {
  return o.kind === 'block' || o.kind === 'cylinder';
}

/** "the red block" */
export function describe(o: ObjectSpec): string {
  return `the ${o.color} ${o.noun ?? DEFAULT_NOUN[o.kind]}`;
}

/** Checks references and shapes; throws an error naming the task and the field. */
/**
 * Tasks that share a layoutKey draw the same scene for a training-only state index, which
 * only means the same thing if they place the same objects in the same regions.
 */
export function validateLayoutGroups(tasks: readonly TaskSpec[]): void {
  const first = new Map<string, TaskSpec>();
  const sceneOf = (t: TaskSpec) => JSON.stringify({ objects: t.objects, regions: t.regions, fixtures: t.fixtures, init: t.init, shuffle: t.shuffle });
  for (const t of tasks) {
    if (t.layoutKey === undefined) continue;
    if (!t.layoutKey) throw new Error(`task '${t.id}': layoutKey: must be a non-empty string`);
    const f = first.get(t.layoutKey);
    if (!f) first.set(t.layoutKey, t);
    else if (sceneOf(f) !== sceneOf(t)) throw new Error(`task '${t.id}': layoutKey '${t.layoutKey}': its objects, regions, fixtures, init or shuffle differ from task '${f.id}''s, so a shared initial state would not be one scene`);
  }
}

export function validateTask(t: TaskSpec): void {
  const fail = (field: string, msg: string) => {
    throw new Error(`task '${t.id}': ${field}: ${msg}`);
  };
  if (!t.id) fail('id', 'must be a non-empty string');
  if (!SUITES.includes(t.suite)) fail('suite', `'${t.suite}' is not one of ${SUITES.join(', ')}`);
  if (!t.instruction) fail('instruction', 'must be non-empty');
  if (!(t.maxSteps > 0)) fail('maxSteps', `must be positive, got ${t.maxSteps}`);
  const names = new Set<string>();
  for (const o of [...t.objects, ...t.fixtures]) {
    if (names.has(o.name)) fail('objects', `duplicate name '${o.name}'`);
    if (!/^[a-z0-9_]+$/.test(o.name)) fail('objects', `name '${o.name}' must match [a-z0-9_]+`);
    names.add(o.name);
  }
  for (const o of t.objects) if (!(o.color in COLORS)) fail(`objects.${o.name}.color`, `unknown colour '${o.color}'`);
  const regions = new Set(t.regions.map((r) => r.name));
  const obj = new Map(t.objects.map((o) => [o.name, o]));
  const fix = new Set(t.fixtures.map((f) => f.name));
  const placed = new Set<string>();
  for (const [i, p] of t.init.entries()) {
    if (p.pred === 'On') {
      if (!obj.has(p.args[0])) fail(`init[${i}]`, `unknown object '${p.args[0]}'`);
      if (!regions.has(p.args[1])) fail(`init[${i}]`, `unknown region '${p.args[1]}'`);
      if (placed.has(p.args[0])) fail(`init[${i}]`, `object '${p.args[0]}' is placed twice`);
      placed.add(p.args[0]);
    } else if (!fix.has(p.args[0])) fail(`init[${i}]`, `unknown fixture '${p.args[0]}'`);
  }
  if (t.shuffle) {
    const { objects, regions: rs } = t.shuffle;
    if (objects.length === 0 || objects.length !== rs.length) fail('shuffle', `needs as many regions as objects (${objects.length} objects, ${rs.length} regions)`);
    if (new Set(rs).size !== rs.length) fail('shuffle.regions', 'lists a region twice');
    for (const r of rs) if (!regions.has(r)) fail('shuffle.regions', `unknown region '${r}'`);
    for (const o of objects) {
      if (!obj.has(o)) fail('shuffle.objects', `unknown object '${o}'`);
      if (placed.has(o)) fail('shuffle.objects', `object '${o}' is placed twice (also by init or listed twice)`);
      placed.add(o);
    }
  }
  for (const o of t.objects) if (!placed.has(o.name)) fail('init', `object '${o.name}' has no On(object, region) placement (nor a shuffle slot)`);
  if (t.goal.length === 0) fail('goal', 'needs at least one predicate');
  for (const [i, g] of t.goal.entries()) {
    const f = `goal[${i}]`;
    if (g.pred === 'On' || g.pred === 'In') {
      const a = obj.get(g.args[0]);
      if (!a || !isGraspable(a)) fail(f, `'${g.args[0]}' is not a graspable object`);
      if (!obj.has(g.args[1]) && !fix.has(g.args[1])) fail(f, `unknown target '${g.args[1]}'`);
      if (g.pred === 'In' && obj.get(g.args[1])?.kind !== 'tray' && !fix.has(g.args[1]))
        fail(f, `In needs a tray or a drawer, got '${g.args[1]}'`);
    } else if (g.pred === 'Up') {
      const a = obj.get(g.args[0]);
      if (!a || !isGraspable(a)) fail(f, `'${g.args[0]}' is not a graspable object`);
    } else if (g.pred === 'Touch') {
      if (!obj.has(g.args[0])) fail(f, `unknown object '${g.args[0]}'`);
    } else if (g.pred === 'Open' || g.pred === 'Close') {
      if (!fix.has(g.args[0])) fail(f, `unknown fixture '${g.args[0]}'`);
    } else fail(f, `unknown predicate '${(g as Predicate).pred}'`);
  }
}
