/**
 * npm run post-train -- --checkpoint <pre-trained run or step dir> --data <dataset dir> --out <run dir>
 *                      [--steps N] [--freeze-backbone] [--lr X] [--warmup N] [--seed S]
 *                      [--dit-d 64] [--dit-layers 2] [--dit-heads 4] [--checkpoint-every K] [--log-every L] [--resume]
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
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { Runtime } from '../../engine/runtime.ts';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint.ts';
import { nodeCheckpointIO } from '../checkpoint-node.ts';
import { PostTrainRun, type PostTrainStepMetrics } from '../posttrain.ts';
import type { DitConfig } from '../../model/dit.ts';

const USAGE =
  'usage: npm run post-train -- --checkpoint <pre-trained dir> --data <dataset dir> --out <run dir> [--steps N] [--freeze-backbone]\n' +
  '         [--lr X] [--warmup N] [--seed S] [--dit-d D] [--dit-layers L] [--dit-heads H] [--checkpoint-every K] [--log-every L] [--resume]';

function fail(msg: string): never {
  console.error(`posttrain: ${msg}\n${USAGE}`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const FLAGS = new Set(['--freeze-backbone', '--resume', '--help']);
const VALUED = new Set(['--checkpoint', '--data', '--out', '--steps', '--lr', '--warmup', '--seed', '--dit-d', '--dit-layers', '--dit-heads', '--checkpoint-every', '--log-every']);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (FLAGS.has(a)) continue;
  if (VALUED.has(a)) {
    i++;
    continue;
  }
  fail(`unknown option or stray argument '${a}'`);
}
if (argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
function arg(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) fail(`--${name} needs a value`);
  return v;
}
function intArg(name: string, min: number): number | undefined {
  const v = arg(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

const resume = argv.includes('--resume');
const ckptDir = arg('checkpoint');
const dataDir = arg('data') ?? fail('--data <dataset dir> is required');
const outDir = arg('out') ?? fail('--out <run dir> is required');
if (!resume && !ckptDir) fail('--checkpoint <pre-trained run or step dir> is required (unless --resume)');
const lrText = arg('lr');
const lr = lrText === undefined ? undefined : Number(lrText);
if (lr !== undefined && !(lr > 0 && lr <= 1)) fail(`--lr must be a number in (0, 1], got '${lrText}'`);
const dit: Partial<DitConfig> = {};
const d = intArg('dit-d', 1);
const layers = intArg('dit-layers', 1);
const heads = intArg('dit-heads', 1);
if (d !== undefined) Object.assign(dit, { dModel: d, mlpHidden: 4 * d });
if (layers !== undefined) dit.layers = layers;
if (heads !== undefined) dit.heads = heads;
const logEvery = intArg('log-every', 1) ?? 1;

const out = await nodeCheckpointIO(outDir);
if (out.archive) fail(`--out ${outDir} is a checkpoint archive: --out needs a run directory (unzip the archive there to --resume it)`);
if (!resume && (await out.exists('latest.json'))) fail(`${outDir} already holds a run (latest.json); pass --resume to continue it or choose another --out`);
const source = resume
  ? await loadCheckpoint(out).catch((e: Error) => fail(`--resume ${outDir}: ${e.message}`))
  : await loadCheckpoint(await nodeCheckpointIO(ckptDir!)).catch((e: Error) => fail(`--checkpoint ${ckptDir}: ${e.message}`));
if (resume && source.trainer.kind !== 'posttrain') fail(`--resume: ${outDir} holds a pre-training run; post-train it with --checkpoint ${outDir} --out <new dir>`);
if (!resume && source.trainer.kind !== 'pretrain') fail(`--checkpoint ${ckptDir} is already post-trained (it has a DiT); continue it with --resume --out ${ckptDir}`);

const rt = await Runtime.create();
console.error(`adapter: ${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`);
const reader = await LeRobotReader.open(nodeIO(dataDir)).catch((e: Error) => fail(`--data ${dataDir}: ${e.message}`));
const run = await PostTrainRun.create(rt, source, reader, {
  steps: intArg('steps', 1),
  freezeBackbone: argv.includes('--freeze-backbone') ? true : undefined,
  lr,
  warmup: intArg('warmup', 0),
  seed: intArg('seed', 0),
  dit: Object.keys(dit).length ? dit : undefined,
  onProgress: (m) => console.error(m),
}).catch((e: Error) => fail(e.message));
const st = run.state();
const checkpointEvery = intArg('checkpoint-every', 0) ?? source.config.train.checkpointEvery ?? 100;
console.error(
  `post-training "${source.config.name}" from pre-training step ${st.pretrainStep} (${st.withCrl ? 'with' : 'without'} CRL): ${st.steps} steps, ` +
    `batch ${source.config.train.batchSize}, lr ${st.lr} (warmup ${st.warmup}, cosine), backbone ${st.freezeBackbone ? 'frozen' : 'trained'}; ` +
    `checkpoints every ${checkpointEvery || 'end only'} into ${out.root}`,
);

let stopping = false;
process.on('SIGINT', () => {
  if (stopping) {
    console.error('second Ctrl-C: exiting without a checkpoint');
    process.exit(130);
  }
  stopping = true;
  console.error('Ctrl-C: finishing the current step, then saving a checkpoint (Ctrl-C again to quit now)');
});

function fmtSec(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '-';
  const r = Math.round(s);
  return r >= 60 ? `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s` : `${r}s`;
}
function formatLine(m: PostTrainStepMetrics, total: number): string {
  return `step ${m.step + 1}/${total}  flow ${m.loss.toFixed(4)}  lr ${m.lr.toExponential(2)}  |g| ${m.gradNorm.toFixed(3)}  ${Math.round(m.tokens / (m.ms / 1000))} tok/s  ${Math.round(m.ms)} ms  eta ${fmtSec(m.etaSec)}`;
}

let lastSaved = run.completedSteps;
async function save(): Promise<void> {
  const dir = await saveCheckpoint(out, await run.checkpoint());
  lastSaved = run.completedSteps;
  console.error(`checkpoint ${out.root}/${dir}`);
}

let exitCode = 0;
try {
  while (!run.done && !stopping) {
    const m = await run.step();
    if (m.step % logEvery === 0 || run.done) console.error(formatLine(m, st.steps));
    if (checkpointEvery > 0 && run.completedSteps % checkpointEvery === 0 && !run.done) await save();
  }
} catch (e) {
  console.error(`posttrain: step ${run.completedSteps} failed: ${(e as Error).message}`);
  exitCode = 1;
}
// The last completed step is always on disk, whether the run ended, was interrupted or failed.
if (run.completedSteps > lastSaved || run.completedSteps === 0) await save();
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
