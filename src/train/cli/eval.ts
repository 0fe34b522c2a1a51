/**
 * npm run eval -- --policy expert|random[:seed]|replay:<results.json>|checkpoint:<dir>[:dit|:ar]
 * npm run eval -- --checkpoint <dir | run.prts.zip> [--mode dit|ar] [...]   (= --policy checkpoint:<dir>[:mode])
 * npm run eval -- --checkpoint public/demo/reach4-cpu.demo.json [...]   (the shipped demo, acting as its record says)
 *                 [--suites spatial,goal | --tasks goal/open_drawer,...] [--states 0-9]
 *                 [--perturbations nominal,position_swap,... | all] [--envs 16] [--seed 0]
 *                 [--execute-steps N] [--max-steps N] [--camera 64] [--chunk H]
 *                 [--keep-actions] [--out results.json] [--markdown results.md] [--per-task]
 *                 [--candidates N [--temperature T] [--select-calls N [--coherent]] [--critic <dir>]]   (checkpoints: best of N chunks by the CRL value)
 * npm run eval -- --compare a.json,b.json [--labels CRL,no-CRL] [--per-task] [--markdown diff.md]
 *
 * Rolls a policy out through the evaluation harness (src/train/eval.ts) in Node, prints
 * a progress line per batch and ends with one JSON line (totals and aggregates); the
 * full results go to --out. --compare prints the Newcombe comparison of two result files.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { defineCli } from '../../cli/args.ts';
import { INIT_STATES_PER_TASK, MAX_INIT_STATES_PER_TASK, SUITES } from '../../sim/index';
import { evaluate } from '../eval';
import { compareResults, renderComparisonMarkdown } from '../eval-compare';
import { EVAL_AXES, type EvalAxis, type EvalOptions } from '../eval-plan';
import { describeDiagnostics, renderMarkdown } from '../eval-report';
import { parseResults } from '../eval-results';
import { CHECKPOINT_OPTIONS, expandDemoRecord, makePolicy, policyCamera, policySpec } from './policy-spec';

const cli = defineCli({
  name: 'eval',
  command: 'npm run eval --',
  description: 'Rolls a policy out through the evaluation harness (docs/evaluation.md); ends with one JSON line, the full results go to --out. --compare prints the Newcombe comparison of two result files.',
  forms: ['--compare a.json,b.json [--labels A,B] [--per-task] [--markdown diff.md]'],
  options: {
    policy: { type: 'string', metavar: 'expert|random[:seed]|replay:<results.json>|checkpoint:<dir>[:dit|:ar]', help: 'the policy to roll out (required unless --compare)' },
    ...CHECKPOINT_OPTIONS,
    suites: { type: 'list', choices: SUITES, metavar: 'a,b', help: 'the tasks of these suites' },
    tasks: { type: 'list', metavar: 'id,...', help: 'these tasks, e.g. goal/open_drawer' },
    states: { type: 'range', max: MAX_INIT_STATES_PER_TASK - 1, help: `fixed initial states per task (default the benchmark's 0-${INIT_STATES_PER_TASK - 1}; ${INIT_STATES_PER_TASK} and up are training-only)` },
    perturbations: { type: 'list', choices: [...EVAL_AXES, 'all'], metavar: 'nominal,position_swap,...|all', help: 'evaluation axes (default nominal)' },
    envs: { type: 'int', min: 1, default: 16, help: 'environments stepped together' },
    seed: { type: 'int', min: 0, default: 0, help: 'evaluation seed (perturbations, and the DiT noise of a checkpoint policy)' },
    'execute-steps': { type: 'int', min: 1, metavar: 'N', help: "actions executed per chunk before re-planning (default the policy's chunk size)" },
    'max-steps': { type: 'int', min: 1, metavar: 'N', help: "step limit per episode (default the suite's)" },
    camera: { type: 'int', min: 8, help: "camera image size (default the checkpoint's image size)" },
    chunk: { type: 'int', min: 1, metavar: 'H', help: 'chunk length of the random policy' },
    'keep-actions': { type: 'boolean', help: 'record every action in --out (for replay:)' },
    out: { type: 'string', metavar: 'results.json', help: 'the full results' },
    markdown: { type: 'string', metavar: 'results.md', help: 'the printed table, also to a file' },
    'per-task': { type: 'boolean', help: 'a row per task in the tables' },
    compare: { type: 'list', metavar: 'a.json,b.json', help: 'compare two result files instead of evaluating' },
    labels: { type: 'list', metavar: 'A,B', help: 'names of the two compared runs' },
  },
});
type Args = ReturnType<typeof cli.parse>;
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function fmtMs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

async function runCompare(files: string[], args: Args): Promise<void> {
  if (files.length !== 2) fail('--compare needs two result files: a.json,b.json');
  const [a, b] = files.map((f) => parseResults(JSON.parse(readFileSync(f, 'utf8')), f));
  const labels = args.labels;
  const c = compareResults(a, b, { perTask: args['per-task'] });
  const md = renderComparisonMarkdown(c, { a: labels?.[0], b: labels?.[1] });
  console.log(md);
  if (args.markdown) writeAtomic(args.markdown, md);
  console.log(JSON.stringify({ a: c.a, b: c.b, warnings: c.warnings, rows: c.rows.filter((r) => r.taskId === null).map((r) => ({ suite: r.suite, axis: r.perturbation, a: r.a.rate, b: r.b.rate, diff: r.diff, lo: r.lo, hi: r.hi, significant: r.significant })) }));
}

async function main(): Promise<void> {
  const parsed = cli.parse();
  if (parsed.compare) return runCompare(parsed.compare, parsed);
  const demo = expandDemoRecord(parsed, fail);
  if (demo) console.log(demo.note);
  const args = demo?.args ?? parsed;
  const spec = policySpec(args, fail);

  const opts: EvalOptions = {};
  if (args.tasks) opts.tasks = args.tasks;
  if (args.suites) opts.suites = args.suites;
  if (args.states) opts.initStates = args.states;
  if (args.perturbations) opts.perturbations = args.perturbations.includes('all') ? [...EVAL_AXES] : (args.perturbations as EvalAxis[]);
  opts.envsPerBatch = args.envs;
  opts.seed = args.seed;
  opts.executeSteps = args['execute-steps'];
  opts.maxSteps = args['max-steps'];
  opts.keepActions = args['keep-actions'];
  opts.onProgress = (p) => {
    if (p.step !== 0) return; // one line per finished batch
    const rate = p.episodesDone ? ((100 * p.successes) / p.episodesDone).toFixed(1) : '-';
    console.log(
      `batch ${p.batch}/${p.batches}  episodes ${p.episodesDone}/${p.episodesTotal}  success ${p.successes} (${rate}%)  ` +
        `${Math.round(p.envStepsPerS)} env steps/s  elapsed ${fmtMs(p.elapsedMs)}  eta ${p.etaMs === null ? '-' : fmtMs(p.etaMs)}`,
    );
  };

  const policy = await makePolicy(spec, args, fail);
  // Model policies see the images at the checkpoint's resolution unless --camera says otherwise.
  const size = await policyCamera(policy, args.camera);
  if (size) opts.camera = size;
  console.log(`evaluating ${policy.name} (chunk ${policy.chunkSize}${policy.needsImages ? ', cameras on' : ', cameras off'})`);
  let res;
  try {
    res = await evaluate(policy, opts);
  } finally {
    policy.dispose?.();
  }
  const md = renderMarkdown(res, { perTask: args['per-task'] });
  console.log(md);
  const issues = res.episodes.reduce((a, e) => a + e.policyIssues, 0);
  if (issues > 0) console.error(`eval: warning: the policy reported ${issues} problem(s) (${describeDiagnostics(res.policyDiagnostics)}); see policyIssues per episode in --out`);
  if (args.out) writeAtomic(args.out, JSON.stringify(res, null, 1));
  if (args.markdown) writeAtomic(args.markdown, md);
  const total = res.episodes.length;
  const ok = res.episodes.filter((e) => e.success).length;
  console.log(
    JSON.stringify({
      policy: res.policy,
      episodes: total,
      successes: ok,
      success_rate: ok / total,
      skipped: res.skipped.length,
      seconds: Math.round(res.timing.seconds * 10) / 10,
      env_steps_per_s: Math.round(res.timing.envStepsPerS),
      out: args.out ?? null,
      aggregates: res.aggregates.map((a) => ({ suite: a.suite, axis: a.perturbation, successes: a.successes, n: a.n, rate: a.rate, lo: a.lo, hi: a.hi })),
    }),
  );
}

main().catch((e: Error) => {
  console.error(`eval: ${e.message}`);
  process.exit(1);
});
