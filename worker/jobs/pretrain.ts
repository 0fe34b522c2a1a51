/**
 * PRTS pre-training in the browser (src/train/pretrain.ts Pretrainer) on a server
 * dataset, for as many steps as asked, started from the Train tab (long runs) or the
 * Value tab (a few steps to have a checkpoint). The checkpoint directory
 * (src/train/checkpoint.ts format) is kept in IndexedDB as a browser run
 * (worker/jobs/runs.ts), saved every `checkpointEvery` steps, at the end and on cancel
 * (train-loop.ts); `resume` continues a run from its saved checkpoint exactly as
 * `npm run train -- --resume` does (parameters, AdamW moments, sampler position).
 *
 * The model config comes from the Model tab; the parts that must match the data
 * (cameras, image size, state and action dimensions) are taken from the dataset, since
 * a mismatch there is an error rather than a choice.
 */
import { httpIO, LeRobotReader, memoryIO, type Features } from '../../src/data/index.ts';
import { validateConfig, type WorkbenchConfig } from '../../src/model/config.ts';
import { loadCheckpoint, saveCheckpoint, toResume } from '../../src/train/checkpoint.ts';
import { Pretrainer } from '../../src/train/pretrain.ts';
import type { PretrainResume } from '../../src/train/trainer-state.ts';
import type { JobParams } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';
import { getRun, getRunFiles, putRun, type RunSummary } from './runs.ts';
import { runTrainLoop } from './train-loop.ts';

/** The config with cameras, image size, state and action dimensions taken from the dataset's features. */
export function fitConfigToDataset(cfg: WorkbenchConfig, features: Features): WorkbenchConfig {
  const cams = Object.entries(features).filter(([k, f]) => k.startsWith('observation.images.') && (f.dtype === 'image' || f.dtype === 'video'));
  if (!cams.length) throw new Error('the dataset has no observation.images.* feature: PRTS needs at least one camera');
  const sizes = new Set(cams.map(([, f]) => `${f.shape[0]}x${f.shape[1]}`));
  if (sizes.size > 1) throw new Error(`the dataset's cameras differ in size (${[...sizes].join(', ')}); the model takes one image size`);
  const [h, w] = cams[0][1].shape;
  if (h !== w) throw new Error(`camera images are ${h}x${w}; the model's patch grid needs square images`);
  const dim = (key: string) => {
    const f = features[key];
    if (!f) throw new Error(`the dataset has no "${key}" feature (features: ${Object.keys(features).join(', ')})`);
    return f.shape.reduce((a, b) => a * b, 1);
  };
  // The config's patch size when it divides the image, else the largest divisor up to it.
  let patch = Math.min(cfg.model.patchSize, h);
  while (h % patch !== 0) patch--;
  const model = {
    ...cfg.model,
    cameras: cams.map(([k]) => k.slice('observation.images.'.length)),
    imageSize: h,
    patchSize: patch,
    stateDim: dim('observation.state'),
    actionDim: dim('action'),
  };
  const out = { ...cfg, model };
  const v = validateConfig(out);
  if (!v.ok) throw new Error(`the config does not fit this dataset: ${v.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  return v.value;
}

export const RUN_NAME = /^[\w.-]{1,64}$/;

/** Checks of the parameters every browser training job shares (the tab validates the same, field by field). */
export function checkRunParams(p: { name: string; steps: number; checkpointEvery?: number }): void {
  if (!RUN_NAME.test(p.name)) throw new Error(`run name "${p.name}": 1-64 letters, digits, '.', '_' or '-'`);
  if (!Number.isInteger(p.steps) || p.steps < 1) throw new Error('steps must be a positive integer');
  const every = p.checkpointEvery ?? 0;
  if (!Number.isInteger(every) || every < 0) throw new Error('checkpoint interval must be a whole number >= 0 (0: only at the end)');
}

/** A saved run to continue: its summary, files (as an IO to save into) and checkpoint; checks kind, dataset and steps. */
export async function openRunToContinue(name: string, kind: RunSummary['kind'], dataset: string, steps: number) {
  const run = await getRun(name);
  if (!run) throw new Error(`there is no browser run "${name}" to continue`);
  if (run.kind !== kind) throw new Error(`run "${name}" is a ${run.kind === 'posttrain' ? 'post-training' : 'pre-training'} run; continue it as one`);
  if (run.dataset !== dataset) throw new Error(`run "${name}" was trained on dataset "${run.dataset}", not "${dataset}": continue it on its own data`);
  const io = memoryIO(new Map(Object.entries(await getRunFiles(name))));
  const data = await loadCheckpoint(io);
  if (steps <= data.trainer.step) throw new Error(`run "${name}" is at step ${data.trainer.step}: to continue it, ask for more steps than that`);
  return { run, io, data };
}

export async function pretrainJob(p: JobParams['pretrain'], ctx: JobContext) {
  checkRunParams(p);
  const rt = await runtime();
  const reader = await LeRobotReader.open(httpIO(`/api/datasets/${encodeURIComponent(p.dataset)}/files/`));
  let config: WorkbenchConfig;
  let resume: PretrainResume | undefined;
  let io = memoryIO();
  let createdAt = Date.now();
  if (p.resume) {
    const prev = await openRunToContinue(p.name, 'pretrain', p.dataset, p.steps);
    resume = toResume(prev.data);
    config = prev.data.config;
    io = prev.io;
    createdAt = prev.run.createdAt;
    ctx.log(`continuing "${p.name}" from step ${prev.data.trainer.step} with its saved config "${config.name}"`);
  } else {
    if (!p.config) throw new Error('a new pre-training run needs a config');
    config = fitConfigToDataset(p.config, reader.features);
  }
  const trainer = await Pretrainer.create(rt, config, reader, { steps: p.steps, resume, onProgress: (m) => ctx.log(m) });
  try {
    ctx.log(`lambda_crl ${config.train.lambdaCrl}, gamma ${config.train.gamma}, batch ${config.train.batchSize}; ${p.steps} steps; checkpoint every ${p.checkpointEvery || 'end only'}`);
    ctx.restartPace(trainer.completedSteps);
    let bytes = 0;
    await runTrainLoop(ctx, trainer, {
      every: p.checkpointEvery ?? 0,
      report: (m) => {
        const losses: Record<string, number> = { total: m.total, bc: m.bc };
        if (m.saL !== null) losses['sa->l'] = m.saL;
        if (m.lSa !== null) losses['l->sa'] = m.lSa;
        if (m.lSaFloor !== null) losses['l->sa floor'] = m.lSaFloor;
        if (m.temperature !== null) losses.temperature = m.temperature;
        if (m.accuracy !== null) losses.accuracy = m.accuracy;
        if (m.grounding != null) losses.grounding = m.grounding;
        if (m.groundingAccuracy != null) losses['grounding acc'] = m.groundingAccuracy;
        losses.lr = m.lr;
        losses['grad norm'] = m.gradNorm;
        return { step: m.step + 1, total: p.steps, losses, items: m.tokens };
      },
      save: async (data) => {
        await saveCheckpoint(io, data, { keep: 1 });
        const summary = await putRun({
          name: p.name,
          createdAt,
          updatedAt: Date.now(),
          dataset: p.dataset,
          kind: 'pretrain',
          steps: data.trainer.step,
          totalSteps: p.steps,
          withCrl: trainer.options.withCrl,
          lambdaCrl: config.train.lambdaCrl,
          config: data.config,
          files: Object.fromEntries(io.files),
        });
        bytes = summary.bytes;
        ctx.log(`saved browser run "${p.name}" at step ${data.trainer.step} (${(bytes / 1e6).toFixed(2)} MB)`);
      },
    });
    const last = trainer.history.at(-1);
    return { name: p.name, steps: trainer.completedSteps, bytes, final: last ? { total: last.total, bc: last.bc } : null };
  } finally {
    trainer.dispose();
  }
}
