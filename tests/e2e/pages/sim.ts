/**
 * Minimal page for the simulation: runs the cross-host determinism rollout, then shows
 * the three.js viewer playing the scripted expert with the policy cameras beside it.
 * Results go to window.__sim; document.title becomes 'done' or 'error: ...'.
 */
import { acquireDevice } from '../../../src/engine/device';
import { createExpert, SimEnv } from '../../../src/sim';
import { SimViewer } from '../../../src/sim/view/viewer';
import { determinismRun } from './sim-determinism';

declare global {
  interface Window {
    __sim?: unknown;
  }
}

async function main(): Promise<void> {
  const { device } = await acquireDevice();
  const det = await determinismRun(device);
  const env = await SimEnv.create({ task: 'goal/red_on_plate', initState: 0, camera: { device, width: 64, height: 64 } });
  const canvas = document.getElementById('view') as HTMLCanvasElement;
  const viewer = new SimViewer(canvas, { imagePanel: document.getElementById('images')! });
  viewer.setWorld(env.world);
  let obs = await env.reset();
  viewer.showImages([obs.images!.agentview, obs.images!.wrist], 64, 64);
  const expert = createExpert(env);
  let steps = 0;
  const speed = Number(new URLSearchParams(location.search).get('speed') ?? 8);
  await viewer.play(async () => {
    const a = expert.nextAction();
    const r = await env.step(a.action, a);
    obs = r.obs;
    viewer.showImages([obs.images!.agentview, obs.images!.wrist], 64, 64);
    steps++;
    document.getElementById('phase')!.textContent = `${steps} ${a.phase}: ${a.description}`;
    return steps < 12 && !r.done;
  }, speed);
  window.__sim = { determinism: det, viewerSteps: steps };
  document.title = 'done';
}

main().catch((e: unknown) => {
  console.error(e);
  document.title = `error: ${e instanceof Error ? e.message : String(e)}`;
});
