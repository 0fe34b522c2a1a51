/**
 * npm run eval -- --policy expert|random[:seed]|replay:<results.json>|checkpoint:<dir>[:dit|:ar]
 * npm run eval -- --checkpoint <dir | run.prts.zip> [--mode dit|ar] [...]   (= --policy checkpoint:<dir>[:mode])
 *                 [--suites spatial,goal | --tasks goal/open_drawer,...] [--states 0-9]
 *                 [--perturbations nominal,position_swap,... | all] [--envs 16] [--seed 0]
 *                 [--execute-steps N] [--max-steps N] [--camera 64] [--chunk H]
 *                 [--keep-actions] [--out results.json] [--markdown results.md] [--per-task]
 *                 [--candidates N [--temperature T]]   (checkpoints: best of N chunks by the CRL value)
 * npm run eval -- --compare a.json,b.json [--labels CRL,no-CRL] [--per-task] [--markdown diff.md]
 *
 * Rolls a policy out through the evaluation harness (src/train/eval.ts) in Node, prints
 * a progress line per batch and ends with one JSON line (totals and aggregates); the
 * full results go to --out. --compare prints the Newcombe comparison of two result files.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { defineCli } from '../../cli/args.ts';
import { INIT_STATES_PER_TASK, SUITES } from '../../sim/index';
import { evaluate } from '../eval';
import { compareResults, renderComparisonMarkdown } from '../eval-compare';
import { EVAL_AXES, type EvalAxis, type EvalOptions } from '../eval-plan';
import { describeDiagnostics, renderMarkdown } from '../eval-report';
import { parseResults } from '../eval-results';
import { ExpertPolicy, RandomPolicy, ReplayPolicy, type Policy } from '../policy';

const cli = defineCli({
  name: 'eval',
  command: 'npm run eval --',
  description: 'Rolls a policy out through the evaluation harness (docs/evaluation.md); ends with one JSON line, the full results go to --out. --compare prints the Newcombe comparison of two result files.',
  forms: ['--compare a.json,b.json [--labels A,B] [--per-task] [--markdown diff.md]'],
  options: {
    policy: { type: 'string', metavar: 'expert|random[:seed]|replay:<results.json>|checkpoint:<dir>[:dit|:ar]', help: 'the policy to roll out (required unless --compare)' },
    checkpoint: { type: 'string', metavar: 'dir', help: 'short for --policy checkpoint:<dir> (a run directory or a .prts.zip archive)' },
    mode: { type: 'string', choices: ['dit', 'ar'], help: "with --checkpoint: the DiT action expert or AR FAST decoding (default dit when the checkpoint has one)" },
    candidates: { type: 'int', min: 1, max: 64, metavar: 'N', help: 'with --checkpoint: propose N chunks per observation and execute the one with the highest CRL value phi(s,a).psi(l) (default 1, the plain policy; docs/evaluation.md)' },
    temperature: { type: 'number', above: 0, metavar: 'T', help: 'with --candidates: AR sampling temperature of the proposals after the first (default 1)' },
    suites: { type: 'list', choices: SUITES, metavar: 'a,b', help: 'the tasks of these suites' },
    tasks: { type: 'list', metavar: 'id,...', help: 'these tasks, e.g. goal/open_drawer' },
    states: { type: 'range', max: INIT_STATES_PER_TASK - 1, help: 'fixed initial states per task (default all)' },
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

/**
 * A policy from a PRTS checkpoint (src/train/inference.ts): `checkpoint:<dir>` samples
 * the post-trained DiT (5 Euler steps, seeded per episode from --seed) when the
 * checkpoint has one and otherwise decodes FAST tokens with the LM head;
 * `checkpoint:<dir>:dit` / `:ar` pick the head. <dir> is a run directory (its
 * latest.json) or one step directory.
 */
async function checkpointPolicy(spec: string, args: Args): Promise<Policy> {
  const m = /^(.*?)(?::(dit|ar))?$/.exec(spec)!;
  const dir = m[1];
  const mode = m[2] as 'dit' | 'ar' | undefined;
  if (!dir) fail('--policy checkpoint:<dir>[:dit|:ar] needs a directory');
  const [{ loadPrtsPolicy }, { nodeCheckpointIO }] = await Promise.all([import('../inference'), import('../checkpoint-node')]);
  const io = await nodeCheckpointIO(dir, { create: false }).catch((e: Error) => fail(`--policy checkpoint:${dir}: ${e.message}`));
  const policy = await loadPrtsPolicy(io, undefined, { mode, seed: args.seed, candidates: args.candidates, temperature: args.temperature }).catch((e: Error) => fail(`--policy checkpoint:${dir}: ${e.message}`));
  const d = policy.inference.data;
  console.log(
    `checkpoint ${resolve(dir)}: ${d.trainer.kind} step ${d.trainer.step}/${d.trainer.steps} (backbone ${d.trainer.withCrl ? 'with' : 'without'} CRL), ` +
      `${policy.inference.mode === 'dit' ? 'DiT head, 5 Euler steps' : 'AR FAST decoding'}, chunk ${policy.chunkSize}` +
      (policy.inference.opts.select.candidates > 1 ? `, best of ${policy.inference.opts.select.candidates} by CRL value (temperature ${policy.inference.opts.select.temperature})` : ''),
  );
  return policy;
}

async function makePolicy(spec: string, args: Args): Promise<Policy> {
  const [kind, ...rest] = spec.split(':');
  const arg = rest.join(':');
  switch (kind) {
    case 'expert':
      return new ExpertPolicy();
    case 'random': {
      const seed = arg ? Number(arg) : 0;
      if (!Number.isInteger(seed)) fail(`--policy random:<seed> needs an integer seed, got '${arg}'`);
      return new RandomPolicy({ seed, chunkSize: args.chunk ?? 1 });
    }
    case 'replay': {
      if (!arg) fail('--policy replay:<results.json> needs a results file written with --keep-actions');
      const res = parseResults(JSON.parse(readFileSync(arg, 'utf8')), arg);
      return ReplayPolicy.fromRecords(res.episodes, `replay(${arg})`);
    }
    case 'checkpoint':
      if (!arg) fail('--policy checkpoint:<dir>[:dit|:ar] needs a directory');
      return checkpointPolicy(arg, args);
    default:
      fail(`--policy must be expert, random[:seed], replay:<file> or checkpoint:<dir>[:dit|:ar], got '${spec}'`);
  }
}

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

/** The policy spec as given (--checkpoint is short for --policy checkpoint:<dir>). */
function spec0(args: Args): string {
  return args.checkpoint !== undefined ? `checkpoint:${args.checkpoint}` : (args.policy ?? '');
}

async function main(): Promise<void> {
  const args = cli.parse();
  if (args.compare) return runCompare(args.compare, args);
  if (args.checkpoint !== undefined && args.policy !== undefined) fail('give either --policy or --checkpoint, not both');
  if ((args.candidates !== undefined || args.temperature !== undefined) && !spec0(args).startsWith('checkpoint:')) fail('--candidates and --temperature apply to checkpoint policies only');
  if (args.temperature !== undefined && args.candidates === undefined) fail('--temperature needs --candidates N (it sets how the proposals after the first are sampled)');
  if (args.mode !== undefined && args.checkpoint === undefined) fail('--mode applies to --checkpoint only (with --policy write checkpoint:<dir>:dit|:ar)');
  const spec = args.checkpoint !== undefined ? `checkpoint:${args.checkpoint}${args.mode ? `:${args.mode}` : ''}` : (args.policy ?? fail('--policy or --checkpoint is required'));

  const opts: EvalOptions = {};
  if (args.tasks) opts.tasks = args.tasks;
  if (args.suites) opts.suites = args.suites;
  if (args.states) opts.initStates = args.states;
  if (args.perturbations) opts.perturbations = args.perturbations.includes('all') ? [...EVAL_AXES] : (args.perturbations as EvalAxis[]);
  opts.envsPerBatch = args.envs;
  opts.seed = args.seed;
  opts.executeSteps = args['execute-steps'];
  opts.maxSteps = args['max-steps'];
  const cam = args.camera;
  if (cam !== undefined) opts.camera = { width: cam, height: cam };
  opts.keepActions = args['keep-actions'];
  opts.onProgress = (p) => {
    if (p.step !== 0) return; // one line per finished batch
    const rate = p.episodesDone ? ((100 * p.successes) / p.episodesDone).toFixed(1) : '-';
    console.log(
      `batch ${p.batch}/${p.batches}  episodes ${p.episodesDone}/${p.episodesTotal}  success ${p.successes} (${rate}%)  ` +
        `${Math.round(p.envStepsPerS)} env steps/s  elapsed ${fmtMs(p.elapsedMs)}  eta ${p.etaMs === null ? '-' : fmtMs(p.etaMs)}`,
    );
  };

  const policy = await makePolicy(spec, args);
  // Model policies see the images at the checkpoint's resolution unless --camera says otherwise.
  if (cam === undefined && policy instanceof (await import('../inference')).PrtsPolicy) {
    const size = Math.max(8, policy.inference.data.config.model.imageSize);
    opts.camera = { width: size, height: size };
  }
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
