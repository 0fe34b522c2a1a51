/**
 * Does a policy's first chunk head for the object the instruction names? A success rate
 * takes full rollouts and mixes choosing a target with reaching it; this asks only the
 * first question, from one act() call per (task, initial state): the chunk's horizontal
 * displacement (the dx, dy channels summed over the actions the harness would execute)
 * is compared with the horizontal directions from the tool to every object of the scene,
 * and the chunk "points at" the object with the highest cosine. On the reach suite (six
 * blocks, "touch the <colour> block") a policy that has grounded the instruction points
 * at the named block; one that has not points at any of them, at chance (1 in 6).
 *
 * `after` runs that many expert steps first, and `freezeProprio` then puts the step-0
 * proprio state back into the observation: a policy that points at the target after a
 * few expert steps but not at step 0 continues the motion it sees (in the images, or in
 * the state when it is not frozen) instead of choosing the target (docs/evaluation.md).
 *
 * The expert's next action is classified the same way, a built-in check of the geometry:
 * on reach it points at the target every time.
 *
 * The scene is built as the harness builds a nominal episode (BatchEnv, fixed initial
 * state, no perturbation), and each episode's seed is eval's episodeSeed(seed, task,
 * state, 'nominal'), so a stochastic policy's first chunk is the one `npm run eval` with
 * the same seed would sample, however the probe is batched.
 *
 * `allInstructions` also gives each probe's observation with the instruction of every
 * other task of its suite whose goal object is in the scene (sceneInstructions; all six
 * on reach) and records what each of those chunks points at. A policy that ignores the
 * instruction can still point at a block, at chance; only this tells "chose the wrong
 * block" from "did not read the instruction": the latter points at one and the same
 * object whatever the instruction says.
 */
import { ACTION_DIM, BatchEnv, createExpert, getTask, listTasks, MAX_INIT_STATES_PER_TASK, type ObjectSpec, type Observation, type TaskSpec } from '../sim/index';
import { episodeSeed } from './eval-plan';
import { wilsonInterval } from './intervals';
import { validateChunks, type EpisodeStart, type Policy, type PolicyInput } from './policy';
import { goalObjects } from './where';

export interface PointedObject {
  /** The object pointed at ('' when the displacement is zero or no object has a direction). */
  name: string;
  /** Its cosine (NaN when name is ''). */
  cos: number;
  /** The cosine of every object; NaN for all of them at zero displacement, and for an object right under the tool (no horizontal direction). */
  cosByObject: Record<string, number>;
}

/**
 * The object whose horizontal direction from the tool (eePos) has the highest cosine with
 * the horizontal displacement dxy. Ties go to the object listed first. A zero
 * displacement points nowhere: name '' and cos NaN.
 */
export function pointedObject(eePos: readonly [number, number, number] | ArrayLike<number>, dxy: readonly [number, number] | ArrayLike<number>, objects: readonly { name: string; pos: readonly [number, number, number] | ArrayLike<number> }[]): PointedObject {
  const [dx, dy] = [dxy[0], dxy[1]];
  const norm = Math.hypot(dx, dy);
  const cosByObject: Record<string, number> = {};
  let name = '';
  let cos = NaN;
  for (const o of objects) {
    const vx = o.pos[0] - eePos[0];
    const vy = o.pos[1] - eePos[1];
    const dist = Math.hypot(vx, vy);
    const c = norm > 0 && dist > 0 ? (dx * vx + dy * vy) / (norm * dist) : NaN;
    cosByObject[o.name] = c;
    if (c > cos || (Number.isNaN(cos) && !Number.isNaN(c))) [name, cos] = [o.name, c];
  }
  return { name, cos, cosByObject };
}

export interface GroundingProgress {
  /** (task, state) pairs probed so far, of total. */
  done: number;
  total: number;
  batch: number;
  batches: number;
  /** Pointed at the target so far. */
  hits: number;
  elapsedMs: number;
}

export interface GroundingOptions {
  /** Task ids, e.g. reach/touch_red; every goal must name an object of the scene. */
  tasks: string[];
  /** Fixed initial-state indices. */
  states: number[];
  /** Expert steps executed before the policy is asked (default 0). */
  after?: number;
  /** Give the policy the step-0 proprio state instead of the current one (default false). */
  freezeProprio?: boolean;
  /** Environments probed together (default 12). */
  envsPerBatch?: number;
  /** Observation cameras; required when the policy needs images. */
  camera?: { width: number; height: number; device: GPUDevice };
  /** Seed of the episodes, as eval's --seed (default 0). */
  seed?: number;
  /**
   * Also give each observation with the instruction of every other task of the suite whose
   * goal object is in the scene (sceneInstructions), and summarise how the pointed object
   * follows the instruction (GroundingSummary.instructionSensitivity). Default false.
   */
  allInstructions?: boolean;
  onProgress?: (p: GroundingProgress) => void;
}

export interface GroundingRow {
  taskId: string;
  initState: number;
  instruction: string;
  /** The goal object (the first object the goal predicates name). */
  target: string;
  /** What the policy's first chunk points at ('' for a zero displacement). */
  pointed: string;
  /** Cosine between the chunk's displacement and the direction to the target (NaN for a zero displacement). */
  cosTarget: number;
  /** What the expert's next action points at. */
  expertPointed: string;
  /**
   * With allInstructions: the same observation with each instruction of the scene
   * (sceneInstructions, in suite order); the task's own entry is the probe above.
   */
  instructions?: InstructionPair[];
}

/** One instruction a scene can be given: a task of the suite and its goal object. */
export interface SceneInstruction {
  taskId: string;
  instruction: string;
  /** That task's goal object, which is in the scene. */
  target: string;
}

export interface InstructionPair extends SceneInstruction {
  /** What the chunk for this instruction points at ('' for a zero displacement). */
  pointed: string;
  /** Cosine between that chunk's displacement and the direction to `target`. */
  cosTarget: number;
}

/** How the first chunk changes with the instruction, over the (observation, instruction) pairs of allInstructions. */
export interface InstructionSensitivity {
  /** Observations (one per probe) given every instruction. */
  scenes: number;
  /** The number of distinct objects the chunks of a scene's instructions point at, averaged over scenes: 1 for a policy that ignores the instruction. */
  meanDistinctTargets: number;
  /**
   * What a policy that follows every instruction reaches: the distinct goal objects of a
   * scene's instructions, averaged over scenes (the number of instructions per scene on
   * reach, where every instruction names another block).
   */
  maxDistinct: number;
  /** (observation, instruction) pairs, and those pointing at the instruction's goal object. */
  pairs: number;
  hits: number;
  rate: number;
  /** Wilson 95% interval of the rate. */
  lo: number;
  hi: number;
}

export interface GroundingSummary {
  n: number;
  pointsAtTarget: number;
  rate: number;
  /** Wilson 95% interval of the rate. */
  lo: number;
  hi: number;
  /** Mean over rows of 1 / (objects in the scene): the rate of a chunk pointing anywhere at random. */
  chance: number;
  /** How often the expert's next action points at the target (1 on reach: the geometry check). */
  expertRate: number;
  perTask: { taskId: string; n: number; hits: number }[];
  /** With allInstructions only. */
  instructionSensitivity?: InstructionSensitivity;
}

interface Probe {
  task: TaskSpec;
  state: number;
  target: string;
  instructions?: SceneInstruction[];
}

/** What an object looks like (its name aside): kind, colour and size. */
function look(o: ObjectSpec): string {
  return `${o.kind}|${o.color}|${o.size ? o.size.join(',') : ''}`;
}

/**
 * The instructions allInstructions gives `task`'s scene, in suite order: the task's own,
 * and that of every other task of its suite whose goal object is in the scene, looks
 * there as it does in that task, and looks unlike every other object of the scene. The
 * last condition keeps out names that mean a role rather than an object (spatial: block_1
 * is "the black block on the left" in one layout and the one on the right in another,
 * next to a twin). Throws naming the task when no other instruction is left.
 */
export function sceneInstructions(task: TaskSpec): SceneInstruction[] {
  const here = new Map(task.objects.map((o) => [o.name, o]));
  const out: SceneInstruction[] = [];
  for (const other of listTasks(task.suite)) {
    const [target] = goalObjects(other.goal, new Set(other.objects.map((x) => x.name)));
    if (!target) continue;
    if (other.id !== task.id) {
      const mine = here.get(target);
      if (!mine || look(mine) !== look(other.objects.find((x) => x.name === target)!)) continue;
      if (task.objects.some((o) => o.name !== target && look(o) === look(mine))) continue;
    }
    out.push({ taskId: other.id, instruction: other.instruction, target });
  }
  if (out.length < 2) {
    throw new Error(
      `allInstructions: task ${task.id}: no other task of suite '${task.suite}' has a goal object in this scene that looks unlike the scene's other objects, so there is no other instruction to give its observation`,
    );
  }
  return out;
}

function checkOptions(policy: Policy, o: GroundingOptions): { probes: Probe[]; after: number; envsPerBatch: number; seed: number; allInstructions: boolean } {
  if (!Array.isArray(o.tasks) || o.tasks.length === 0) throw new Error('tasks: give at least one task id');
  if (!Array.isArray(o.states) || o.states.length === 0) throw new Error('states: give at least one initial-state index');
  if (new Set(o.tasks).size !== o.tasks.length) throw new Error(`tasks: duplicate ids in [${o.tasks.join(', ')}]`);
  for (const s of o.states) {
    if (!Number.isInteger(s) || s < 0 || s >= MAX_INIT_STATES_PER_TASK) throw new Error(`states: ${s} is not an index in [0, ${MAX_INIT_STATES_PER_TASK - 1}]`);
  }
  if (new Set(o.states).size !== o.states.length) throw new Error(`states: duplicate indices in [${o.states.join(', ')}]`);
  const after = o.after ?? 0;
  if (!Number.isInteger(after) || after < 0) throw new Error(`after must be a non-negative integer (expert steps before the probe), got ${after}`);
  const envsPerBatch = o.envsPerBatch ?? 12;
  if (!Number.isInteger(envsPerBatch) || envsPerBatch < 1) throw new Error(`envsPerBatch must be a positive integer, got ${envsPerBatch}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (policy.needsImages && !o.camera) throw new Error(`camera: policy '${policy.name}' needs camera images: pass camera { width, height, device }`);
  const tasks = o.tasks.map((id) => {
    let task: TaskSpec;
    try {
      task = getTask(id);
    } catch (e) {
      throw new Error(`tasks: ${(e as Error).message}`);
    }
    if (after >= task.maxSteps) throw new Error(`after (${after}) must be below task ${id}'s step limit (${task.maxSteps})`);
    const [target] = goalObjects(task.goal, new Set(task.objects.map((x) => x.name)));
    if (!target) throw new Error(`task ${id}'s goal names no object; grounding needs one`);
    return { task, target, instructions: o.allInstructions ? sceneInstructions(task) : undefined };
  });
  return {
    probes: tasks.flatMap(({ task, target, instructions }) => o.states.map((state) => ({ task, state, target, instructions }))),
    after,
    envsPerBatch,
    seed,
    allInstructions: !!o.allInstructions,
  };
}

/** Sum of the dx, dy channels over the first `steps` actions of a step-major chunk. */
export function displacement(chunk: Float32Array, steps: number): [number, number] {
  let dx = 0;
  let dy = 0;
  for (let h = 0; h < steps; h++) {
    dx += chunk[h * ACTION_DIM];
    dy += chunk[h * ACTION_DIM + 1];
  }
  return [dx, dy];
}

/**
 * Asks `policy` for one chunk per (task, initial state), after `after` expert steps, and
 * says whether it points at the goal object (see the file comment). Rows in task-major
 * order (tasks as given, then states as given).
 *
 * With allInstructions, each probe's observation is then given every other instruction of
 * sceneInstructions, in act() calls of at most envsPerBatch inputs; each such slot is
 * reset as an episode of the instruction's task (taskId, instruction) in the probe's
 * scene (initState, world for a privileged policy), with the seed
 * episodeSeed(seed, '<task>><instruction's task>', state, 'nominal'), a function of the
 * pair alone, so the result does not depend on batching either.
 */
export async function probeGrounding(policy: Policy, opts: GroundingOptions): Promise<{ rows: GroundingRow[]; summary: GroundingSummary }> {
  const t0 = performance.now();
  const { probes, after, envsPerBatch, seed, allInstructions } = checkOptions(policy, opts);
  const privileged = !!policy.privileged;
  const rows: GroundingRow[] = [];
  let chanceSum = 0;
  const batches = Math.ceil(probes.length / envsPerBatch);
  for (let b = 0; b < batches; b++) {
    const part = probes.slice(b * envsPerBatch, (b + 1) * envsPerBatch);
    const env = await BatchEnv.create(
      part.map((p) => ({ task: p.task.id, initState: p.state, perturbation: null })),
      policy.needsImages ? { ...opts.camera!, readback: true } : false,
    );
    try {
      let obs: Observation[] = await env.reset();
      const state0 = obs.map((x) => Float32Array.from(x.proprio.state));
      const worlds = env.worlds;
      const configs = env.configs();
      const experts = worlds.map((w) => createExpert(w));
      for (let t = 0; t < after; t++) obs = (await env.step(experts.map((e) => e.nextAction().action))).map((r) => r.obs);
      if (opts.freezeProprio) obs = obs.map((x, i) => ({ ...x, proprio: { ...x.proprio, state: state0[i] } }));
      const starts: EpisodeStart[] = part.map((p, i) => ({
        envId: i,
        taskId: p.task.id,
        instruction: configs[i].instruction,
        initState: p.state,
        perturbation: 'nominal',
        seed: episodeSeed(seed, p.task.id, p.state, 'nominal'),
        world: privileged ? worlds[i] : undefined,
      }));
      await policy.reset(starts);
      // Where the world stands now (the observation's proprio may be frozen; the geometry is not).
      const geometry = part.map((_, i) => ({
        ee: worlds[i].proprio().eePos,
        objects: configs[i].scene.objects.map((x) => ({ name: x.name, pos: worlds[i].objectPos(x.name) })),
      }));
      const expertPointed = experts.map((e, i) => {
        const a = e.nextAction().action;
        return pointedObject(geometry[i].ee, [a[0], a[1]], geometry[i].objects).name;
      });
      const inputs: PolicyInput[] = part.map((p, i) => ({ envId: i, obs: obs[i], instruction: configs[i].instruction, taskId: p.task.id, world: privileged ? worlds[i] : undefined }));
      const chunks = await policy.act(inputs);
      validateChunks(policy, inputs, chunks);
      const steps = Math.min(policy.executeSteps ?? policy.chunkSize, policy.chunkSize);
      const mine = part.map((_, i) => pointedObject(geometry[i].ee, displacement(chunks[i], steps), geometry[i].objects));
      // The same observations with the scene's other instructions.
      const others: (PointedObject | null)[][] = part.map((p) => (p.instructions ?? []).map(() => null));
      if (allInstructions) {
        const asks = part.flatMap((p, i) => p.instructions!.map((c, k) => ({ i, k, c })).filter((a) => a.c.taskId !== p.task.id));
        for (let g = 0; g < asks.length; g += envsPerBatch) {
          const group = asks.slice(g, g + envsPerBatch);
          await policy.reset(
            group.map((a, slot) => ({
              envId: slot,
              taskId: a.c.taskId,
              instruction: a.c.instruction,
              initState: part[a.i].state,
              perturbation: 'nominal',
              seed: episodeSeed(seed, `${part[a.i].task.id}>${a.c.taskId}`, part[a.i].state, 'nominal'),
              world: privileged ? worlds[a.i] : undefined,
            })),
          );
          const asked: PolicyInput[] = group.map((a, slot) => ({ envId: slot, obs: obs[a.i], instruction: a.c.instruction, taskId: a.c.taskId, world: privileged ? worlds[a.i] : undefined }));
          const answers = await policy.act(asked);
          validateChunks(policy, asked, answers);
          group.forEach((a, slot) => (others[a.i][a.k] = pointedObject(geometry[a.i].ee, displacement(answers[slot], steps), geometry[a.i].objects)));
        }
      }
      part.forEach((p, i) => {
        const pointed = mine[i];
        chanceSum += 1 / geometry[i].objects.length;
        const row: GroundingRow = {
          taskId: p.task.id,
          initState: p.state,
          instruction: configs[i].instruction,
          target: p.target,
          pointed: pointed.name,
          cosTarget: pointed.cosByObject[p.target],
          expertPointed: expertPointed[i],
        };
        if (allInstructions) {
          row.instructions = p.instructions!.map((c, k) => {
            const own = c.taskId === p.task.id;
            const q = own ? pointed : others[i][k]!;
            return { ...c, instruction: own ? row.instruction : c.instruction, pointed: q.name, cosTarget: q.cosByObject[c.target] };
          });
        }
        rows.push(row);
      });
    } finally {
      env.dispose();
    }
    opts.onProgress?.({ done: rows.length, total: probes.length, batch: b + 1, batches, hits: rows.filter((r) => r.pointed === r.target).length, elapsedMs: performance.now() - t0 });
  }
  const hits = rows.filter((r) => r.pointed === r.target).length;
  const ci = wilsonInterval(hits, rows.length);
  const perTask = opts.tasks.map((taskId) => {
    const mine = rows.filter((r) => r.taskId === taskId);
    return { taskId, n: mine.length, hits: mine.filter((r) => r.pointed === r.target).length };
  });
  return {
    rows,
    summary: {
      n: rows.length,
      pointsAtTarget: hits,
      rate: hits / rows.length,
      lo: ci.lo,
      hi: ci.hi,
      chance: chanceSum / rows.length,
      expertRate: rows.filter((r) => r.expertPointed === r.target).length / rows.length,
      perTask,
      ...(allInstructions ? { instructionSensitivity: instructionSensitivity(rows) } : {}),
    },
  };
}

/** The summary of the rows' `instructions` (InstructionSensitivity). */
export function instructionSensitivity(rows: readonly Pick<GroundingRow, 'instructions'>[]): InstructionSensitivity {
  let distinct = 0;
  let reachable = 0;
  let pairs = 0;
  let hits = 0;
  for (const r of rows) {
    if (!r.instructions) throw new Error('instructionSensitivity: a row has no instructions (probe with allInstructions)');
    distinct += new Set(r.instructions.map((x) => x.pointed).filter((x) => x !== '')).size;
    reachable += new Set(r.instructions.map((x) => x.target)).size;
    pairs += r.instructions.length;
    hits += r.instructions.filter((x) => x.pointed === x.target).length;
  }
  const ci = wilsonInterval(hits, pairs);
  return { scenes: rows.length, meanDistinctTargets: distinct / rows.length, maxDistinct: reachable / rows.length, pairs, hits, rate: hits / pairs, lo: ci.lo, hi: ci.hi };
}
