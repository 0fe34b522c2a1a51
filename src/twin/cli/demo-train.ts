/**
 * npm run demo:train [-- --recipe twin|engine --data-dir data --runs runs/demo-reach4-<recipe> --out public/demo --seed 0]
 *
 * Remakes the demo run shipped with the app (src/train/demo-run.ts, issue 10 item 5) in
 * one command, every phase resumable (rerun the same command after an interruption).
 * The twin recipe (default; needs python3 with torch, as `npm run twin:check` does):
 *   1. data: the reach4 suite's expert demonstrations from initial states 50-409 of every
 *      task (each scene with all four instructions), 32 px, into <data-dir>/reach4-shared360
 *      (the same episodes as `npm run gen -- --suite reach4 --episodes 360 --first-state 50
 *      --size 32`), and the held-out split (states 0-9) into <out>/datasets/demo-reach4
 *      (it ships: the Value and Embeddings tabs show it);
 *   2. the first 6000 batches of demoTwinConfig()'s pre-training stream as shards (npm run
 *      export-shards; ~4 GB) into <runs>/shards;
 *   3. PRTS pre-training (BC + InfoNCE) by the PyTorch twin, 6000 steps of 4 accumulated
 *      batches of 12 (the shards read four times over), one CPU thread (the same run on any
 *      machine), into <runs>/pretrain;
 *   3b. the proposer: the same data, batches and steps without CRL (demoProposerConfig)
 *      into <runs>/shards-policy and <runs>/policy; the two runs train side by side, one
 *      core each, where the machine has two (31 min on this 2-core machine, round 14);
 *   4. the recorded evaluation (every reach4 task from the held-out states 0-9, nominal,
 *      seed 0) of the AR policy: the CRL run plain, with value-guided selection on the
 *      first re-plan (best of 8 by the CRL value), the same then coherent selection, and
 *      the pair (the proposer's chunks, the CRL run's critic choosing on the first
 *      re-plan, coherent selection after); the demo acts with the one that succeeds most
 *      often (the earlier on a tie);
 *   5. <out>/reach4-cpu.prts.zip (the CRL run, weights only), <out>/reach4-cpu-policy.prts.zip
 *      (the proposer, when the pair acts) and <out>/reach4-cpu.demo.json.
 * The engine recipe (round 3's; no PyTorch needed): 160 training episodes (states
 * 10-49), the `cpu` preset pre-trained by the WebGPU engine into <runs>/pretrain, a DiT
 * post-training into <runs>/posttrain, and the better of the DiT and AR heads.
 * The last line is a JSON summary. It lives with the twin (layer 5, DESIGN.md 1) because
 * its default recipe drives the twin; the engine recipe only needs src/train.
 */
import { existsSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defineCli } from '../../cli/args.ts';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { openRuntime } from '../../engine/autotune.ts';
import { PRESETS, type WorkbenchConfig } from '../../model/config.ts';
import { generateDemos } from '../../sim/demos.ts';
import { listTasks } from '../../sim/tasks/suites.ts';
import { exportShards } from '../export.ts';
import { runTwin, twinAvailable } from '../python.ts';
import { loadCheckpoint, saveCheckpoint, toResume, type CheckpointData } from '../../train/checkpoint.ts';
import { nodeCheckpointIO } from '../../train/checkpoint-node.ts';
import {
  DEMO_ARCHIVE,
  DEMO_DATASET,
  DEMO_EVAL,
  DEMO_NAME,
  DEMO_PROPOSER_ARCHIVE,
  DEMO_RECORD,
  DEMO_RECORD_SCHEMA,
  DEMO_SUITE,
  DEMO_TWIN,
  demoEvalOf,
  demoProposerConfig,
  demoTwinConfig,
  packWeights,
  type DemoMode,
  type DemoRecipe,
  type DemoRecord,
  type DemoSelect,
} from '../../train/demo-run.ts';
import { evaluate } from '../../train/eval.ts';
import type { EvalResults } from '../../train/eval-results.ts';
import { prtsPolicyFromCheckpoint } from '../../train/inference.ts';
import { formatDuration, formatStep } from '../../train/metrics.ts';
import { backboneCheckpoint, PostTrainRun } from '../../train/posttrain.ts';
import { Pretrainer } from '../../train/pretrain.ts';
import { runCheckpointedLoop } from '../../train/cli/checkpointed-loop.ts';

/** Post-training of the engine recipe: the DiT alone on the CRL-trained backbone, so the Value and Embeddings tabs read the same backbone the policy uses. */
export const DEMO_POSTTRAIN = { steps: 600, freezeBackbone: true } as const;

const cli = defineCli({
  name: 'demo:train',
  command: 'npm run demo:train --',
  description: 'Remakes the demo run shipped with the app (reach4 suite): data, pre-training (the PyTorch twin by default), the recorded evaluation and the weights-only archive. Resumable; the last line is a JSON summary.',
  options: {
    recipe: { type: 'string', choices: ['twin', 'engine'], default: 'twin', help: 'twin: 2160 episodes, batch 48 by the PyTorch twin, value-guided selection (needs python3 with torch); engine: round 3\'s cpu preset trained by the WebGPU engine, plus a DiT' },
    'data-dir': { type: 'string', default: 'data', metavar: 'dir', help: 'where the training split goes (reach4-shared360, or reach4-train for the engine recipe)' },
    runs: { type: 'string', metavar: 'dir', help: 'run directories: shards and pretrain (twin), pretrain and posttrain (engine); default runs/demo-reach4-<recipe>' },
    out: { type: 'string', default: 'public/demo', metavar: 'dir', help: 'where the shipped files go' },
    seed: { type: 'int', min: 0, default: 0, help: 'train.seed' },
    steps: { type: 'int', min: 1, metavar: 'N', help: 'pre-training steps (default 6000 for twin, the cpu preset\'s train.steps for engine)' },
    'post-steps': { type: 'int', min: 1, default: DEMO_POSTTRAIN.steps, metavar: 'N', help: 'engine recipe: post-training steps' },
    'log-every': { type: 'int', min: 1, default: 50, metavar: 'L', help: 'print every L-th training step' },
    sequential: { type: 'boolean', help: 'twin recipe: train the CRL run and the proposer one after the other (default: side by side, one CPU thread each, where the machine has 2 or more cores)' },
    mode: { type: 'string', choices: ['best', 'dit', 'ar'], default: 'best', help: 'engine recipe: the head the demo acts with (best: evaluate both, keep the one with more successes, the DiT on a tie)' },
  },
});
const args = cli.parse();
const recipe = args.recipe as DemoRecipe;
const dataDir = args['data-dir'];
const runsDir = args.runs ?? `runs/demo-${DEMO_SUITE}-${recipe}`;
const outDir = args.out;
const log = (m: string) => console.error(m);
const t0 = performance.now();
if (recipe === 'twin') {
  const t = twinAvailable();
  if (!t.ok) cli.fail(`--recipe twin needs the PyTorch twin: ${t.reason}; or pass --recipe engine (no PyTorch, a weaker demo)`);
  if (args.mode !== 'best') cli.fail('--mode applies to --recipe engine (the twin recipe has no DiT; it acts with the AR head)');
}

const config: WorkbenchConfig =
  recipe === 'twin'
    ? (() => {
        const c = demoTwinConfig(args.seed);
        return args.steps ? { ...c, train: { ...c.train, steps: args.steps } } : c;
      })()
    : // batches of 12 hold 3 samples of each of reach4's 4 tasks, as the twin recipe's do
      { ...PRESETS.cpu, name: DEMO_NAME, train: { ...PRESETS.cpu.train, samplesPerTask: 3, seed: args.seed, ...(args.steps ? { steps: args.steps } : {}) } };
const rt = await openRuntime();
const engineAdapter = `${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`;
log(`adapter: ${engineAdapter}`);

// 1. data
const tasks = listTasks(DEMO_SUITE);
const trainSplit =
  recipe === 'twin'
    ? { dir: join(dataDir, `${DEMO_SUITE}-shared360`), firstState: DEMO_TWIN.firstState, episodes: DEMO_TWIN.episodesPerTask, repoId: `prts/${DEMO_SUITE}`, fileMb: undefined }
    : { dir: join(dataDir, `${DEMO_SUITE}-train`), firstState: 10, episodes: 40, repoId: `prts/${DEMO_SUITE}-train`, fileMb: undefined };
const heldDir = join(outDir, 'datasets', DEMO_DATASET);
for (const split of [trainSplit, { dir: heldDir, firstState: 0, episodes: 10, repoId: `prts/${DEMO_DATASET}`, fileMb: undefined }]) {
  log(`data: ${split.dir} (initial states ${split.firstState}-${split.firstState + split.episodes - 1} of every ${DEMO_SUITE} task)`);
  await generateDemos(nodeIO(split.dir), {
    tasks,
    episodes: split.episodes,
    firstState: split.firstState,
    size: config.model.imageSize,
    repoId: split.repoId,
    dataFilesSizeMb: split.fileMb,
    device: rt.device,
    onEpisode: (e) => e.index % 120 === 119 && log(`  ${e.index + 1}/${e.total} episodes`),
  });
}
const reader = await LeRobotReader.open(nodeIO(trainSplit.dir));

// 2-3. training
interface Trained {
  checkpoint: CheckpointData;
  training: DemoRecord['training'];
}

/** The first model or train field where two configs differ (the name may), or null. */
function trainingDiffers(a: WorkbenchConfig, b: WorkbenchConfig): string | null {
  for (const part of ['model', 'train'] as const) {
    const x = a[part] as unknown as Record<string, unknown>;
    const y = b[part] as unknown as Record<string, unknown>;
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (JSON.stringify(x[k]) !== JSON.stringify(y[k])) return `${part}.${k}: ${JSON.stringify(x[k])} there, ${JSON.stringify(y[k])} here`;
    }
  }
  return null;
}

/** A twin run of the recipe: its config, where its shards and checkpoints go, and what is there already. */
interface TwinJob {
  label: string;
  config: WorkbenchConfig;
  shardsDir: string;
  preDir: string;
  have: CheckpointData | null;
}

/** Checks what `preDir` holds and exports the shards a run still needs (engine work, one job at a time). */
async function prepareTwin(label: string, config: WorkbenchConfig, shardsDir: string, preDir: string): Promise<TwinJob> {
  const preIO = await nodeCheckpointIO(preDir);
  const have = (await preIO.exists('latest.json')) ? await loadCheckpoint(preIO) : null;
  const differs = have && trainingDiffers(have.config, config);
  if (differs) cli.fail(`${preDir} holds a run of another config (${differs}); remove it or pass another --runs`);
  const job = { label, config, shardsDir, preDir, have };
  if (needsTraining(job)) await exportTwinShards(config, shardsDir);
  return job;
}

const needsTraining = (job: TwinJob) => !job.have || job.have.trainer.step < job.config.train.steps;

async function loadTrained(preDir: string): Promise<Trained> {
  const checkpoint = await loadCheckpoint(await nodeCheckpointIO(preDir));
  const last = checkpoint.metrics.at(-1) as { bc?: number; engine?: string } | undefined;
  return {
    checkpoint,
    training: {
      pretrainSteps: checkpoint.trainer.step,
      posttrainSteps: 0,
      freezeBackbone: false,
      pretrainSeconds: Math.round(Number(checkpoint.trainer.seconds ?? 0)),
      posttrainSeconds: 0,
      finalBc: last?.bc ?? null,
      finalFlow: null,
      adapter: last?.engine ?? 'PyTorch twin',
      accum: DEMO_TWIN.accum,
    },
  };
}

/** Exports the first train.steps batches of the config's pre-training stream, unless they are there. */
async function exportTwinShards(config: WorkbenchConfig, shardsDir: string): Promise<void> {
  const shardsIO = await nodeCheckpointIO(shardsDir);
  // One batch per step, read DEMO_TWIN.accum times over (--cycle): 4.2 GB of shards rather than 17.
  const batches = config.train.steps;
  if (await shardsIO.exists('shards.json')) return;
  log(`shards: ${batches} batches of the pre-training stream into ${shardsDir}`);
  const trainer = await Pretrainer.create(rt, config, reader, { onProgress: log });
  try {
    await saveCheckpoint(await nodeCheckpointIO(join(shardsDir, 'init')), await trainer.checkpoint());
    let last = 0;
    await exportShards(trainer, shardsIO, {
      batches,
      onProgress: (done, total) => {
        if (performance.now() - last > 10_000 || done === total) {
          last = performance.now();
          log(`  shard ${done}/${total}`);
        }
      },
    });
  } finally {
    trainer.dispose();
  }
}

/**
 * Trains or resumes one twin run (one CPU thread). With `prefix` its output goes line by
 * line with that prefix, so two runs side by side stay readable. Returns the exit code.
 */
async function runTwinTraining(job: TwinJob, prefix: string | null): Promise<number> {
  const { config, shardsDir, preDir, have } = job;
  log(`${prefix ?? ''}pre-training by the PyTorch twin: ${config.train.steps} steps of ${DEMO_TWIN.accum} batches of ${config.train.batchSize}${have ? ` from step ${have.trainer.step}` : ''} into ${preDir}`);
  const argv = ['-m', 'prts_torch.train', '--shards', shardsDir, '--out', preDir, '--steps', String(config.train.steps), '--accum', String(DEMO_TWIN.accum), '--cycle', '--threads', '1', '--checkpoint-every', '250', '--log-every', String(args['log-every']), ...(have ? ['--resume'] : [])];
  if (prefix === null) return runTwin(argv, { inherit: true });
  const lines = (write: (s: string) => void) => {
    let rest = '';
    return {
      push: (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const l of parts) write(prefix + l + '\n');
      },
      flush: () => rest && write(prefix + rest + '\n'),
    };
  };
  const out = lines((l) => process.stdout.write(l));
  const err = lines((l) => process.stderr.write(l));
  const code = await runTwin(argv, { onStdout: out.push, onStderr: err.push });
  out.flush();
  err.flush();
  return code;
}

/**
 * Trains the jobs that still need it: side by side, one core each, where the machine has
 * two or more (the CRL run and the proposer take 31 and 23 min together on 2 cores,
 * docs/results.md round 14, instead of 54 one after the other), else one after the other.
 */
async function trainTwinJobs(jobs: TwinJob[]): Promise<void> {
  const pending = jobs.filter(needsTraining);
  const together = !args.sequential && pending.length > 1 && availableParallelism() >= 2;
  if (together) log(`training ${pending.map((j) => j.label).join(' and ')} side by side (one CPU thread each; --sequential trains them one after the other)`);
  const codes: number[] = [];
  if (together) codes.push(...(await Promise.all(pending.map((j) => runTwinTraining(j, `[${j.label}] `)))));
  else for (const j of pending) codes.push(await runTwinTraining(j, null));
  const failed = pending.filter((_, k) => codes[k] !== 0);
  if (failed.length > 0) {
    log(`demo:train: the twin's training of ${failed.map((j) => `${j.label} (exit code ${codes[pending.indexOf(j)]})`).join(' and ')} failed; rerun the same command to resume from the last checkpoints`);
    process.exit(codes.find((c) => c !== 0) ?? 1);
  }
}

async function trainWithEngine(): Promise<Trained> {
  const preIO = await nodeCheckpointIO(join(runsDir, 'pretrain'));
  const preResume = (await preIO.exists('latest.json')) ? await loadCheckpoint(preIO) : null;
  const pre = await Pretrainer.create(rt, config, reader, { resume: preResume ? toResume(preResume) : undefined, onProgress: log });
  if (!pre.done) {
    log(`pre-training: ${config.train.steps} steps from step ${pre.completedSteps} into ${preIO.root}`);
    const r = await runCheckpointedLoop(pre, { name: 'demo:train', out: preIO, logEvery: args['log-every'], checkpointEvery: config.train.checkpointEvery ?? 100, format: (m) => formatStep(m, config.train.steps) });
    if (r.interrupted || r.exitCode) process.exit(r.interrupted ? 130 : r.exitCode);
  }
  const preData = await pre.checkpoint();
  const preSeconds = pre.seconds;
  const finalBc = pre.history.at(-1)?.bc ?? null;
  pre.dispose();

  const postIO = await nodeCheckpointIO(join(runsDir, 'posttrain'));
  const postSource: CheckpointData = (await postIO.exists('latest.json')) ? await loadCheckpoint(postIO) : backboneCheckpoint(preData);
  const post = await PostTrainRun.create(rt, postSource, reader, { steps: args['post-steps'], freezeBackbone: DEMO_POSTTRAIN.freezeBackbone, onProgress: log });
  if (!post.done) {
    log(`post-training: ${args['post-steps']} steps from step ${post.completedSteps} into ${postIO.root}`);
    const r = await runCheckpointedLoop(post, {
      name: 'demo:train',
      out: postIO,
      logEvery: args['log-every'],
      checkpointEvery: 100,
      format: (m) => `post step ${m.step + 1}/${args['post-steps']}  flow ${m.loss.toFixed(4)}  ${Math.round(m.ms)} ms  eta ${m.etaSec === null ? '-' : formatDuration(m.etaSec)}`,
    });
    if (r.interrupted || r.exitCode) process.exit(r.interrupted ? 130 : r.exitCode);
  }
  const checkpoint = await post.checkpoint();
  const training: DemoRecord['training'] = {
    pretrainSteps: config.train.steps,
    posttrainSteps: args['post-steps'],
    freezeBackbone: DEMO_POSTTRAIN.freezeBackbone,
    pretrainSeconds: Math.round(preSeconds),
    posttrainSeconds: Math.round(post.seconds),
    finalBc,
    finalFlow: post.history.at(-1)?.loss ?? null,
    adapter: engineAdapter,
  };
  post.dispose();
  return { checkpoint, training };
}

// The twin recipe's proposer: the same data and steps without CRL (docs/results.md rounds 10-12).
const proposerConfig: WorkbenchConfig | null =
  recipe === 'twin'
    ? (() => {
        const c = demoProposerConfig();
        return args.steps ? { ...c, train: { ...c.train, steps: args.steps } } : c;
      })()
    : null;
let trained: Trained;
let proposer: Trained | null = null;
if (recipe === 'twin') {
  const jobs = [await prepareTwin('critic', config, join(runsDir, 'shards'), join(runsDir, 'pretrain')), await prepareTwin('proposer', proposerConfig!, join(runsDir, 'shards-policy'), join(runsDir, 'policy'))];
  await trainTwinJobs(jobs);
  trained = await loadTrained(jobs[0].preDir);
  proposer = await loadTrained(jobs[1].preDir);
} else {
  trained = await trainWithEngine();
}

// 4. the recorded evaluation: every way of acting the recipe offers, the best one ships
interface Way {
  mode: DemoMode;
  select?: DemoSelect;
  /** The proposer's chunks, the trained run's critic choosing. */
  pair?: boolean;
}
const label = (w: Way) =>
  `${w.pair ? 'the proposer with the CRL run as critic, ' : ''}${w.mode}${w.select ? `, best of ${w.select.candidates} on the first ${w.select.selectCalls} re-plan(s)${w.select.coherent ? ', coherent after' : ''}` : ''}`;
const ways: Way[] =
  recipe === 'twin'
    ? [{ mode: 'ar' }, { mode: 'ar', select: { ...DEMO_TWIN.select } }, { mode: 'ar', select: { ...DEMO_TWIN.pairSelect } }, { mode: 'ar', select: { ...DEMO_TWIN.pairSelect }, pair: true }]
    : (args.mode === 'best' ? (['dit', 'ar'] as const) : [args.mode as DemoMode]).map((mode) => ({ mode }));
const successesOf = (r: EvalResults) => r.episodes.filter((e) => e.success).length;
const results: EvalResults[] = [];
for (const w of ways) {
  log(`evaluating ${label(w)} on held-out initial states ${DEMO_EVAL.initStates.join(',')} of every ${DEMO_SUITE} task`);
  const policy = w.pair
    ? await prtsPolicyFromCheckpoint(proposer!.checkpoint, { rt, mode: w.mode, name: `${DEMO_NAME} (${label(w)})`, ...w.select, critic: trained.checkpoint })
    : await prtsPolicyFromCheckpoint(trained.checkpoint, { rt, mode: w.mode, name: `${DEMO_NAME} (${label(w)})`, ...(w.select ?? {}) });
  try {
    const r = await evaluate(policy, { ...DEMO_EVAL, envsPerBatch: 12, camera: { width: config.model.imageSize, height: config.model.imageSize, device: rt.device } });
    results.push(r);
    log(`  ${label(w)}: ${successesOf(r)}/${r.episodes.length}`);
  } finally {
    policy.dispose();
  }
}
// First wins ties: the DiT (PRTS's deployed head) before AR, the plain policy before selection.
const best = results.reduce((b, r, i) => (successesOf(r) > successesOf(results[b]) ? i : b), 0);
const chosen = ways[best];

// 5. what ships
const record: DemoRecord = {
  schema: DEMO_RECORD_SCHEMA,
  name: DEMO_NAME,
  archive: DEMO_ARCHIVE,
  dataset: DEMO_DATASET,
  command: 'npm run demo:train',
  recipe,
  config,
  training: trained.training,
  ...(chosen.pair ? { proposer: { archive: DEMO_PROPOSER_ARCHIVE, config: proposerConfig!, training: proposer!.training } } : {}),
  eval: {
    ...demoEvalOf(results[best]),
    mode: chosen.mode,
    ...(chosen.select ? { select: chosen.select } : {}),
    compared: ways.map((w, i) => ({ mode: w.mode, ...(w.select ? { select: w.select } : {}), ...(w.pair ? { pair: true } : {}), successes: successesOf(results[i]), n: results[i].episodes.length })),
  },
};
const out = nodeIO(outDir);
await out.writeFileAtomic(DEMO_ARCHIVE, await packWeights(trained.checkpoint));
if (chosen.pair) await out.writeFileAtomic(DEMO_PROPOSER_ARCHIVE, await packWeights(proposer!.checkpoint));
// A proposer archive the record does not name would ship for nothing.
else rmSync(join(outDir, DEMO_PROPOSER_ARCHIVE), { force: true });
await out.writeFileAtomic(DEMO_RECORD, new TextEncoder().encode(JSON.stringify(record, null, 1) + '\n'));
rt.destroy();
const e = record.eval;
log(`demo run: ${e.successes}/${e.n} = ${(100 * e.rate).toFixed(1)}% [${(100 * e.lo).toFixed(1)}, ${(100 * e.hi).toFixed(1)}] on held-out states (${label(chosen)}); wrote ${join(outDir, DEMO_ARCHIVE)} and ${join(outDir, DEMO_RECORD)}`);
console.log(
  JSON.stringify({
    demo: DEMO_NAME,
    recipe,
    mode: chosen.mode,
    select: chosen.select ?? null,
    pair: !!chosen.pair,
    success_rate: e.rate,
    compared: e.compared,
    successes: e.successes,
    episodes: e.n,
    pretrain_seconds: record.training.pretrainSeconds,
    posttrain_seconds: record.training.posttrainSeconds,
    total_seconds: Math.round((performance.now() - t0) / 1000),
    archive: join(outDir, DEMO_ARCHIVE),
    dataset: existsSync(heldDir) ? heldDir : null,
  }),
);
