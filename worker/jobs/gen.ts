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
import { LeRobotWriter, memoryIO } from '../../src/data/index.ts';
import { demoCamera, demoFeatures, recordDemo } from '../../src/sim/demos.ts';
import { getTask, CONTROL_HZ, INIT_STATES_PER_TASK } from '../../src/sim/index.ts';
import type { JobParams } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';

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
  const camera = await demoCamera(rt.device, tasks, p.size);
  const io = memoryIO();
  const writer = await LeRobotWriter.create(io, { repoId: `prts/${p.datasetId}`, fps: CONTROL_HZ, robotType: 'panda_like', features: demoFeatures(p.size) });
  let saved = 0;
  let failed = 0;
  // Upload counts as one more progress unit per 10 files, so the bar does not sit at 100%.
  const total = plan.length + 1;
  try {
    for (let k = 0; k < plan.length; k++) {
      await ctx.checkpoint();
      const { task, init } = plan[k];
      const { success, frames } = await recordDemo(writer, {
        task,
        init,
        planIndex: k,
        perturbKinds: p.perturb,
        seed: p.seed * 100003 + k,
        size: p.size,
        camera,
        checkpoint: () => ctx.checkpoint(),
      });
      if (success) saved++;
      else failed++;
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
