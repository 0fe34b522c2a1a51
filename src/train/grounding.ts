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
 */
import { ACTION_DIM, BatchEnv, createExpert, getTask, INIT_STATES_PER_TASK, type Observation, type TaskSpec } from '../sim/index';
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
}

interface Probe {
  task: TaskSpec;
  state: number;
  target: string;
}

function checkOptions(policy: Policy, o: GroundingOptions): { probes: Probe[]; after: number; envsPerBatch: number; seed: number } {
  if (!Array.isArray(o.tasks) || o.tasks.length === 0) throw new Error('tasks: give at least one task id');
  if (!Array.isArray(o.states) || o.states.length === 0) throw new Error('states: give at least one initial-state index');
  if (new Set(o.tasks).size !== o.tasks.length) throw new Error(`tasks: duplicate ids in [${o.tasks.join(', ')}]`);
  for (const s of o.states) {
    if (!Number.isInteger(s) || s < 0 || s >= INIT_STATES_PER_TASK) throw new Error(`states: ${s} is not an index in [0, ${INIT_STATES_PER_TASK - 1}]`);
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
    return { task, target };
  });
  return { probes: tasks.flatMap(({ task, target }) => o.states.map((state) => ({ task, state, target }))), after, envsPerBatch, seed };
}

/** Sum of the dx, dy channels over the first `steps` actions of a step-major chunk. */
function displacement(chunk: Float32Array, steps: number): [number, number] {
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
 */
export async function probeGrounding(policy: Policy, opts: GroundingOptions): Promise<{ rows: GroundingRow[]; summary: GroundingSummary }> {
  const t0 = performance.now();
  const { probes, after, envsPerBatch, seed } = checkOptions(policy, opts);
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
      if (opts.freezeProprio) obs = obs.map((x, i) => ({ ...x, proprio: { ...x.proprio, state: Float32Array.from(state0[i]) } }));
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
      part.forEach((p, i) => {
        const pointed = pointedObject(geometry[i].ee, displacement(chunks[i], steps), geometry[i].objects);
        chanceSum += 1 / geometry[i].objects.length;
        rows.push({
          taskId: p.task.id,
          initState: p.state,
          instruction: configs[i].instruction,
          target: p.target,
          pointed: pointed.name,
          cosTarget: pointed.cosByObject[p.target],
          expertPointed: expertPointed[i],
        });
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
    },
  };
}
