/**
 * Scripted-expert demonstrations written as LeRobotDataset v3.0 episodes: the one code
 * path behind `npm run gen` (src/sim/cli/gen.ts) and the Sim tab's "Generate dataset"
 * (worker/jobs/gen.ts), so both produce the same features and episode metadata.
 */
import { LeRobotReader, LeRobotWriter, type Features, type JsonValue, type WritableDatasetIO } from '../data/index.ts';
import { GpuCamera } from './camera/gpu';
import { geomCount } from './camera/scene';
import { SimEnv, createExpert } from './env';
import { PHASES } from './experts/expert';
import { samplePerturbation, type PerturbationKind } from './perturb';
import { CONTROL_HZ } from './scene';
import { getInitState, MAX_INIT_STATES_PER_TASK } from './tasks/init';
import type { TaskSpec } from './tasks/spec';
import { World } from './world';

/** Per-frame features of a demonstration dataset with square camera images of `size`. */
export function demoFeatures(size: number): Features {
  return {
    'observation.state': { dtype: 'float32', shape: [8], names: ['x', 'y', 'z', 'rx', 'ry', 'rz', 'finger_left', 'finger_right'] },
    'observation.joints': { dtype: 'float32', shape: [7], names: ['j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'j7'] },
    'observation.images.agentview': { dtype: 'image', shape: [size, size, 3], names: ['height', 'width', 'channels'] },
    'observation.images.wrist': { dtype: 'image', shape: [size, size, 3], names: ['height', 'width', 'channels'] },
    action: { dtype: 'float32', shape: [7], names: ['dx', 'dy', 'dz', 'rx', 'ry', 'rz', 'gripper'] },
    phase: { dtype: 'int64', shape: [1], names: null },
    phase_description: { dtype: 'string', shape: [1], names: null },
    'next.reward': { dtype: 'float32', shape: [1], names: null },
    'next.done': { dtype: 'bool', shape: [1], names: null },
  };
}

/** One camera for a whole run, sized for the largest scene plus the distractors (one
 * geom each) that a perturbation may add. */
export async function demoCamera(device: GPUDevice, tasks: readonly TaskSpec[], size: number): Promise<GpuCamera> {
  let maxGeoms = 0;
  for (const task of tasks) {
    const w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
    maxGeoms = Math.max(maxGeoms, geomCount(w.physics) + 3);
    w.delete();
  }
  return GpuCamera.create(device, { width: size, height: size, camerasPerEnv: 2, maxEnvs: 1, maxGeoms });
}

export interface DemoEpisodeSpec {
  task: TaskSpec;
  /** Fixed initial state index. */
  init: number;
  /** Position in the generation plan; stored so a rerun can resume after it. */
  planIndex: number;
  perturbKinds: readonly PerturbationKind[];
  /** Perturbation seed (per episode). */
  seed: number;
  size: number;
  camera: GpuCamera;
  /** Awaited every 50 steps, so a long episode can be paused or cancelled (it may throw). */
  checkpoint?: () => Promise<void>;
}

/** Runs the scripted expert and saves the episode if it succeeds (discards it otherwise). */
export async function recordDemo(writer: LeRobotWriter, spec: DemoEpisodeSpec): Promise<{ success: boolean; frames: number }> {
  const { task, init, size } = spec;
  const initState = getInitState(task, init);
  const perturbation = spec.perturbKinds.length ? samplePerturbation(task, initState, [...spec.perturbKinds], spec.seed) : null;
  const run = await SimEnv.create({ task, initState, perturbation, camera: { reuse: spec.camera } });
  let frames = 0;
  try {
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
      frames++;
      obs = r.obs;
      success = r.success;
      if (spec.checkpoint && t % 50 === 49) await spec.checkpoint();
    }
    if (!success) {
      writer.discardEpisode();
      return { success, frames };
    }
    const rec = run.record();
    const meta: Record<string, JsonValue> = {
      plan_index: spec.planIndex,
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
    return { success, frames };
  } catch (e) {
    if (writer.pendingFrames > 0) writer.discardEpisode();
    throw e;
  } finally {
    run.dispose();
  }
}

export interface GenerateOptions {
  tasks: readonly TaskSpec[];
  /** Episodes per task; episode k of a task starts from initial state firstState + k. */
  episodes: number;
  firstState?: number;
  size: number;
  perturbKinds?: readonly PerturbationKind[];
  /** Seed of the episodes' perturbations. */
  seed?: number;
  /** LeRobot repo id in meta/info.json. */
  repoId: string;
  /** Size at which data files roll over (writer default: LeRobot's 100 MB). */
  dataFilesSizeMb?: number;
  device: GPUDevice;
  onEpisode?: (e: { index: number; total: number; taskId: string; init: number; success: boolean; saved: number; failed: number }) => void;
}

/**
 * Records a plan of expert demonstrations (every task x episodes) into the dataset at
 * `io`, resuming after the last saved episode when the dataset exists (each episode
 * records its plan index); the one loop behind `npm run gen` and `npm run demo:train`.
 * Throws when `io` holds a dataset of another plan.
 */
export async function generateDemos(io: WritableDatasetIO, o: GenerateOptions): Promise<{ planned: number; saved: number; failed: number; total: number }> {
  const first = o.firstState ?? 0;
  if (!Number.isInteger(first) || first < 0 || first + o.episodes > MAX_INIT_STATES_PER_TASK) {
    throw new Error(`firstState + episodes must stay within the ${MAX_INIT_STATES_PER_TASK} initial states, got ${first} + ${o.episodes}`);
  }
  const plan = o.tasks.flatMap((task) => Array.from({ length: o.episodes }, (_, i) => ({ task, init: first + i })));
  const writer = await LeRobotWriter.openOrCreate(io, { repoId: o.repoId, fps: CONTROL_HZ, robotType: 'panda_like', features: demoFeatures(o.size), dataFilesSizeMb: o.dataFilesSizeMb });
  let start = 0;
  if (writer.totalEpisodes > 0) {
    const r = await LeRobotReader.open(io);
    const last = r.episodes[r.episodes.length - 1]?.meta;
    const k = typeof last?.plan_index === 'number' ? last.plan_index : -1;
    if (k < 0 || plan[k]?.task.id !== last?.task_id || plan[k]?.init !== last?.init_index) {
      throw new Error(`the dataset holds episodes of a different plan (its last episode: task ${last?.task_id}, initial state ${last?.init_index}, plan index ${last?.plan_index})`);
    }
    start = k + 1;
  }
  const camera = await demoCamera(o.device, o.tasks, o.size);
  let saved = 0;
  let failed = 0;
  try {
    for (let k = start; k < plan.length; k++) {
      const { task, init } = plan[k];
      const { success } = await recordDemo(writer, { task, init, planIndex: k, perturbKinds: o.perturbKinds ?? [], seed: (o.seed ?? 0) * 100003 + k, size: o.size, camera });
      if (success) saved++;
      else failed++;
      o.onEpisode?.({ index: k, total: plan.length, taskId: task.id, init, success, saved, failed });
    }
    await writer.finalize();
  } finally {
    camera.destroy();
  }
  return { planned: plan.length, saved, failed, total: writer.totalEpisodes };
}
