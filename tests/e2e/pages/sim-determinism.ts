/**
 * The fixed rollout both hosts run for the cross-host determinism test: the same task,
 * initial state, perturbation and seeded actions, with the cameras on. Imported by the
 * Chromium page (tests/e2e/pages/sim.ts) and by the Node side of tests/e2e/sim.test.ts.
 */
import { Rng } from '../../../src/engine/random';
import { getInitState, getTask, samplePerturbation, SimEnv } from '../../../src/sim';
import { hashFloat64 } from '../../../src/sim/physics';

export interface DeterminismResult {
  stateHashes: string[];
  imageHashes: string[];
  instruction: string;
}

function hashBytes(b: Uint8Array): string {
  // Pad into float64 words so the same FNV helper hashes the bytes.
  const padded = new Uint8Array(Math.ceil(b.length / 8) * 8);
  padded.set(b);
  return hashFloat64(new Float64Array(padded.buffer));
}

export async function determinismRun(device: GPUDevice, steps = 8): Promise<DeterminismResult> {
  const task = getTask('goal/red_on_plate');
  const init = getInitState(task, 3);
  const perturbation = samplePerturbation(task, init, ['lighting', 'sensor_noise', 'robot_init', 'distractors'], 9);
  const env = await SimEnv.create({ task, initState: init, perturbation, camera: { device, width: 32, height: 32 } });
  try {
    const rng = new Rng(7);
    let obs = await env.reset();
    const stateHashes = [env.stateHash()];
    const imageHashes = [hashBytes(obs.images!.agentview) + hashBytes(obs.images!.wrist)];
    for (let s = 0; s < steps; s++) {
      const a = Float32Array.from({ length: 7 }, () => rng.uniform(-1, 1));
      const r = await env.step(a);
      obs = r.obs;
      stateHashes.push(env.stateHash());
      imageHashes.push(hashBytes(obs.images!.agentview) + hashBytes(obs.images!.wrist));
    }
    return { stateHashes, imageHashes, instruction: env.instruction };
  } finally {
    env.dispose();
  }
}
