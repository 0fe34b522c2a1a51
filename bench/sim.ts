/**
 * npm run bench:sim [-- --steps 40 --quick]
 * physics_steps_per_s: raw mj_step rate, one environment on one core (goal scene).
 * env_steps_per_s_{1,16,64}: BatchEnv control steps (20 Hz, 25 physics steps each) with
 * both observation cameras rendered at 64x64 every step (images left on the GPU).
 * camera_frames_per_s: camera images rendered per second at 64x64 in 64-env batches.
 * The last line is one JSON object.
 */
import { defineCli } from '../src/cli/args';
import { acquireDevice } from '../src/engine/device';
import { Rng } from '../src/engine/random';
import { BatchEnv, getTask, listTasks } from '../src/sim';
import { World } from '../src/sim/world';
import { getInitState } from '../src/sim/tasks/init';
import { SUBSTEPS } from '../src/sim/scene';

const args = defineCli({
  name: 'bench:sim',
  command: 'npm run bench:sim --',
  description: 'Physics and BatchEnv (cameras on) throughput; ends with one JSON line.',
  options: {
    steps: { type: 'int', min: 1, help: 'timed control steps per batch size (default 20, or 5 with --quick)' },
    quick: { type: 'boolean', help: 'shorter timings and fewer steps' },
  },
}).parse();
const quick = args.quick;
const STEPS = args.steps ?? (quick ? 5 : 20);

async function physicsRate(): Promise<number> {
  const task = getTask('goal/red_on_plate');
  const w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
  w.reset(getInitState(task, 0));
  const rng = new Rng(1);
  // Warm up, then time plain mj_step calls while the arm moves.
  for (let i = 0; i < 5; i++) w.step([0, 0, -0.3, 0, 0, 0, -1]);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < (quick ? 1000 : 3000)) {
    w.controller.apply([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), 0, 0, 0, -1]);
    w.physics.step(SUBSTEPS);
    n += SUBSTEPS;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  w.delete();
  return rate;
}

async function envRate(device: GPUDevice, n: number): Promise<{ envSteps: number; physicsMs: number; cameraMs: number }> {
  const tasks = listTasks();
  const env = await BatchEnv.create(
    Array.from({ length: n }, (_, i) => ({ task: tasks[i % tasks.length], initState: i % 50 })),
    { device, width: 64, height: 64, readback: false },
  );
  await env.reset();
  await device.queue.onSubmittedWorkDone();
  const rng = new Rng(2);
  const actions = () => Array.from({ length: n }, () => Float32Array.from({ length: 7 }, (_, k) => (k < 3 ? rng.uniform(-0.5, 0.5) : k === 6 ? -1 : 0)));
  let physicsMs = 0;
  let cameraMs = 0;
  const t0 = performance.now();
  for (let s = 0; s < STEPS; s++) {
    const a = actions();
    const tp = performance.now();
    const worlds = env.worlds;
    for (let i = 0; i < n; i++) worlds[i].step(a[i]);
    const tc = performance.now();
    physicsMs += tc - tp;
    await env.observe();
    await device.queue.onSubmittedWorkDone();
    cameraMs += performance.now() - tc;
  }
  const sec = (performance.now() - t0) / 1000;
  env.dispose();
  return { envSteps: (n * STEPS) / sec, physicsMs: physicsMs / STEPS, cameraMs: cameraMs / STEPS };
}

async function cameraRate(device: GPUDevice): Promise<number> {
  const n = 64;
  const tasks = listTasks();
  const env = await BatchEnv.create(
    Array.from({ length: n }, (_, i) => ({ task: tasks[i % tasks.length], initState: i % 50 })),
    { device, width: 64, height: 64, readback: false },
  );
  await env.reset();
  const cam = env.camera!;
  const frames = (env as unknown as { cores: Array<{ frame(): import('../src/sim/camera/types').RenderFrame }> }).cores.map((c) => c.frame());
  cam.render(frames, 0);
  await device.queue.onSubmittedWorkDone();
  const reps = quick ? 2 : 5;
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) cam.render(frames, r);
  await device.queue.onSubmittedWorkDone();
  const sec = (performance.now() - t0) / 1000;
  env.dispose();
  return (reps * n * 2) / sec;
}

const { device, info } = await acquireDevice();
console.log(`device: ${info.description || info.vendor} ${info.software ? '(software: SwiftShader on the CPU)' : ''}`);
const physics = await physicsRate();
console.log(`physics: ${physics.toFixed(0)} mj_step/s (${(physics / SUBSTEPS).toFixed(0)} control steps/s without cameras)`);
const env: Record<string, number> = {};
for (const n of [1, 16, 64]) {
  const r = await envRate(device, n);
  env[`env_steps_per_s_${n}`] = r.envSteps;
  console.log(`${String(n).padStart(2)} envs: ${r.envSteps.toFixed(1)} env steps/s (per batch step: physics ${r.physicsMs.toFixed(1)} ms, cameras ${r.cameraMs.toFixed(1)} ms)`);
}
const cam = await cameraRate(device);
console.log(`camera: ${cam.toFixed(0)} frames/s at 64x64 (64 envs x 2 cameras per dispatch)`);
device.destroy();
const round = (v: number) => Math.round(v * 10) / 10;
console.log(
  JSON.stringify({
    device: info.description || info.vendor,
    software_gpu: info.software,
    physics_steps_per_s: round(physics),
    ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, round(v)])),
    camera_frames_per_s: round(cam),
    image_size: 64,
    control_hz: 20,
    substeps: SUBSTEPS,
    steps_timed: STEPS,
  }),
);
