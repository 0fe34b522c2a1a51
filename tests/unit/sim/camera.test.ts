import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { acquireDevice } from '../../../src/engine/device';
import { BatchEnv, getInitState, getTask, renderReference, samplePerturbation } from '../../../src/sim';

let device: GPUDevice;
beforeAll(async () => {
  device = (await acquireDevice()).device;
});
afterAll(() => device?.destroy());

function maxDiff(a: Uint8Array, b: Uint8Array): { max: number; over: number } {
  let max = 0;
  let over = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    if (d > 3) over++;
  }
  return { max, over };
}

describe('observation cameras', () => {
  test('the WGSL batch renderer matches the TypeScript reference (2 envs, perturbed lighting/background/noise)', async () => {
    const task = getTask('goal/red_in_drawer');
    const init = getInitState(task, 0);
    const p = samplePerturbation(task, init, ['lighting', 'background', 'table_color', 'sensor_noise', 'camera'], 4);
    const env = await BatchEnv.create(
      [
        { task, initState: 0 },
        { task, initState: 0, perturbation: p },
      ],
      { device, width: 32, height: 24 },
    );
    const obs = await env.reset();
    const cores = (env as unknown as { cores: Array<{ frame(): import('../../../src/sim/camera/types').RenderFrame }> }).cores;
    for (let e = 0; e < 2; e++) {
      const ref = renderReference(cores[e].frame(), 32, 24, 0, e * 2);
      const got = [obs[e].images!.agentview, obs[e].images!.wrist];
      for (let c = 0; c < 2; c++) {
        expect(got[c].length).toBe(32 * 24 * 3);
        const d = maxDiff(ref[c], got[c]);
        // float32 on the GPU vs float64 here: a few levels, and at most a handful of
        // silhouette pixels where a ray grazes an edge.
        expect(d.over, `env ${e} camera ${c}: ${d.over} values differ by more than 3 (max ${d.max})`).toBeLessThanOrEqual(6);
      }
    }
    // The perturbed environment really looks different, and the images are not blank.
    expect(maxDiff(obs[0].images!.agentview, obs[1].images!.agentview).over).toBeGreaterThan(100);
    const distinct = new Set(Array.from(obs[0].images!.agentview));
    expect(distinct.size).toBeGreaterThan(20);
    expect(obs[0].proprio.joints.length).toBe(7);
    expect(obs[0].proprio.state.length).toBe(8);
    env.dispose();
  });
});
