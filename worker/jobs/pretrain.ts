/**
 * PRTS pre-training in the browser (src/train/pretrain.ts Pretrainer) on a server
 * dataset, for as many steps as asked: enough to give the Value and Embeddings tabs a
 * real PRTS-on-dataset checkpoint to read before a long run exists. The checkpoint
 * directory (src/train/checkpoint.ts format) is kept in IndexedDB (worker/jobs/runs.ts).
 *
 * The model config comes from the Model tab; the parts that must match the data
 * (cameras, image size, state and action dimensions) are taken from the dataset, since
 * a mismatch there is an error rather than a choice.
 */
import { httpIO, LeRobotReader, memoryIO, type Features } from '../../src/data/index.ts';
import { validateConfig, type WorkbenchConfig } from '../../src/model/config.ts';
import { saveCheckpoint } from '../../src/train/checkpoint.ts';
import { Pretrainer } from '../../src/train/pretrain.ts';
import type { JobParams } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';
import { putRun } from './runs.ts';

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

export async function pretrainJob(p: JobParams['pretrain'], ctx: JobContext) {
  if (!/^[\w.-]{1,64}$/.test(p.name)) throw new Error(`run name "${p.name}": 1-64 letters, digits, '.', '_' or '-'`);
  if (!Number.isInteger(p.steps) || p.steps < 1) throw new Error('steps must be a positive integer');
  const rt = await runtime();
  const reader = await LeRobotReader.open(httpIO(`/api/datasets/${encodeURIComponent(p.dataset)}/files/`));
  const config = fitConfigToDataset(p.config, reader.features);
  const trainer = await Pretrainer.create(rt, config, reader, { steps: p.steps, onProgress: (m) => ctx.log(m) });
  try {
    while (!trainer.done) {
      await ctx.checkpoint();
      const m = await trainer.step();
      const losses: Record<string, number> = { total: m.total, bc: m.bc };
      if (m.saL !== null) losses['sa->l'] = m.saL;
      if (m.lSa !== null) losses['l->sa'] = m.lSa;
      if (m.temperature !== null) losses.temperature = m.temperature;
      ctx.progress({ step: m.step + 1, total: p.steps, losses, items: m.tokens });
    }
    const io = memoryIO();
    await saveCheckpoint(io, await trainer.checkpoint());
    const summary = await putRun({
      name: p.name,
      createdAt: Date.now(),
      dataset: p.dataset,
      steps: trainer.completedSteps,
      withCrl: trainer.options.withCrl,
      lambdaCrl: config.train.lambdaCrl,
      files: Object.fromEntries(io.files),
    });
    ctx.log(`saved browser checkpoint "${p.name}" (${(summary.bytes / 1e6).toFixed(2)} MB)`);
    return { name: p.name, steps: summary.steps, bytes: summary.bytes, final: trainer.history.at(-1) ? { total: trainer.history.at(-1)!.total, bc: trainer.history.at(-1)!.bc } : null };
  } finally {
    trainer.dispose();
  }
}
