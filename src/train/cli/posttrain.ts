/**
 * npm run post-train -- --checkpoint <pre-trained run or step dir> --data <dataset dir> --out <run dir>
 *                      [--steps N] [--freeze-backbone] [--lr X] [--warmup N] [--seed S]
 *                      [--dit-d 64] [--dit-layers 2] [--dit-heads 4] [--tau-emphasis data|noise]
 *                      [--checkpoint-every K] [--log-every L] [--resume]
 *
 * PRTS post-training in Node on Dawn (PRTS Sec. 3.4 / 6.1, docs/training.md): loads a
 * pre-training checkpoint, attaches a fresh DiT action expert (H = chunk length, K = the
 * config's padded action dim, context = the backbone's hidden states of each sample's
 * vision/state/instruction tokens) and trains it with the masked flow-matching loss only
 * (BC and CRL dropped), gradients into the backbone unless --freeze-backbone. AdamW with
 * linear warmup + cosine decay (train.lr / train.warmupSteps unless overridden). One
 * progress line per logged step; checkpoints (backbone + dit.* + dit.json, atomic) every K
 * steps and at the end into <out>; Ctrl-C finishes the step and saves. --resume continues
 * <out>'s latest post-training checkpoint (--checkpoint is then not needed). The last
 * line is a JSON summary.
 */
import { defineCli } from '../../cli/args.ts';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { openRuntime } from '../../engine/autotune.ts';
import { loadCheckpoint } from '../checkpoint.ts';
import { formatDuration } from '../metrics.ts';
import { runCheckpointedLoop } from './checkpointed-loop.ts';
import { nodeCheckpointIO } from '../checkpoint-node.ts';
import { PostTrainRun } from '../posttrain.ts';
import type { PostTrainStepMetrics } from '../trainer-state.ts';
import { DEFAULT_DIT, type DitConfig } from '../../model/dit.ts';

const cli = defineCli({
  name: 'posttrain',
  command: 'npm run post-train --',
  description: 'PRTS post-training in Node on Dawn (docs/training.md): a fresh DiT action expert on a pre-training checkpoint, trained with the masked flow-matching loss. Ctrl-C finishes the step and saves; the last line is a JSON summary.',
  options: {
    checkpoint: { type: 'string', metavar: 'pre-trained dir', help: 'pre-training run or step directory (required unless --resume)' },
    data: { type: 'string', required: true, metavar: 'dataset dir', help: 'LeRobot dataset' },
    out: { type: 'string', required: true, metavar: 'run dir', help: 'run directory of the post-training checkpoints' },
    steps: { type: 'int', min: 1, metavar: 'N', help: "training steps (default the config's train.steps)" },
    'freeze-backbone': { type: 'boolean', help: 'train the DiT only, no gradients into the backbone' },
    lr: { type: 'number', above: 0, max: 1, help: 'peak learning rate (default train.lr)' },
    warmup: { type: 'int', min: 0, metavar: 'N', help: 'linear warmup steps before the cosine decay (default train.warmupSteps)' },
    seed: { type: 'int', min: 0, metavar: 'S', help: "seed of the DiT initialisation and every step's noise (default train.seed)" },
    'dit-d': { type: 'int', min: 1, metavar: 'D', help: `DiT width, its MLP 4x as wide (default ${DEFAULT_DIT.dModel})` },
    'dit-layers': { type: 'int', min: 1, metavar: 'L', help: `DiT blocks (default ${DEFAULT_DIT.layers})` },
    'dit-heads': { type: 'int', min: 1, metavar: 'H', help: `DiT attention heads (default ${DEFAULT_DIT.heads})` },
    'tau-emphasis': {
      type: 'string',
      choices: ['data', 'noise'],
      help: "which end of the flow time the Beta(1.5, 1) draw favours: 'data' (default) or pi0's 'noise' (docs/flow-matching.md; on 4 overfit demonstrations it fitted where 'data' did not, docs/results.md round 3)",
    },
    'checkpoint-every': { type: 'int', min: 0, metavar: 'K', help: 'checkpoint every K steps, 0 = at the end only (default train.checkpointEvery, 100)' },
    'log-every': { type: 'int', min: 1, default: 1, metavar: 'L', help: 'print every L-th step' },
    resume: { type: 'boolean', help: "continue --out's latest post-training checkpoint (--checkpoint is then not needed)" },
  },
});
const args = cli.parse();
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;

const { resume, checkpoint: ckptDir, data: dataDir, out: outDir, lr } = args;
if (!resume && !ckptDir) fail('--checkpoint <pre-trained run or step dir> is required (unless --resume)');
const dit: Partial<DitConfig> = {};
const d = args['dit-d'];
const layers = args['dit-layers'];
const heads = args['dit-heads'];
if (d !== undefined) Object.assign(dit, { dModel: d, mlpHidden: 4 * d });
if (layers !== undefined) dit.layers = layers;
if (heads !== undefined) dit.heads = heads;
const logEvery = args['log-every'];

const out = await nodeCheckpointIO(outDir);
if (out.archive) fail(`--out ${outDir} is a checkpoint archive: --out needs a run directory (unzip the archive there to --resume it)`);
if (!resume && (await out.exists('latest.json'))) fail(`${outDir} already holds a run (latest.json); pass --resume to continue it or choose another --out`);
const source = resume
  ? await loadCheckpoint(out).catch((e: Error) => fail(`--resume ${outDir}: ${e.message}`))
  : await nodeCheckpointIO(ckptDir!, { create: false }).then((io) => loadCheckpoint(io)).catch((e: Error) => fail(`--checkpoint ${ckptDir}: ${e.message}`));
if (resume && source.trainer.kind !== 'posttrain') fail(`--resume: ${outDir} holds a pre-training run; post-train it with --checkpoint ${outDir} --out <new dir>`);
if (!resume && source.trainer.kind !== 'pretrain') fail(`--checkpoint ${ckptDir} is already post-trained (it has a DiT); continue it with --resume --out ${ckptDir}`);

const rt = await openRuntime();
console.error(`adapter: ${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`);
const reader = await LeRobotReader.open(nodeIO(dataDir)).catch((e: Error) => fail(`--data ${dataDir}: ${e.message}`));
const run = await PostTrainRun.create(rt, source, reader, {
  steps: args.steps,
  freezeBackbone: args['freeze-backbone'] ? true : undefined,
  lr,
  warmup: args.warmup,
  seed: args.seed,
  dit: Object.keys(dit).length ? dit : undefined,
  tau: args['tau-emphasis'] ? { emphasis: args['tau-emphasis'] as 'data' | 'noise' } : undefined,
  onProgress: (m) => console.error(m),
}).catch((e: Error) => fail(e.message));
const st = run.state();
const checkpointEvery = args['checkpoint-every'] ?? source.config.train.checkpointEvery ?? 100;
console.error(
  `post-training "${source.config.name}" from pre-training step ${st.pretrainStep} (${st.withCrl ? 'with' : 'without'} CRL): ${st.steps} steps, ` +
    `batch ${source.config.train.batchSize}, lr ${st.lr} (warmup ${st.warmup}, cosine), backbone ${st.freezeBackbone ? 'frozen' : 'trained'}; ` +
    `checkpoints every ${checkpointEvery || 'end only'} into ${out.root}`,
);

function formatLine(m: PostTrainStepMetrics, total: number): string {
  return `step ${m.step + 1}/${total}  flow ${m.loss.toFixed(4)}  lr ${m.lr.toExponential(2)}  |g| ${m.gradNorm.toFixed(3)}  ${Math.round(m.tokens / (m.ms / 1000))} tok/s  ${Math.round(m.ms)} ms  eta ${m.etaSec === null ? '-' : formatDuration(m.etaSec)}`;
}

const { interrupted: stopping, exitCode } = await runCheckpointedLoop(run, { name: 'posttrain', out, logEvery, checkpointEvery, format: (m) => formatLine(m, st.steps) });
const last = run.history[run.history.length - 1];
const first = run.history[0];
console.log(
  JSON.stringify({
    run: 'posttrain',
    config: source.config.name,
    steps: run.completedSteps,
    of: st.steps,
    interrupted: stopping,
    freeze_backbone: st.freezeBackbone,
    first_loss: first?.loss ?? null,
    final_loss: last?.loss ?? null,
    tokens_per_s: Math.round(run.tokens / Math.max(run.seconds, 1e-9)),
    dit: run.trainer.cfg.dit,
    checkpoint: out.root,
  }),
);
run.dispose();
rt.destroy();
process.exit(stopping ? 130 : exitCode);
