/**
 * npm run eval:grounding -- --policy expert|random[:seed]|checkpoint:<dir>[:dit|:ar]
 * npm run eval:grounding -- --checkpoint <dir | run.prts.zip> [--mode dit|ar] [...]
 *                 [--suites reach | --tasks reach/touch_red,...] [--states 0-9]
 *                 [--after N] [--freeze-proprio] [--all-instructions] [--seed 0] [--camera 32] [--envs 12] [--out rows.json]
 *
 * Does the first chunk head for the object the instruction names (src/train/grounding.ts)?
 * One act() call per (task, initial state), no rollout: prints hits/n per task, the
 * total with its Wilson interval, the chance level and the expert's check, and ends with
 * one JSON line (the summary). --all-instructions also gives each observation every other
 * instruction of its suite whose goal object is in the scene and says whether the chunk
 * changes with the instruction (the summary's instructionSensitivity).
 */
import { writeFileSync } from 'node:fs';
import { defineCli } from '../../cli/args.ts';
import { getTask, INIT_STATES_PER_TASK, listTasks, MAX_INIT_STATES_PER_TASK, SUITES } from '../../sim/index';
import { probeGrounding, sceneInstructions } from '../grounding';
import { goalObjects } from '../where';
import { CHECKPOINT_OPTIONS, expandDemoRecord, makePolicy, policyCamera, policySpec } from './policy-spec';

const cli = defineCli({
  name: 'eval:grounding',
  command: 'npm run eval:grounding --',
  description:
    "Asks a policy for one chunk per (task, initial state) and says whether the chunk's horizontal displacement points at the object the instruction names (the highest cosine over the scene's objects); --after N asks after N expert steps, --freeze-proprio then shows the step-0 proprio state (docs/evaluation.md). Ends with one JSON line.",
  options: {
    policy: { type: 'string', metavar: 'expert|random[:seed]|checkpoint:<dir>[:dit|:ar]', help: 'the policy to probe' },
    ...CHECKPOINT_OPTIONS,
    suites: { type: 'list', choices: SUITES, metavar: 'a,b', help: "the tasks of these suites whose goal names an object (default reach unless --tasks)" },
    tasks: { type: 'list', metavar: 'id,...', help: 'these tasks, e.g. reach/touch_red (each goal must name an object)' },
    states: { type: 'range', max: MAX_INIT_STATES_PER_TASK - 1, help: `fixed initial states per task (default the ${INIT_STATES_PER_TASK} benchmark states 0-${INIT_STATES_PER_TASK - 1}; from ${INIT_STATES_PER_TASK} on the training-only states that npm run gen --first-state draws, to check a policy on its own training scenes)` },
    after: { type: 'int', min: 0, default: 0, metavar: 'N', help: 'expert steps executed before the policy is asked' },
    'freeze-proprio': { type: 'boolean', help: "give the policy the step-0 proprio state (with --after: only the images show the expert's motion)" },
    'all-instructions': { type: 'boolean', help: 'also give each observation the instruction of every other task of its suite whose goal object is in the scene (reach: all six): does the chunk follow the instruction?' },
    seed: { type: 'int', min: 0, default: 0, help: "episode seed, as eval's (the DiT noise of a checkpoint policy)" },
    camera: { type: 'int', min: 8, help: "camera image size (default the checkpoint's image size)" },
    envs: { type: 'int', min: 1, default: 12, help: 'environments probed together' },
    chunk: { type: 'int', min: 1, metavar: 'H', help: 'chunk length of the random policy' },
    out: { type: 'string', metavar: 'rows.json', help: 'the summary and every row, as JSON' },
  },
});
const parsed = cli.parse();
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;
const demo = expandDemoRecord(parsed, fail);
if (demo) console.log(demo.note);
const args = demo?.args ?? parsed;

const spec = policySpec(args, fail);
if (spec.startsWith('replay:')) fail('--policy replay:<file> cannot be probed: a replay starts at step 0 and knows no other state');
if (args.suites && args.tasks) fail('give either --suites or --tasks, not both');
let tasks = args.tasks;
if (!tasks) {
  const all = (args.suites ?? ['reach']).flatMap((s) => listTasks(s));
  const objectless = all.filter((t) => goalObjects(t.goal, new Set(t.objects.map((x) => x.name))).length === 0);
  if (objectless.length) console.log(`skipping ${objectless.length} task(s) whose goal names no object: ${objectless.map((t) => t.id).join(', ')}`);
  tasks = all.filter((t) => !objectless.includes(t)).map((t) => t.id);
  if (!tasks.length) fail(`--suites ${args.suites!.join(',')}: no task's goal names an object`);
}
if (args['all-instructions']) {
  for (const id of tasks) {
    try {
      sceneInstructions(getTask(id));
    } catch (e) {
      // Unknown task ids are left to probeGrounding's message.
      if ((e as Error).message.startsWith('allInstructions: ')) fail(`--all-instructions: ${(e as Error).message.slice('allInstructions: '.length)}`);
    }
  }
}
const states = args.states ?? Array.from({ length: INIT_STATES_PER_TASK }, (_, i) => i);

const policy = await makePolicy(spec, args, fail, { replay: false });
let device: GPUDevice | null = null;
let camera: { width: number; height: number; device: GPUDevice } | undefined;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
try {
  if (policy.needsImages) {
    const size = (await policyCamera(policy, args.camera)) ?? { width: 64, height: 64 };
    device = (await (await import('../../engine/device')).acquireDevice()).device;
    camera = { ...size, device };
  }
  const steps = Math.min(policy.executeSteps ?? policy.chunkSize, policy.chunkSize);
  console.log(
    `probing ${policy.name}: ${tasks.length} task(s) x ${states.length} state(s), the first chunk's first ${steps} of ${policy.chunkSize} actions, ` +
      `after ${args.after} expert step(s)${args['freeze-proprio'] ? ' with the proprio state of step 0' : ''}, cameras ${camera ? `${camera.width}x${camera.height}` : 'off'}`,
  );
  const t0 = performance.now();
  const { rows, summary } = await probeGrounding(policy, {
    tasks,
    states,
    after: args.after,
    freezeProprio: args['freeze-proprio'],
    allInstructions: args['all-instructions'],
    envsPerBatch: args.envs,
    camera,
    seed: args.seed,
    onProgress: (p) => console.log(`batch ${p.batch}/${p.batches}  probes ${p.done}/${p.total}  at the target ${p.hits}  elapsed ${Math.round(p.elapsedMs / 1000)}s`),
  });
  const width = Math.max(4, ...summary.perTask.map((t) => t.taskId.length));
  console.log(`${'task'.padEnd(width)}  at target`);
  for (const t of summary.perTask) console.log(`${t.taskId.padEnd(width)}  ${t.hits}/${t.n}`);
  console.log(`${'total'.padEnd(width)}  ${summary.pointsAtTarget}/${summary.n} = ${pct(summary.rate)} (95% ${pct(summary.lo)}-${pct(summary.hi)}); chance ${pct(summary.chance)}`);
  const expertHits = rows.filter((r) => r.expertPointed === r.target).length;
  console.log(`expert check: the expert's next action points at the target in ${expertHits}/${summary.n}${expertHits < summary.n ? ' (below n: these tasks do not start by heading for the goal object, so the probe says little about them)' : ''}`);
  const s = summary.instructionSensitivity;
  if (s) {
    const perScene = s.pairs / s.scenes;
    const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
    console.log(
      `instructions: ${s.meanDistinctTargets.toFixed(1)} distinct targets per scene over ${fmt(perScene)} instructions` +
        `${s.maxDistinct !== perScene ? ` (${fmt(s.maxDistinct)} distinct goal objects)` : ''}; ` +
        `${s.hits}/${s.pairs} pairs point at the named object (${pct(s.rate)}, 95% ${pct(s.lo)}-${pct(s.hi)})`,
    );
  }
  const head = { policy: policy.name, after: args.after, freezeProprio: args['freeze-proprio'], seed: args.seed, camera: camera ? camera.width : null, seconds: Math.round((performance.now() - t0) / 100) / 10 };
  if (args.out) writeFileSync(args.out, JSON.stringify({ ...head, summary, rows }, null, 1));
  console.log(JSON.stringify({ ...head, ...summary, out: args.out ?? null }));
} catch (e) {
  console.error(`eval:grounding: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  policy.dispose?.();
  device?.destroy();
}
