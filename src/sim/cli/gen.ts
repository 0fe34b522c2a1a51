/**
 * npm run gen -- --suite spatial --episodes 50 --out data/spatial [--size 64]
 *                [--perturb lighting,camera,...] [--seed 0] [--task goal/open_drawer]
 *
 * Scripted-expert demonstrations as a LeRobotDataset v3.0: per step the proprio state,
 * both camera images, the action, the expert's phase and its description; per episode
 * the task, initial state, perturbation record and success in the episode metadata.
 * Episode k of a task starts from fixed initial state k. Resumable: the plan is
 * deterministic and each saved episode records its plan index, so a rerun continues
 * after the last complete episode. Failed demonstrations are not saved. Writes are
 * atomic (src/data), so an interrupted run never leaves a dataset that reads as whole.
 */
import { LeRobotReader, LeRobotWriter, type Features, type JsonValue } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { acquireDevice } from '../../engine/device';
import { GpuCamera, MAX_IMAGE_SIZE } from '../camera/gpu';
import { geomCount } from '../camera/scene';
import { SimEnv, createExpert } from '../env';
import { PHASES } from '../experts/expert';
import { PERTURBATION_KINDS, samplePerturbation, type PerturbationKind } from '../perturb';
import { CONTROL_HZ } from '../scene';
import { getInitState, INIT_STATES_PER_TASK } from '../tasks/init';
import { getTask, listTasks } from '../tasks/suites';
import { World } from '../world';
import { SUITES, type Suite, type TaskSpec } from '../tasks/spec';

function fail(msg: string): never {
  console.error(`gen: ${msg}`);
  process.exit(2);
}
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) fail(`--${name} needs a value`);
  return v;
}

const out = arg('out') ?? fail('--out DIR is required');
const suite = arg('suite') as Suite | undefined;
const taskId = arg('task');
if (!suite && !taskId) fail(`give --suite (${SUITES.join(', ')}) or --task ID`);
if (suite && !SUITES.includes(suite)) fail(`--suite must be one of ${SUITES.join(', ')}, got '${suite}'`);
const episodes = Number(arg('episodes') ?? 50);
if (!Number.isInteger(episodes) || episodes < 1 || episodes > INIT_STATES_PER_TASK) fail(`--episodes must be an integer in [1, ${INIT_STATES_PER_TASK}] (episodes per task)`);
const size = Number(arg('size') ?? 64);
if (!Number.isInteger(size) || size < 8 || size > MAX_IMAGE_SIZE) fail(`--size must be an integer in [8, ${MAX_IMAGE_SIZE}]`);
const seed = Number(arg('seed') ?? 0);
if (!Number.isInteger(seed)) fail('--seed must be an integer');
const perturbKinds = (arg('perturb') ?? '').split(',').filter(Boolean) as PerturbationKind[];
for (const k of perturbKinds) if (!PERTURBATION_KINDS.includes(k)) fail(`unknown --perturb kind '${k}' (known: ${PERTURBATION_KINDS.join(', ')})`);

const tasks: TaskSpec[] = taskId ? [getTask(taskId)] : listTasks(suite);
const plan = tasks.flatMap((task) => Array.from({ length: episodes }, (_, i) => ({ task, init: i })));

const features: Features = {
  'observation.state': { dtype: 'float32', shape: [8], names: ['x', 'y', 'z', 'ax', 'ay', 'az', 'finger_left', 'finger_right'] },
  'observation.joints': { dtype: 'float32', shape: [7], names: ['j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'j7'] },
  'observation.images.agentview': { dtype: 'image', shape: [size, size, 3], names: ['height', 'width', 'channels'] },
  'observation.images.wrist': { dtype: 'image', shape: [size, size, 3], names: ['height', 'width', 'channels'] },
  action: { dtype: 'float32', shape: [7], names: ['dx', 'dy', 'dz', 'rx', 'ry', 'rz', 'gripper'] },
  phase: { dtype: 'int64', shape: [1], names: null },
  phase_description: { dtype: 'string', shape: [1], names: null },
  'next.reward': { dtype: 'float32', shape: [1], names: null },
  'next.done': { dtype: 'bool', shape: [1], names: null },
};

const io = nodeIO(out);
const writer = await LeRobotWriter.openOrCreate(io, { repoId: `prts/${suite ?? taskId!.replace('/', '_')}`, fps: CONTROL_HZ, robotType: 'panda_like', features });
// Resume after the last plan index a saved episode records.
let start = 0;
if (writer.totalEpisodes > 0) {
  const r = await LeRobotReader.open(io);
  const last = r.episodes[r.episodes.length - 1]?.meta;
  const k = typeof last?.plan_index === 'number' ? last.plan_index : -1;
  if (k < 0 || plan[k]?.task.id !== last?.task_id) fail(`${out} holds a dataset from a different plan (last episode: ${JSON.stringify(last)}); use another --out`);
  start = k + 1;
  console.log(`resuming: ${writer.totalEpisodes} episodes already written, continuing at ${start}/${plan.length}`);
}

// One camera for the whole run, sized for the largest scene plus the distractors
// (one geom each) that a perturbation may add.
let maxGeoms = 0;
for (const task of tasks) {
  const w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
  maxGeoms = Math.max(maxGeoms, geomCount(w.physics) + 3);
  w.delete();
}
const { device } = await acquireDevice();
const camera = await GpuCamera.create(device, { width: size, height: size, camerasPerEnv: 2, maxEnvs: 1, maxGeoms });
const t0 = performance.now();
let saved = 0;
let failed = 0;
for (let k = start; k < plan.length; k++) {
  const { task, init } = plan[k];
  const initState = getInitState(task, init);
  const perturbation = perturbKinds.length ? samplePerturbation(task, initState, perturbKinds, seed * 100003 + k) : null;
  const run = await SimEnv.create({ task, initState, perturbation, camera: { reuse: camera } });
  const expert = createExpert(run);
  let obs = await run.reset();
  let success = false;
  for (let t = 0; t < task.maxSteps; t++) {
    const a = expert.nextAction();
    if (a.phase === 'done') break;
    const r = await run.step(a.action, a);
    writer.addFrame({
      'observation.state': obs.proprio.state,
      'observation.joints': obs.proprio.joints,
      'observation.images.agentview': { width: size, height: size, channels: 3, data: obs.images!.agentview },
      'observation.images.wrist': { width: size, height: size, channels: 3, data: obs.images!.wrist },
      action: a.action,
      phase: PHASES.indexOf(a.phase),
      phase_description: a.description,
      'next.reward': r.reward,
      'next.done': r.done || t === task.maxSteps - 1,
    });
    obs = r.obs;
    success = r.success;
  }
  if (success) {
    const rec = run.record();
    const meta: Record<string, JsonValue> = {
      plan_index: k,
      task_id: task.id,
      suite: task.suite,
      init_index: init,
      success,
      steps: rec.steps,
      instruction: run.instruction,
      original_instruction: task.instruction,
      perturbation: (perturbation ?? null) as unknown as JsonValue,
      init_state: rec.initState as unknown as JsonValue,
      final_state_hash: rec.finalStateHash,
      phases: [...PHASES],
    };
    await writer.saveEpisode({ task: run.instruction, meta });
    saved++;
  } else {
    writer.discardEpisode();
    failed++;
  }
  run.dispose();
  const done = k + 1 - start;
  const eta = ((performance.now() - t0) / done) * (plan.length - k - 1);
  console.log(`[${k + 1}/${plan.length}] ${task.id}#${init} ${success ? 'ok' : 'FAILED (not saved)'}  saved ${saved}  failed ${failed}  eta ${Math.round(eta / 1000)}s`);
}
await writer.finalize();
camera.destroy();
device.destroy();
console.log(JSON.stringify({ out, episodes_planned: plan.length, saved_this_run: saved, failed_this_run: failed, total_episodes: writer.totalEpisodes, seconds: Math.round((performance.now() - t0) / 1000) }));
