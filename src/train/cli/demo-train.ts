/**
 * npm run demo:train [-- --data-dir data --runs runs/demo-reach --out public/demo --seed 0]
 *
 * Remakes the demo run shipped with the app (src/train/demo-run.ts, issue 10 item 5) in
 * one command, every phase resumable (rerun the same command after an interruption):
 *   1. data: the reach suite's expert demonstrations, training split (initial states
 *      10-49, 40 per task, 32 px) into <data-dir>/reach-train, held-out split (states
 *      0-9) into <out>/datasets/demo-reach (it ships: the Value and Embeddings tabs show it);
 *   2. PRTS pre-training with the `cpu` preset (BC + InfoNCE) into <runs>/pretrain;
 *   3. post-training of the DiT action expert into <runs>/posttrain;
 *   4. the recorded evaluation: every reach task from the held-out states 0-9, nominal,
 *      seed 0, with the checkpoint's own re-planning interval, in the DiT and in the AR
 *      mode (the post-trained checkpoint has both heads); the demo acts with the one that
 *      succeeds more often (--mode best; the DiT on a tie) and the record keeps both counts;
 *   5. <out>/reach-cpu.prts.zip (weights only) and <out>/reach-cpu.demo.json.
 * The last line is a JSON summary.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineCli } from '../../cli/args.ts';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { openRuntime } from '../../engine/autotune.ts';
import { PRESETS, type WorkbenchConfig } from '../../model/config.ts';
import { generateDemos } from '../../sim/demos.ts';
import { listTasks } from '../../sim/tasks/suites.ts';
import { loadCheckpoint, toResume, type CheckpointData } from '../checkpoint.ts';
import { nodeCheckpointIO } from '../checkpoint-node.ts';
import { DEMO_ARCHIVE, DEMO_DATASET, DEMO_EVAL, DEMO_NAME, DEMO_RECORD, DEMO_RECORD_SCHEMA, demoEvalOf, packWeights, type DemoMode, type DemoRecord } from '../demo-run.ts';
import { evaluate } from '../eval.ts';
import type { EvalResults } from '../eval-results.ts';
import { prtsPolicyFromCheckpoint } from '../inference.ts';
import { formatDuration, formatStep } from '../metrics.ts';
import { backboneCheckpoint, PostTrainRun } from '../posttrain.ts';
import { Pretrainer } from '../pretrain.ts';
import { runCheckpointedLoop } from './checkpointed-loop.ts';

/** Post-training of the demo: the DiT alone on the CRL-trained backbone, so the Value and Embeddings tabs read the same backbone the policy uses. */
export const DEMO_POSTTRAIN = { steps: 600, freezeBackbone: true } as const;

const cli = defineCli({
  name: 'demo:train',
  command: 'npm run demo:train --',
  description: 'Remakes the demo run shipped with the app (reach suite, cpu preset): data, pre-training, post-training, the recorded evaluation and the weights-only archive. Resumable; the last line is a JSON summary.',
  options: {
    'data-dir': { type: 'string', default: 'data', metavar: 'dir', help: 'where the training split goes (reach-train)' },
    runs: { type: 'string', default: 'runs/demo-reach', metavar: 'dir', help: 'run directories of the pre- and post-training checkpoints' },
    out: { type: 'string', default: 'public/demo', metavar: 'dir', help: 'where the shipped files go' },
    seed: { type: 'int', min: 0, default: 0, help: 'train.seed of both runs' },
    steps: { type: 'int', min: 1, metavar: 'N', help: 'pre-training steps (default the cpu preset\'s train.steps)' },
    'post-steps': { type: 'int', min: 1, default: DEMO_POSTTRAIN.steps, metavar: 'N', help: 'post-training steps' },
    'log-every': { type: 'int', min: 1, default: 50, metavar: 'L', help: 'print every L-th training step' },
    mode: { type: 'string', choices: ['best', 'dit', 'ar'], default: 'best', help: 'the head the demo acts with: best evaluates both and keeps the one with more successes (the DiT on a tie)' },
  },
});
const args = cli.parse();
const dataDir = args['data-dir'];
const outDir = args.out;
const log = (m: string) => console.error(m);
const t0 = performance.now();

const config: WorkbenchConfig = { ...PRESETS.cpu, name: DEMO_NAME, train: { ...PRESETS.cpu.train, seed: args.seed, ...(args.steps ? { steps: args.steps } : {}) } };
const rt = await openRuntime();
const adapter = `${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`;
log(`adapter: ${adapter}`);

// 1. data
const tasks = listTasks('reach');
const trainDir = join(dataDir, 'reach-train');
const heldDir = join(outDir, 'datasets', DEMO_DATASET);
for (const [dir, firstState, episodes] of [[trainDir, 10, 40], [heldDir, 0, 10]] as const) {
  log(`data: ${dir} (initial states ${firstState}-${firstState + episodes - 1} of every reach task)`);
  await generateDemos(nodeIO(dir), {
    tasks,
    episodes,
    firstState,
    size: config.model.imageSize,
    repoId: `prts/${dir === heldDir ? DEMO_DATASET : 'reach-train'}`,
    device: rt.device,
    onEpisode: (e) => e.index % 40 === 39 && log(`  ${e.index + 1}/${e.total} episodes`),
  });
}
const reader = await LeRobotReader.open(nodeIO(trainDir));

// 2. pre-training
const preIO = await nodeCheckpointIO(join(args.runs, 'pretrain'));
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

// 3. post-training
const postIO = await nodeCheckpointIO(join(args.runs, 'posttrain'));
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
const postData = await post.checkpoint();
const postSeconds = post.seconds;
const finalFlow = post.history.at(-1)?.loss ?? null;
post.dispose();

// 4. the recorded evaluation
const successesOf = (r: EvalResults) => r.episodes.filter((e) => e.success).length;
const modes: DemoMode[] = args.mode === 'best' ? ['dit', 'ar'] : [args.mode as DemoMode];
const results = new Map<DemoMode, EvalResults>();
for (const mode of modes) {
  log(`evaluating the ${mode} head on held-out initial states ${DEMO_EVAL.initStates.join(',')} of every reach task`);
  const policy = await prtsPolicyFromCheckpoint(postData, { rt, mode, name: `${DEMO_NAME} (${mode})` });
  try {
    const r = await evaluate(policy, { ...DEMO_EVAL, envsPerBatch: 12, camera: { width: config.model.imageSize, height: config.model.imageSize, device: rt.device } });
    results.set(mode, r);
    log(`  ${mode}: ${successesOf(r)}/${r.episodes.length}`);
  } finally {
    policy.dispose();
  }
}
const wins = (m: DemoMode) => successesOf(results.get(m)!);
const mode = modes.reduce((a, b) => (wins(b) > wins(a) ? b : a));
const res = results.get(mode)!;

// 5. what ships
const record: DemoRecord = {
  schema: DEMO_RECORD_SCHEMA,
  name: DEMO_NAME,
  archive: DEMO_ARCHIVE,
  dataset: DEMO_DATASET,
  command: 'npm run demo:train',
  config,
  training: {
    pretrainSteps: config.train.steps,
    posttrainSteps: args['post-steps'],
    freezeBackbone: DEMO_POSTTRAIN.freezeBackbone,
    pretrainSeconds: Math.round(preSeconds),
    posttrainSeconds: Math.round(postSeconds),
    finalBc,
    finalFlow,
    adapter,
  },
  eval: { ...demoEvalOf(res), mode, compared: modes.map((m) => ({ mode: m, successes: wins(m), n: results.get(m)!.episodes.length })) },
};
const out = nodeIO(outDir);
await out.writeFileAtomic(DEMO_ARCHIVE, await packWeights(postData));
await out.writeFileAtomic(DEMO_RECORD, new TextEncoder().encode(JSON.stringify(record, null, 1) + '\n'));
rt.destroy();
const e = record.eval;
log(`demo run: ${e.successes}/${e.n} = ${(100 * e.rate).toFixed(1)}% [${(100 * e.lo).toFixed(1)}, ${(100 * e.hi).toFixed(1)}] on held-out states; wrote ${join(outDir, DEMO_ARCHIVE)} and ${join(outDir, DEMO_RECORD)}`);
console.log(
  JSON.stringify({
    demo: DEMO_NAME,
    mode,
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
