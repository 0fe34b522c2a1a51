/**
 * npm run recovery -- --checkpoint <run> [--mode ar] --data <demos> --out <dataset>
 *                     [--suite reach | --tasks id,...] [--states 50-409] [--takeover 4-40]
 *                     [--envs 12] [--seed 0] [--expert-steps N] [--execute-steps N]
 *                     [--candidates N [--temperature T] [--select-calls N] [--critic <dir>]]
 *
 * Recovery demonstrations (src/train/recovery.ts): the policy drives each episode up to a
 * takeover step drawn from --takeover, then the scripted expert finishes the task from
 * there and its part is saved. --out starts as a copy of --data (the demonstrations the
 * policy was trained on) and the recoveries are appended, so `npm run export-shards
 * --data <out>` trains on both. Resumable: a rerun with the same arguments continues
 * after the last saved recovery. Ends with one JSON line.
 */
import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import { defineCli } from '../../cli/args.ts';
import { LeRobotReader, LeRobotWriter } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { demoFeatures } from '../../sim/demos.ts';
import { CONTROL_HZ, getTask, listTasks, MAX_INIT_STATES_PER_TASK, SUITES, INIT_STATES_PER_TASK, type TaskSpec } from '../../sim/index';
import { checkInitStates, recordRecoveryBatch, recoveryPlan, recoveryResumeIndex } from '../recovery';
import { CHECKPOINT_OPTIONS, makePolicy, policySpec } from './policy-spec';

const cli = defineCli({
  name: 'recovery',
  command: 'npm run recovery --',
  description: 'Recovery demonstrations: the policy drives each episode up to a takeover step, the scripted expert finishes it, the expert part is appended to a copy of the demonstrations (docs/training.md).',
  options: {
    policy: { type: 'string', metavar: 'checkpoint:<dir>[:dit|:ar]|expert|random[:seed]', help: 'the roll-in policy' },
    ...CHECKPOINT_OPTIONS,
    data: { type: 'string', metavar: 'dataset dir', help: 'the demonstrations to start --out from (copied when --out does not exist yet)' },
    out: { type: 'string', required: true, metavar: 'dataset dir', help: 'the dataset the recoveries are appended to (a rerun continues it)' },
    suite: { type: 'string', choices: SUITES, help: 'every task of one suite' },
    tasks: { type: 'list', metavar: 'id,...', help: 'these tasks, e.g. reach/touch_red' },
    states: { type: 'range', max: MAX_INIT_STATES_PER_TASK - 1, help: `initial states per task (default 50-409; keep the benchmark's 0-${INIT_STATES_PER_TASK - 1} out to evaluate on them)` },
    takeover: { type: 'range', max: 10_000, metavar: 'lo-hi', help: 'the expert takes over after a step drawn uniformly from lo-hi (default 4-40)' },
    envs: { type: 'int', min: 1, default: 12, help: 'environments stepped together' },
    seed: { type: 'int', min: 0, default: 0, help: "seed of the takeover steps and of the policy's sampling" },
    'expert-steps': { type: 'int', min: 1, metavar: 'N', help: "expert steps allowed after the takeover (default the task's step limit)" },
    'execute-steps': { type: 'int', min: 1, metavar: 'N', help: "actions executed per chunk before re-planning (default the policy's)" },
  },
});
const args = cli.parse();
const fail: (message: string) => never = cli.fail;

const spec = policySpec(args, fail);
let tasks: TaskSpec[];
if (!args.suite === !args.tasks) fail('give exactly one of --suite and --tasks');
try {
  tasks = args.tasks ? args.tasks.map((id) => getTask(id)) : listTasks(args.suite);
} catch (e) {
  fail(`--tasks: ${(e as Error).message}`);
}
const states = args.states ?? Array.from({ length: 360 }, (_, i) => 50 + i);
if (states.some((s) => s < INIT_STATES_PER_TASK)) console.error(`recovery: warning: --states includes benchmark states 0-${INIT_STATES_PER_TASK - 1}; an evaluation on them is then no longer held out`);
try {
  checkInitStates(tasks, states);
} catch (e) {
  fail(`--states: ${(e as Error).message}`);
}
const tk = args.takeover ?? [4, 40];
const takeover = { min: Math.min(...tk), max: Math.max(...tk) };
const plan = recoveryPlan(tasks, states, takeover, args.seed);

// --out begins as a copy of --data, made under a temporary name so an interrupted copy
// never looks like a dataset.
if (!existsSync(`${args.out}/meta/info.json`)) {
  if (!args.data) fail(`--out ${args.out} holds no dataset yet: give --data <demonstrations> to start it from`);
  if (!existsSync(`${args.data}/meta/info.json`)) fail(`--data ${args.data}: no LeRobot dataset there (meta/info.json missing)`);
  const tmp = `${args.out}.copy-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(args.data, tmp, { recursive: true });
  if (existsSync(args.out)) rmSync(args.out, { recursive: true });
  renameSync(tmp, args.out);
  console.log(`copied ${args.data} to ${args.out}`);
}
const io = nodeIO(args.out);
const reader = await LeRobotReader.open(io).catch((e: Error) => fail(`--out ${args.out}: ${e.message}`));
const image = reader.features['observation.images.agentview'];
const size = image?.shape?.[0];
if (typeof size !== 'number') fail(`--out ${args.out}: the dataset has no observation.images.agentview feature; it is not a demonstration dataset of npm run gen`);
let start: number;
try {
  start = recoveryResumeIndex(plan, reader.episodes.map((e) => e.meta));
} catch (e) {
  fail(`--out ${args.out}: ${(e as Error).message}`);
}
if (start > 0) console.log(`resuming after plan item ${start} (${reader.episodes.length} episodes in the dataset)`);

const policy = await makePolicy(spec, args, fail, { replay: false });
const { PrtsPolicy } = await import('../inference');
if (policy instanceof PrtsPolicy && policy.inference.data.config.model.imageSize !== size) {
  fail(`--checkpoint sees ${policy.inference.data.config.model.imageSize}px images, the dataset holds ${size}px ones; record recoveries at the policy's resolution`);
}
const { acquireDevice } = await import('../../engine/device');
// The cameras get their own device, as in the evaluation (src/train/eval.ts).
const { device } = await acquireDevice();
const writer = await LeRobotWriter.openOrCreate(io, { repoId: typeof reader.info.repo_id === 'string' ? reader.info.repo_id : 'prts/recovery', fps: CONTROL_HZ, robotType: 'panda_like', features: demoFeatures(size), dataFilesSizeMb: 8 }).catch((e: Error) =>
  fail(`--out ${args.out}: ${e.message}`),
);

const t0 = performance.now();
const counts = { saved: 0, 'policy-succeeded': 0, 'expert-failed': 0, frames: 0 };
try {
  for (let k = start; k < plan.length; k += args.envs) {
    const items = plan.slice(k, k + args.envs);
    const outcomes = await recordRecoveryBatch(writer, items, { policy, size, device, seed: args.seed, expertSteps: args['expert-steps'], executeSteps: args['execute-steps'] });
    for (const o of outcomes) {
      counts[o.status]++;
      counts.frames += o.frames;
    }
    const done = k + items.length - start;
    const eta = ((performance.now() - t0) / done) * (plan.length - k - items.length);
    console.log(`[${k + items.length}/${plan.length}] saved ${counts.saved}  policy succeeded ${counts['policy-succeeded']}  expert failed ${counts['expert-failed']}  eta ${Math.round(eta / 1000)}s`);
  }
  await writer.finalize();
} finally {
  policy.dispose?.();
  device.destroy();
}
console.log(
  JSON.stringify({
    out: args.out,
    policy: policy.name,
    planned: plan.length,
    resumed_at: start,
    saved: counts.saved,
    policy_succeeded: counts['policy-succeeded'],
    expert_failed: counts['expert-failed'],
    frames: counts.frames,
    total_episodes: writer.totalEpisodes,
    seconds: Math.round((performance.now() - t0) / 1000),
  }),
);
