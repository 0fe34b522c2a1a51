/**
 * Scripted-expert demonstrations written as LeRobotDataset v3.0 episodes: the one code
 * path behind `npm run gen` (src/sim/cli/gen.ts) and the Sim tab's "Generate dataset"
 * (worker/jobs/gen.ts), so both produce the same features and episode metadata.
 */
import type { Features, JsonValue, LeRobotWriter } from '../data/index.ts';
import { GpuCamera } from './camera/gpu';
import { geomCount } from './camera/scene';
import { SimEnv, createExpert } from './env';
import { PHASES } from './experts/expert';
import { samplePerturbation, type PerturbationKind } from './perturb';
import { getInitState } from './tasks/init';
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
