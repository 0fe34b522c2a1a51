/**
 * Dataset generation from the page (Sim tab): scripted-expert demonstrations written as
 * a LeRobotDataset v3.0 with the same features and episode metadata as `npm run gen`
 * (src/sim/cli/gen.ts), built in worker memory and then uploaded file by file to the
 * server's dataset upload route.
 *
 * Why the server and not IndexedDB: the Data tab (and the Value / Embeddings tabs, and
 * the Node CLIs for training and evaluation) already read server datasets through one
 * path (httpIO), and the dataset survives the page. The upload needs the operator
 * token; the job refuses to start without one rather than generate and then fail.
 */
import { LeRobotWriter, memoryIO, type Features, type JsonValue } from '../../src/data/index.ts';
import { GpuCamera } from '../../src/sim/camera/gpu.ts';
import { geomCount } from '../../src/sim/camera/scene.ts';
import { createExpert, getInitState, getTask, PHASES, samplePerturbation, SimEnv, World, CONTROL_HZ, INIT_STATES_PER_TASK } from '../../src/sim/index.ts';
import type { JobParams } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';

export function genFeatures(size: number): Features {
  return {
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
}

/** Server dataset ids: what server/datasets.ts accepts (letters, digits, . _ -). */
export function checkGenParams(p: JobParams['gen']): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(p.datasetId)) throw new Error(`dataset name "${p.datasetId}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  if (!p.tasks.length) throw new Error('choose at least one task');
  if (!Number.isInteger(p.episodesPerTask) || p.episodesPerTask < 1 || p.episodesPerTask > INIT_STATES_PER_TASK) throw new Error(`episodes per task must be an integer in [1, ${INIT_STATES_PER_TASK}]`);
  if (!Number.isInteger(p.size) || p.size < 8 || p.size > 256) throw new Error('image size must be an integer in [8, 256]');
  if (!p.token) throw new Error('uploading to the server needs the operator token: open the link the server printed (…/#token=…)');
}

export async function genJob(p: JobParams['gen'], ctx: JobContext) {
  checkGenParams(p);
  const tasks = p.tasks.map((t) => getTask(t));
  // Refuse up front rather than mix two datasets' files under one name.
  const existing = await fetch(`/api/datasets/${encodeURIComponent(p.datasetId)}/info`, { headers: { accept: 'application/json' } });
  if (existing.ok) throw new Error(`the server already has a dataset named "${p.datasetId}": choose another name`);
  const plan = tasks.flatMap((task) => Array.from({ length: p.episodesPerTask }, (_, i) => ({ task, init: i })));
  const rt = await runtime();
  // One camera for the run, sized for the largest scene plus perturbation distractors.
  let maxGeoms = 0;
  for (const task of tasks) {
    const w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
    maxGeoms = Math.max(maxGeoms, geomCount(w.physics) + 3);
    w.delete();
  }
  const camera = await GpuCamera.create(rt.device, { width: p.size, height: p.size, camerasPerEnv: 2, maxEnvs: 1, maxGeoms });
  const io = memoryIO();
  const writer = await LeRobotWriter.create(io, { repoId: `prts/${p.datasetId}`, fps: CONTROL_HZ, robotType: 'panda_like', features: genFeatures(p.size) });
  let saved = 0;
  let failed = 0;
  // Upload counts as one more progress unit per 10 files, so the bar does not sit at 100%.
  const total = plan.length + 1;
  try {
    for (let k = 0; k < plan.length; k++) {
      await ctx.checkpoint();
      const { task, init } = plan[k];
      const initState = getInitState(task, init);
      const perturbation = p.perturb.length ? samplePerturbation(task, initState, p.perturb, p.seed * 100003 + k) : null;
      const run = await SimEnv.create({ task, initState, perturbation, camera: { reuse: camera } });
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
            'observation.images.agentview': { width: p.size, height: p.size, channels: 3, data: obs.images!.agentview },
            'observation.images.wrist': { width: p.size, height: p.size, channels: 3, data: obs.images!.wrist },
            action: a.action,
            phase: PHASES.indexOf(a.phase),
            phase_description: a.description,
            'next.reward': r.reward,
            'next.done': r.done || t === task.maxSteps - 1,
          });
          frames++;
          obs = r.obs;
          success = r.success;
          // Long episodes: let pause/cancel through every 50 steps, not only between episodes.
          if (t % 50 === 49) await ctx.checkpoint();
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
      } catch (e) {
        if (writer.pendingFrames > 0) writer.discardEpisode();
        throw e;
      } finally {
        run.dispose();
      }
      ctx.progress({ step: k + 1, total, losses: { saved, failed }, items: frames });
    }
  } finally {
    camera.destroy();
  }
  if (saved === 0) throw new Error(`no successful demonstration among ${plan.length} episodes: nothing to upload`);
  await writer.finalize();
  await ctx.checkpoint();
  // meta/info.json goes last: the server lists a dataset once it has one, so a listed
  // dataset is always complete even if the upload is cut off.
  const files = [...io.files.entries()]
    .filter(([path]) => !path.includes('.tmp-'))
    .sort(([a], [b]) => Number(a === 'meta/info.json') - Number(b === 'meta/info.json'));
  let bytes = 0;
  for (let i = 0; i < files.length; i++) {
    const [path, data] = files[i];
    const url = `/api/datasets/${encodeURIComponent(p.datasetId)}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
    const res = await fetch(url, { method: 'PUT', body: data as BodyInit, headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/octet-stream' } });
    if (!res.ok) {
      let msg = `HTTP ${res.status}`;
      try {
        const b = (await res.json()) as { message?: string };
        if (b.message) msg += `: ${b.message}`;
      } catch {
        // Not JSON (a proxy's error page): the status says enough.
      }
      throw new Error(`uploading ${path} to the server failed (${msg})`);
    }
    bytes += data.byteLength;
  }
  ctx.progress({ step: total, total, losses: { saved, failed }, items: 0 });
  ctx.log(`uploaded ${files.length} files (${(bytes / 1e6).toFixed(2)} MB) as dataset ${p.datasetId}`);
  return { datasetId: p.datasetId, saved, failed, files: files.length, bytes };
}
