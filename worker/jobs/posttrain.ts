/**
 * PRTS post-training in the browser (src/train/posttrain.ts PostTrainRun, DESIGN.md 4):
 * a freshly initialised DiT action expert on a pre-training browser run's backbone,
 * trained with the masked flow-matching loss on a server dataset (backbone trainable
 * unless frozen), saved as a new browser run (worker/jobs/runs.ts) every
 * `checkpointEvery` steps, at the end and on cancel (train-loop.ts). The run's
 * checkpoint holds the backbone, the `dit.*` parameters and dit.json, so
 * src/train/inference.ts loads it as a policy in mode 'dit'; at the end the job reloads
 * it from IndexedDB and checks exactly that. `resume` continues a post-training run
 * from its saved checkpoint like `npm run post-train -- --resume`.
 */
import { LeRobotReader, httpIO, memoryIO } from '../../src/data/index.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointData } from '../../src/train/checkpoint.ts';
import { PostTrainRun } from '../../src/train/posttrain.ts';
import type { PostTrainerState } from '../../src/train/trainer-state.ts';
import type { Runtime } from '../../src/engine/runtime.ts';
import type { JobParams } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';
import { checkRunParams, openRunToContinue } from './pretrain.ts';
import { getRun, getRunFiles, putRun } from './runs.ts';
import { runTrainLoop } from './train-loop.ts';

export async function posttrainJob(p: JobParams['posttrain'], ctx: JobContext) {
  checkRunParams(p);
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) throw new Error('seed must be a whole number in [0, 2^32)');
  const rt = await runtime();
  let source: CheckpointData;
  let io = memoryIO();
  let createdAt = Date.now();
  let sourceRun = p.source;
  if (p.resume) {
    const prev = await openRunToContinue(p.name, 'posttrain', p.dataset, p.steps);
    source = prev.data;
    io = prev.io;
    createdAt = prev.run.createdAt;
    sourceRun = prev.run.source ?? '';
    ctx.log(`continuing post-training run "${p.name}" from step ${prev.data.trainer.step}`);
  } else {
    if (p.name === p.source) throw new Error(`the post-trained run needs a name of its own: "${p.name}" is its source run`);
    const src = await getRun(p.source);
    if (!src) throw new Error(`there is no browser run "${p.source}" to post-train`);
    if (src.kind !== 'pretrain') throw new Error(`run "${p.source}" is already post-trained (it has a DiT): continue it instead, or post-train its pre-training run`);
    source = await loadCheckpoint(memoryIO(new Map(Object.entries(await getRunFiles(p.source)))));
    if (source.trainer.kind !== 'pretrain') throw new Error(`run "${p.source}" holds a post-training checkpoint`);
  }
  const reader = await LeRobotReader.open(httpIO(`/api/datasets/${encodeURIComponent(p.dataset)}/files/`));
  const run = await PostTrainRun.create(rt, source, reader, {
    steps: p.steps,
    // A resumed run keeps its own seed and freezing (PostTrainRun refuses a change).
    ...(p.resume ? {} : { seed: p.seed, freezeBackbone: p.freezeBackbone }),
    onProgress: (m) => ctx.log(m),
  });
  let bytes = 0;
  try {
    const st = run.state();
    ctx.log(
      `post-training from pre-training step ${st.pretrainStep} (${st.withCrl ? 'with' : 'without'} CRL): ${p.steps} steps, lr ${st.lr} (warmup ${st.warmup}), ` +
        `backbone ${st.freezeBackbone ? 'frozen' : 'trained'}, seed ${st.seed}; checkpoint every ${p.checkpointEvery || 'end only'}`,
    );
    ctx.restartPace(run.completedSteps);
    await runTrainLoop(ctx, run, {
      every: p.checkpointEvery,
      report: (m) => ({ step: m.step + 1, total: p.steps, losses: { flow: m.loss, lr: m.lr, 'grad norm': m.gradNorm }, items: m.tokens }),
      save: async (data) => {
        await saveCheckpoint(io, data, { keep: 1 });
        const state = data.trainer as PostTrainerState;
        const summary = await putRun({
          name: p.name,
          createdAt,
          updatedAt: Date.now(),
          dataset: p.dataset,
          kind: 'posttrain',
          steps: state.step,
          totalSteps: p.steps,
          withCrl: state.withCrl,
          lambdaCrl: data.config.train.lambdaCrl,
          source: sourceRun,
          freezeBackbone: state.freezeBackbone,
          config: data.config,
          files: Object.fromEntries(io.files),
        });
        bytes = summary.bytes;
        ctx.log(`saved browser run "${p.name}" at step ${state.step} (${(bytes / 1e6).toFixed(2)} MB)`);
      },
    });
  } finally {
    run.dispose();
  }
  const last = run.history.at(-1);
  const policy = await checkDitPolicy(rt, p.name);
  ctx.log(policy.ok ? `"${p.name}" loads as a DiT policy (mode 'dit')` : `"${p.name}" does not load as a DiT policy: ${policy.reason}`);
  return { name: p.name, steps: run.completedSteps, bytes, flow: last?.loss ?? null, ditPolicy: policy.ok ? 'ok' : policy.reason };
}

/**
 * Reloads the saved run from IndexedDB (hash-checked) and builds its policy in mode
 * 'dit' on the worker's runtime, then frees it: what the Sim tab or `npm run eval` will
 * do with it. A run on data of another embodiment than the simulation's is a valid
 * checkpoint but no simulation policy; that is reported, not thrown.
 */
async function checkDitPolicy(rt: Runtime, name: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const data = await loadCheckpoint(memoryIO(new Map(Object.entries(await getRunFiles(name)))));
    if (!data.dit) return { ok: false, reason: 'the saved checkpoint has no dit.json' };
    // Loaded on demand: the inference module pulls in the simulation's constants.
    const { prtsPolicyFromCheckpoint } = await import('../../src/train/inference.ts');
    const policy = await prtsPolicyFromCheckpoint(data, { mode: 'dit', rt });
    policy.dispose();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
