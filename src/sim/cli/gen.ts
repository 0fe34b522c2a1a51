/**
 * npm run gen -- --suite spatial --episodes 50 --out data/spatial [--size 64]
 *                [--perturb lighting,camera,...] [--seed 0] [--task goal/open_drawer]
 *                [--first-state 40]   (episodes use fixed initial states first-state..: held-out splits)
 *                [--file-mb 16]       (data file size before rolling over to the next)
 *
 * Scripted-expert demonstrations as a LeRobotDataset v3.0: per step the proprio state,
 * both camera images, the action, the expert's phase and its description; per episode
 * the task, initial state, perturbation record and success in the episode metadata.
 * Episode k of a task starts from fixed initial state first-state + k (default 0). Resumable: the plan is
 * deterministic and each saved episode records its plan index, so a rerun continues
 * after the last complete episode. Failed demonstrations are not saved. Writes are
 * atomic (src/data), so an interrupted run never leaves a dataset that reads as whole.
 */
import { defineCli } from '../../cli/args.ts';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { acquireDevice } from '../../engine/device';
import { MAX_IMAGE_SIZE } from '../camera/gpu';
import { generateDemos } from '../demos';
import { PERTURBATION_KINDS, type PerturbationKind } from '../perturb';
import { INIT_STATES_PER_TASK, MAX_INIT_STATES_PER_TASK } from '../tasks/init';
import { getTask, listTasks } from '../tasks/suites';
import { SUITES, type TaskSpec } from '../tasks/spec';

const cli = defineCli({
  name: 'gen',
  command: 'npm run gen --',
  description: 'Scripted-expert demonstrations as a LeRobotDataset v3.0 (resumable; failed demonstrations are not saved). Give --suite or --task.',
  options: {
    suite: { type: 'string', choices: SUITES, help: 'every task of one suite' },
    task: { type: 'string', metavar: 'ID', help: 'one task, e.g. goal/open_drawer' },
    episodes: { type: 'int', min: 1, max: MAX_INIT_STATES_PER_TASK, default: 50, help: `episodes per task; states ${INIT_STATES_PER_TASK} and above are training-only (evaluation uses 0-${INIT_STATES_PER_TASK - 1})` },
    'first-state': { type: 'int', min: 0, max: MAX_INIT_STATES_PER_TASK - 1, default: 0, help: 'episode k starts from initial state first-state + k (held-out splits)' },
    out: { type: 'string', required: true, metavar: 'dir', help: 'dataset directory (a rerun continues it)' },
    size: { type: 'int', min: 8, max: MAX_IMAGE_SIZE, default: 64, help: 'camera image width and height' },
    perturb: { type: 'list', choices: PERTURBATION_KINDS, metavar: 'kind,...', help: 'perturbation kinds applied per episode' },
    seed: { type: 'int', default: 0, help: "seed of the episodes' perturbations" },
    'file-mb': { type: 'int', min: 1, max: 1000, default: 16, help: 'data files roll over at this size (LeRobot defaults to 100; every saved episode rewrites the current file, so smaller files keep long runs linear)' },
  },
});
const args = cli.parse();
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;

const { out, suite, episodes, seed, size } = args;
const taskId = args.task;
if (!suite && !taskId) fail(`give --suite (${SUITES.join(', ')}) or --task ID`);
const firstState = args['first-state'];
if (firstState + episodes > MAX_INIT_STATES_PER_TASK) {
  fail(`--first-state must be an integer with first-state + episodes <= ${MAX_INIT_STATES_PER_TASK} (${INIT_STATES_PER_TASK} fixed benchmark states and training-only ones after them), got ${firstState}`);
}
const perturbKinds: PerturbationKind[] = args.perturb ?? [];

let tasks: TaskSpec[];
try {
  tasks = taskId ? [getTask(taskId)] : listTasks(suite);
} catch (e) {
  fail(`--task: ${(e as Error).message}`);
}
const io = nodeIO(out);
if (await io.exists('meta/info.json')) {
  const r = await LeRobotReader.open(io);
  console.log(`resuming: ${r.episodes.length} episodes already written`);
}
const { device } = await acquireDevice();
const t0 = performance.now();
let startIndex = -1;
const res = await generateDemos(io, {
  tasks,
  episodes,
  firstState,
  size,
  perturbKinds,
  seed,
  dataFilesSizeMb: args['file-mb'],
  repoId: `prts/${suite ?? taskId!.replace('/', '_')}`,
  device,
  onEpisode: (e) => {
    if (startIndex < 0) startIndex = e.index;
    const done = e.index + 1 - startIndex;
    const eta = ((performance.now() - t0) / done) * (e.total - e.index - 1);
    console.log(`[${e.index + 1}/${e.total}] ${e.taskId}#${e.init} ${e.success ? 'ok' : 'FAILED (not saved)'}  saved ${e.saved}  failed ${e.failed}  eta ${Math.round(eta / 1000)}s`);
  },
}).catch((e: Error) => fail(`${out}: ${e.message}; use another --out or the same --suite/--task/--episodes/--first-state`));
device.destroy();
console.log(JSON.stringify({ out, episodes_planned: res.planned, saved_this_run: res.saved, failed_this_run: res.failed, total_episodes: res.total, seconds: Math.round((performance.now() - t0) / 1000) }));
