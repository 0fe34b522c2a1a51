/**
 * npm run bench:train [-- --steps 5 --warmup 2 --d 64 --layers 2 --batch 8 --image 32 --patch 8 | --preset small]
 *
 * Cost of CRL in pre-training (issue 6, experiments; PRTS Sec. 6.7): one Pretrainer on a
 * synthetic dataset (src/train/synthetic-dataset.ts); every timed iteration draws one
 * batch of samples and runs a full training step (forward, backward, AdamW) on its CRL
 * layout, on its BC-only layout (the same documents without the CRL_action and
 * CRL_goal blocks) and on the CRL layout with every sample's CRL_goal copy (before goal
 * blocks were shared per goal), rotating which goes first so drift (thermal, other
 * load) hits all alike. Same model, same samples, one process. Step times exclude batch assembly
 * (tokenizing, packing, frame decoding: CPU work that a real loop overlaps).
 *
 * Final JSON line: tokens_per_s (real tokens of the CRL layout per second of CRL step),
 * crl_step_time_ratio = median CRL step / median BC-only step (PRTS: near BC cost; aim
 * <= 1.1), the real and packed token counts of both layouts, the per-token ratio, and
 * crl_every_goal_copy_step_time_ratio (the same ratio without goal-block sharing).
 *
 * Where the CRL step's time goes (src/engine/trace.ts): steps_per_s, dispatches_per_step,
 * buffers_created_per_step and pipelines_created_per_step (0 once warm) and encode_ms
 * (CPU time recording and submitting the step, median) come from the timed CRL steps;
 * dispatches_per_step_unfused from one more CRL step with the fusions off (matmul
 * epilogues, the multi-gradient norm: issue 11); gpu_ms_by_family from --profile-steps extra CRL steps run with GPU
 * timestamps after the timed ones (profiling splits every dispatch into its own pass, so
 * those steps are not timed). --trace also prints the per-family and per-kernel table.
 */
import { defineCli } from '../src/cli/args.ts';
import { memoryIO, LeRobotReader } from '../src/data/index.ts';
import { matmulFusion } from '../src/engine/ops/matmul.ts';
import { adamwKernels } from '../src/engine/optim.ts';
import { openRuntime } from '../src/engine/autotune.ts';
import { formatTrace, gpuByFamily, meanTrace, traceCall, type StepTrace } from '../src/engine/trace.ts';
import type { WorkbenchConfig } from '../src/model/config.ts';
import { Pretrainer } from '../src/train/pretrain.ts';
import { writeSyntheticDataset } from '../src/train/synthetic-dataset.ts';
import { median } from './timing.ts';
import { benchTrainConfig, type BenchPreset } from './train-config.ts';

const cli = defineCli({
  name: 'bench:train',
  command: 'npm run bench:train --',
  description: 'Cost of CRL in pre-training: the same steps on the CRL layout and on the BC-only layout; ends with one JSON line.',
  options: {
    steps: { type: 'int', min: 1, default: 5, help: 'timed steps per layout' },
    warmup: { type: 'int', min: 0, default: 2, help: 'untimed steps per layout' },
    d: { type: 'int', min: 1, default: 64, help: 'model width (a multiple of 32, the head width)' },
    layers: { type: 'int', min: 1, default: 2, help: 'transformer layers' },
    batch: { type: 'int', min: 1, default: 8, help: 'samples per step (a multiple of --tasks)' },
    image: { type: 'int', min: 1, default: 32, help: 'camera image size' },
    patch: { type: 'int', min: 1, default: 8, help: 'image patch size' },
    tasks: { type: 'int', min: 1, default: 4, help: 'tasks in the synthetic dataset and per batch' },
    'profile-steps': { type: 'int', min: 1, default: 2, help: 'extra CRL steps run with GPU timestamps (gpu_ms_by_family)' },
    trace: { type: 'boolean', help: 'print GPU time per kernel family and per kernel of a CRL step' },
    preset: {
      type: 'string',
      choices: ['tiny', 'small', 'base'],
      help: "take the model body (width, layers, heads, image, patch, cameras, CRL heads) and the batch from this preset, overriding --d --layers --image --patch --batch; vocabularies and the state/action shapes stay the synthetic dataset's",
    },
  },
});
const parsed = cli.parse();
const { steps, warmup, tasks, 'profile-steps': profileSteps, trace: printTrace } = parsed;
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;
const made = benchTrainConfig({ ...parsed, preset: parsed.preset as BenchPreset | undefined, tasks, steps: 3 * (steps + warmup) + profileSteps + 2 });
if ('error' in made) fail(made.error);
const config: WorkbenchConfig = made.config;
const image = config.model.imageSize;

const io = memoryIO();
const ds = await writeSyntheticDataset(io, { tasks, episodesPerTask: 3, imageSize: image, cameras: config.model.cameras, seed: 1 });
const reader = await LeRobotReader.open(io);
const rt = await openRuntime();
const device = `${rt.info.vendor}/${rt.info.architecture} (${rt.info.description})`;
console.error(`adapter: ${device}; dataset ${ds.episodes} episodes, ${ds.frames} frames, ${tasks} tasks`);
const tr = await Pretrainer.create(rt, config, reader, { onProgress: (m) => console.error(m) });
const params = tr.model.store.count;

const crlMs: number[] = [];
const bcMs: number[] = [];
// The third arm lays out every sample's CRL_goal copy (as before goal blocks were
// shared per goal): what sharing saves, measured on the same samples and weights.
const copiesMs: number[] = [];
const crlTraces: StepTrace[] = [];
let tokens = { crl: 0, bc: 0, copies: 0, crlPacked: 0, bcPacked: 0, visitedCrl: 0, visitedBc: 0 };
for (let it = 0; it < warmup + steps; it++) {
  const drawn = tr.sampler.next();
  const samples = Array.from(drawn.ids, (id) => tr.index.sample(id));
  const crlBatch = await tr.assemble(samples, true);
  const bcBatch = await tr.assemble(samples, false);
  const copiesBatch = await tr.assemble(samples, true, false);
  const arms = ['crl', 'bc', 'copies'] as const;
  const order = [0, 1, 2].map((k) => arms[(k + it) % 3]);
  const times: Record<string, number> = {};
  for (const kind of order) {
    const b = kind === 'crl' ? crlBatch : kind === 'bc' ? bcBatch : copiesBatch;
    const t0 = performance.now();
    const { trace } = await traceCall(rt, () => tr.stepOn(b, t0));
    times[kind] = performance.now() - t0;
    if (kind === 'crl' && it >= warmup) crlTraces.push(trace);
  }
  const timed = it >= warmup;
  if (timed) {
    crlMs.push(times.crl);
    bcMs.push(times.bc);
    copiesMs.push(times.copies);
  }
  tokens = {
    crl: crlBatch.n - crlBatch.padTokens,
    bc: bcBatch.n - bcBatch.padTokens,
    copies: copiesBatch.n - copiesBatch.padTokens,
    crlPacked: crlBatch.n,
    bcPacked: bcBatch.n,
    visitedCrl: crlBatch.visitedFraction,
    visitedBc: bcBatch.visitedFraction,
  };
  console.error(
    `${timed ? 'step' : 'warmup'} ${it}: CRL ${times.crl.toFixed(0)} ms (${tokens.crl} tokens), BC-only ${times.bc.toFixed(0)} ms (${tokens.bc} tokens), CRL with every goal copy ${times.copies.toFixed(0)} ms (${tokens.copies} tokens)`,
  );
}
// Dispatches of the same CRL step without the fusions (matmul epilogues, multi-gradient
// norm): what they save, on one more batch of the stream.
let unfusedDispatches: number;
{
  const drawn = tr.sampler.next();
  const b = await tr.assemble(Array.from(drawn.ids, (id) => tr.index.sample(id)), true);
  matmulFusion.enabled = false;
  adamwKernels.sumsq = 'each';
  adamwKernels.update = 'each';
  try {
    unfusedDispatches = (await traceCall(rt, () => tr.stepOn(b))).trace.dispatches;
  } finally {
    matmulFusion.enabled = true;
    adamwKernels.sumsq = 'multi';
    adamwKernels.update = 'multi';
  }
}
// GPU time per kernel family of a CRL step, on further batches of the same stream.
const profiled: StepTrace[] = [];
for (let i = 0; i < profileSteps; i++) {
  const drawn = tr.sampler.next();
  const b = await tr.assemble(Array.from(drawn.ids, (id) => tr.index.sample(id)), true);
  profiled.push((await traceCall(rt, () => tr.stepOn(b), { profile: true })).trace);
}
const gpuTrace = meanTrace(profiled);
const byFamily = gpuTrace.gpu ? gpuByFamily(gpuTrace.gpu) : null;
if (printTrace) {
  const timedTrace = meanTrace(crlTraces);
  console.log(`CRL step, mean of ${crlTraces.length} timed steps: ${formatTrace({ ...timedTrace, gpu: null }).split('\n')[0]}`);
  console.log(`CRL step with GPU timestamps, mean of ${profiled.length}:\n${formatTrace(gpuTrace)}`);
}
// Peak of the runtime's live buffers (pooled buckets) over the whole run, profiling included.
const peakGpuMiB = rt.peakBytes / 2 ** 20;
tr.dispose();
rt.destroy();
const crl = median(crlMs);
const bc = median(bcMs);
const copies = median(copiesMs);
console.log(
  JSON.stringify({
    bench: 'train',
    device,
    model: { preset: parsed.preset ?? null, d: config.model.dModel, layers: config.model.layers, batch: config.train.batchSize, tasks, image, patch: config.model.patchSize, cameras: config.model.cameras.length, params },
    steps,
    warmup,
    crl_step_ms: Number(crl.toFixed(1)),
    steps_per_s: Number((1000 / crl).toFixed(3)),
    dispatches_per_step: Math.round(median(crlTraces.map((t) => t.dispatches))),
    dispatches_per_step_unfused: unfusedDispatches,
    buffers_created_per_step: median(crlTraces.map((t) => t.buffersCreated)),
    pipelines_created_per_step: median(crlTraces.map((t) => t.pipelinesCreated)),
    encode_ms: Number(median(crlTraces.map((t) => t.encodeMs)).toFixed(1)),
    gpu_ms: gpuTrace.gpu ? Number(gpuTrace.gpu.reduce((s, k) => s + k.ms, 0).toFixed(1)) : null,
    gpu_ms_by_family: byFamily ? Object.fromEntries(byFamily.map((f) => [f.family, Number(f.ms.toFixed(1))])) : null,
    peak_gpu_mib: Number(peakGpuMiB.toFixed(1)),
    bc_step_ms: Number(bc.toFixed(1)),
    crl_step_time_ratio: Number((crl / bc).toFixed(3)),
    tokens_per_s: Math.round(tokens.crl / (crl / 1000)),
    bc_tokens_per_s: Math.round(tokens.bc / (bc / 1000)),
    tokens_crl: tokens.crl,
    tokens_bc: tokens.bc,
    packed_tokens_crl: tokens.crlPacked,
    packed_tokens_bc: tokens.bcPacked,
    token_ratio: Number((tokens.crl / tokens.bc).toFixed(3)),
    // Step-time ratio per unit of token ratio: 1 means the CRL blocks cost exactly their share of tokens.
    per_token_cost_ratio: Number((crl / bc / (tokens.crl / tokens.bc)).toFixed(3)),
    visited_fraction_crl: Number(tokens.visitedCrl.toFixed(3)),
    visited_fraction_bc: Number(tokens.visitedBc.toFixed(3)),
    crl_every_goal_copy_step_time_ratio: Number((copies / bc).toFixed(3)),
    tokens_crl_every_goal_copy: tokens.copies,
  }),
);
