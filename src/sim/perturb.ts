/**
 * Perturbations as a seeded, logged per-episode record (LIBERO-Plus / LIBERO-PRO axes).
 * samplePerturbation draws a record from a seed; applyPerturbation turns (task, initial
 * state, record) into the episode's effective configuration. Each axis touches only
 * the part of the configuration it names, which the tests check axis by axis.
 */
import { Rng } from '../engine/random';
import { DEFAULT_AGENT_VIEW, type AgentViewSpec } from './camera/scene';
import { DEFAULT_BACKGROUND, DEFAULT_LIGHTING, type Lighting } from './camera/types';
import { ARM_RANGE } from './robot';
import { DEFAULT_TABLE_RGB, type SceneSpec } from './scene';
import { hashString, type InitState } from './tasks/init';
import { describe, isGraspable, objectFootprint, objectHalfHeight, type ColorName, type ObjectSpec, type Predicate, type TaskSpec, type Vec3 } from './tasks/spec';
import { DRAWER } from './fixtures';

export const PERTURBATION_KINDS = [
  'position_swap',
  'novel_task',
  'paraphrase',
  'lighting',
  'camera',
  'sensor_noise',
  'table_color',
  'background',
  'robot_init',
  'distractors',
] as const;
export type PerturbationKind = (typeof PERTURBATION_KINDS)[number];

export interface Distractor {
  object: ObjectSpec;
  pos: Vec3;
  yaw: number;
}

/** The logged record. Only the fields of the listed kinds are present. */
export interface Perturbation {
  seed: number;
  kinds: PerturbationKind[];
  /** Two objects whose initial positions are exchanged. */
  positionSwap?: { a: string; b: string };
  /** A different target object in the same scene: new goal and instruction. */
  novelTask?: { goal: Predicate[]; instruction: string };
  paraphrase?: { instruction: string };
  lighting?: Lighting;
  camera?: AgentViewSpec;
  sensorNoise?: { proprioStd: number; imageStd: number };
  tableColor?: Vec3;
  background?: Vec3;
  /** Added to the initial arm joints (rad). */
  robotInit?: { jointOffsets: number[] };
  distractors?: Distractor[];
}

/** Everything an episode runs with, after perturbations. */
export interface EpisodeConfig {
  task: TaskSpec;
  instruction: string;
  goal: Predicate[];
  scene: SceneSpec;
  init: InitState;
  agentView: AgentViewSpec;
  lighting: Lighting;
  background: Vec3;
  imageNoiseStd: number;
  proprioNoiseStd: number;
}

// ------------------------------------------------------------------ instructions

function name(task: TaskSpec, n: string): string {
  const o = task.objects.find((x) => x.name === n);
  if (o) return describe(o);
  const f = task.fixtures.find((x) => x.name === n);
  return `the ${f?.kind ?? n}`;
}

/** A plain instruction for a goal ("put the red block on the white plate and close the drawer"). */
export function instructionFor(task: TaskSpec, goal: Predicate[]): string {
  const parts = goal.map((g) => {
    switch (g.pred) {
      case 'On':
        return `put ${name(task, g.args[0])} on ${name(task, g.args[1])}`;
      case 'In':
        return `put ${name(task, g.args[0])} in ${name(task, g.args[1])}`;
      case 'Up':
        return `pick up ${name(task, g.args[0])}`;
      case 'Touch':
        return `touch ${name(task, g.args[0])}`;
      case 'Open':
        return `open ${name(task, g.args[0])}`;
      case 'Close':
        return `close ${name(task, g.args[0])}`;
    }
  });
  return parts.join(' and ');
}

const VERB_SWAPS: Array<[RegExp, string[]]> = [
  [/^pick up /, ['grab ', 'take ', 'lift ']],
  [/^put /, ['place ', 'move ', 'set ']],
  [/^open /, ['pull open ', 'slide open ']],
  [/^close /, ['shut ', 'push closed ']],
  [/^touch /, ['tap ', 'press down on ', 'put your fingertips on ']],
];
const REST_SWAPS: Array<[RegExp, string[]]> = [
  [/ and place it on /, [' and set it down on ', ' and put it onto ']],
  [/ and place it in /, [' and drop it into ', ' and put it inside ']],
  [/ and put it in /, [' and drop it into ']],
];
const PREFIXES = ['', 'please ', 'could you ', 'now '];

/** A paraphrase that differs from `instruction` but keeps its meaning. */
export function paraphrase(instruction: string, rng: Rng): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    let s = instruction;
    for (const [re, alts] of VERB_SWAPS) if (re.test(s)) s = s.replace(re, alts[rng.int(alts.length)]);
    for (const [re, alts] of REST_SWAPS) if (re.test(s) && rng.next() < 0.7) s = s.replace(re, alts[rng.int(alts.length)]);
    s = PREFIXES[rng.int(PREFIXES.length)] + s;
    if (s !== instruction) return s;
  }
  return `please ${instruction}`;
}

// ------------------------------------------------------------------ sampling

const DISTRACTOR_COLORS: ColorName[] = ['pink', 'cyan', 'white', 'grey', 'orange', 'purple', 'green', 'yellow'];

function freeSpot(task: TaskSpec, init: InitState, taken: Array<[number, number, number]>, half: number, rng: Rng): [number, number] | null {
  const occ: Array<[number, number, number]> = [...taken];
  for (const o of task.objects) {
    const p = init.objects[o.name];
    if (p) occ.push([p.pos[0], p.pos[1], Math.hypot(...objectFootprint(o))]);
  }
  for (const f of task.fixtures) occ.push([f.pos[0] - 0.04, f.pos[1], Math.hypot(DRAWER.halfX + 0.06, DRAWER.halfY)]);
  for (let i = 0; i < 500; i++) {
    const x = rng.uniform(-0.25, 0.2);
    const y = rng.uniform(-0.32, 0.32);
    if (occ.every(([ox, oy, r]) => Math.hypot(ox - x, oy - y) > r + half + 0.025)) return [x, y];
  }
  return null;
}

/**
 * Draws a perturbation record of the given kinds for a task from a seed. The initial
 * state is needed by the axes that place things (position swap, distractors).
 */
export function samplePerturbation(task: TaskSpec, init: InitState, kinds: PerturbationKind[], seed: number): Perturbation {
  for (const k of kinds) if (!PERTURBATION_KINDS.includes(k)) throw new Error(`unknown perturbation kind '${k}' (known: ${PERTURBATION_KINDS.join(', ')})`);
  const p: Perturbation = { seed, kinds: [...kinds] };
  // One independent stream per axis, so adding an axis never changes another's draw.
  const rngFor = (k: PerturbationKind) => new Rng(hashString(`${task.id}|${k}|${seed}`));
  const graspable = task.objects.filter(isGraspable);
  for (const k of kinds) {
    const rng = rngFor(k);
    switch (k) {
      case 'position_swap': {
        if (graspable.length < 2) throw new Error(`task '${task.id}': position_swap needs two graspable objects, it has ${graspable.length}`);
        const i = rng.int(graspable.length);
        let j = rng.int(graspable.length - 1);
        if (j >= i) j++;
        p.positionSwap = { a: graspable[i].name, b: graspable[j].name };
        break;
      }
      case 'novel_task': {
        const used = new Set(task.goal.flatMap((g) => g.args));
        // Prefer objects a plain description identifies uniquely.
        const unique = graspable.filter((o) => !used.has(o.name) && graspable.filter((x) => describe(x) === describe(o)).length === 1);
        const pool = unique.length ? unique : graspable.filter((o) => !used.has(o.name));
        const goal = task.goal.map((g) => ({ pred: g.pred, args: [...g.args] }));
        const objectPreds = goal.filter((g) => g.pred === 'On' || g.pred === 'In' || g.pred === 'Up' || g.pred === 'Touch');
        if (pool.length > 0) {
          const target = pool[rng.int(pool.length)].name;
          if (objectPreds.length) objectPreds[0].args[0] = target;
          else goal.splice(0, goal.length, { pred: 'Up', args: [target] });
        } else if (objectPreds.length >= 2 && objectPreds[0].args[0] !== objectPreds[1].args[0]) {
          // Every graspable object is already in the goal: exchange the targets of two stages.
          [objectPreds[0].args[0], objectPreds[1].args[0]] = [objectPreds[1].args[0], objectPreds[0].args[0]];
        } else throw new Error(`task '${task.id}': novel_task needs a graspable object the goal does not use`);
        p.novelTask = { goal, instruction: instructionFor(task, goal) };
        break;
      }
      case 'paraphrase':
        break; // drawn after the loop: it rewrites the novel instruction when there is one
      case 'lighting': {
        const az = rng.uniform(-Math.PI, Math.PI);
        const el = rng.uniform(0.5, 1.45);
        p.lighting = {
          dir: [Math.cos(el) * Math.cos(az), Math.cos(el) * Math.sin(az), Math.sin(el)],
          intensity: rng.uniform(0.4, 1.1),
          ambient: rng.uniform(0.15, 0.5),
        };
        break;
      }
      case 'camera': {
        const d = DEFAULT_AGENT_VIEW;
        p.camera = {
          pos: [d.pos[0] + rng.uniform(-0.1, 0.1), d.pos[1] + rng.uniform(-0.15, 0.15), d.pos[2] + rng.uniform(-0.1, 0.1)],
          target: [d.target[0] + rng.uniform(-0.05, 0.05), d.target[1] + rng.uniform(-0.05, 0.05), d.target[2]],
          fovyDeg: d.fovyDeg + rng.uniform(-7, 10),
        };
        break;
      }
      case 'sensor_noise':
        p.sensorNoise = { proprioStd: rng.uniform(0.002, 0.01), imageStd: rng.uniform(0.02, 0.08) };
        break;
      case 'table_color':
        p.tableColor = [rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.9)];
        break;
      case 'background':
        p.background = [rng.uniform(0.1, 0.95), rng.uniform(0.1, 0.95), rng.uniform(0.1, 0.95)];
        break;
      case 'robot_init':
        p.robotInit = { jointOffsets: Array.from({ length: 7 }, () => rng.uniform(-0.12, 0.12)) };
        break;
      case 'distractors': {
        const n = 1 + rng.int(3);
        const list: Distractor[] = [];
        const taken: Array<[number, number, number]> = [];
        for (let i = 0; i < n; i++) {
          const kind = rng.next() < 0.5 ? 'block' : 'cylinder';
          const object: ObjectSpec = { name: `distractor_${i}`, kind, color: DISTRACTOR_COLORS[rng.int(DISTRACTOR_COLORS.length)] };
          const half = Math.hypot(...objectFootprint(object));
          const spot = freeSpot(task, init, taken, half, rng);
          if (!spot) break;
          taken.push([spot[0], spot[1], half]);
          list.push({ object, pos: [spot[0], spot[1], objectHalfHeight(object) + 0.0005], yaw: rng.uniform(-Math.PI, Math.PI) });
        }
        if (list.length === 0) throw new Error(`task '${task.id}': no free table space for a distractor (init state ${init.index}, seed ${seed})`);
        p.distractors = list;
        break;
      }
    }
  }
  if (kinds.includes('paraphrase')) p.paraphrase = { instruction: paraphrase(p.novelTask?.instruction ?? task.instruction, rngFor('paraphrase')) };
  return p;
}

/** The nominal configuration (no perturbation) or the perturbed one. */
export function applyPerturbation(task: TaskSpec, init: InitState, p?: Perturbation | null): EpisodeConfig {
  const objects = task.objects.slice();
  const initOut: InitState = {
    ...init,
    objects: Object.fromEntries(Object.entries(init.objects).map(([k, v]) => [k, { pos: [...v.pos] as Vec3, yaw: v.yaw }])),
    drawers: { ...init.drawers },
    arm: [...init.arm],
  };
  let goal = task.goal;
  let instruction = task.instruction;
  const cfg: EpisodeConfig = {
    task,
    instruction,
    goal,
    scene: { objects, fixtures: task.fixtures, tableRgb: DEFAULT_TABLE_RGB },
    init: initOut,
    agentView: DEFAULT_AGENT_VIEW,
    lighting: DEFAULT_LIGHTING,
    background: DEFAULT_BACKGROUND,
    imageNoiseStd: 0,
    proprioNoiseStd: 0,
  };
  if (!p) return cfg;
  if (p.positionSwap) {
    const { a, b } = p.positionSwap;
    const pa = initOut.objects[a];
    const pb = initOut.objects[b];
    if (!pa || !pb) throw new Error(`position_swap names objects not in the scene: '${a}', '${b}'`);
    const oa = task.objects.find((o) => o.name === a)!;
    const ob = task.objects.find((o) => o.name === b)!;
    initOut.objects[a] = { pos: [pb.pos[0], pb.pos[1], objectHalfHeight(oa) + 0.0005], yaw: pb.yaw };
    initOut.objects[b] = { pos: [pa.pos[0], pa.pos[1], objectHalfHeight(ob) + 0.0005], yaw: pa.yaw };
  }
  if (p.novelTask) {
    goal = p.novelTask.goal;
    instruction = p.novelTask.instruction;
  }
  if (p.paraphrase) instruction = p.paraphrase.instruction;
  cfg.goal = goal;
  cfg.instruction = instruction;
  cfg.task = goal === task.goal ? task : { ...task, goal, instruction };
  if (p.lighting) cfg.lighting = p.lighting;
  if (p.camera) cfg.agentView = p.camera;
  if (p.sensorNoise) {
    cfg.imageNoiseStd = p.sensorNoise.imageStd;
    cfg.proprioNoiseStd = p.sensorNoise.proprioStd;
  }
  if (p.tableColor) cfg.scene = { ...cfg.scene, tableRgb: p.tableColor };
  if (p.background) cfg.background = p.background;
  if (p.robotInit) {
    if (p.robotInit.jointOffsets.length !== 7) throw new Error(`robot_init needs 7 joint offsets, got ${p.robotInit.jointOffsets.length}`);
    initOut.arm = initOut.arm.map((q, i) => Math.min(ARM_RANGE[i][1], Math.max(ARM_RANGE[i][0], q + p.robotInit!.jointOffsets[i])));
  }
  if (p.distractors?.length) {
    cfg.scene = { ...cfg.scene, objects: [...objects, ...p.distractors.map((d) => d.object)] };
    for (const d of p.distractors) initOut.objects[d.object.name] = { pos: [...d.pos] as Vec3, yaw: d.yaw };
    cfg.task = { ...cfg.task, objects: cfg.scene.objects };
  }
  return cfg;
}

