/**
 * npm run eval -- --policy expert|random[:seed]|replay:<results.json>|checkpoint:<dir>[:dit|:ar]
 *                 [--suites spatial,goal | --tasks goal/open_drawer,...] [--states 0-9]
 *                 [--perturbations nominal,position_swap,... | all] [--envs 16] [--seed 0]
 *                 [--execute-steps N] [--max-steps N] [--camera 64] [--chunk H]
 *                 [--keep-actions] [--out results.json] [--markdown results.md] [--per-task]
 * npm run eval -- --compare a.json,b.json [--labels CRL,no-CRL] [--per-task] [--markdown diff.md]
 *
 * Rolls a policy out through the evaluation harness (src/train/eval.ts) in Node, prints
 * a progress line per batch and ends with one JSON line (totals and aggregates); the
 * full results go to --out. --compare prints the Newcombe comparison of two result files.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { INIT_STATES_PER_TASK, SUITES, type Suite } from '../../sim/index';
import { compareResults, EVAL_AXES, evaluate, parseResults, renderComparisonMarkdown, renderMarkdown, type EvalAxis, type EvalOptions } from '../eval';
import { ExpertPolicy, RandomPolicy, ReplayPolicy, type Policy } from '../policy';

const USAGE = `usage: npm run eval -- --policy expert|random[:seed]|replay:<results.json>|checkpoint:<dir>[:dit|:ar] [--suites a,b | --tasks id,...]
         [--states 0-9] [--perturbations nominal,position_swap,...|all] [--envs 16] [--seed 0] [--execute-steps N]
         [--max-steps N] [--camera 64] [--chunk H] [--keep-actions] [--out results.json] [--markdown results.md] [--per-task]
       npm run eval -- --compare a.json,b.json [--labels A,B] [--per-task] [--markdown diff.md]`;

const FLAGS = new Set(['keep-actions', 'per-task', 'help']);
const VALUED = new Set(['policy', 'suites', 'tasks', 'states', 'perturbations', 'envs', 'seed', 'execute-steps', 'max-steps', 'camera', 'chunk', 'out', 'markdown', 'compare', 'labels']);

function fail(msg: string): never {
  console.error(`eval: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) fail(`unexpected argument '${a}'`);
    const name = a.slice(2);
    if (FLAGS.has(name)) out.set(name, 'true');
    else if (VALUED.has(name)) {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) fail(`--${name} needs a value`);
      out.set(name, v);
    } else fail(`unknown option --${name}`);
  }
  return out;
}

function int(args: Map<string, string>, name: string, min: number): number | undefined {
  const v = args.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

/** "0-9", "0,3,5-7" -> indices. */
export function parseStates(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) fail(`--states: '${part}' is not an index or a range like 0-9`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= INIT_STATES_PER_TASK) fail(`--states: '${part}' must lie in 0-${INIT_STATES_PER_TASK - 1}`);
    for (let s = lo; s <= hi; s++) if (!out.includes(s)) out.push(s);
  }
  return out;
}

/**
 * A policy from a PRTS checkpoint (src/train/inference.ts): `checkpoint:<dir>` samples
 * the post-trained DiT (5 Euler steps, seeded per episode from --seed) when the
 * checkpoint has one and otherwise decodes FAST tokens with the LM head;
 * `checkpoint:<dir>:dit` / `:ar` pick the head. <dir> is a run directory (its
 * latest.json) or one step directory.
 */
async function checkpointPolicy(spec: string, args: Map<string, string>): Promise<Policy> {
  const m = /^(.*?)(?::(dit|ar))?$/.exec(spec)!;
  const dir = m[1];
  const mode = m[2] as 'dit' | 'ar' | undefined;
  if (!dir) fail('--policy checkpoint:<dir>[:dit|:ar] needs a directory');
  if (!existsSync(dir)) fail(`--policy checkpoint:${dir}: no such directory or checkpoint archive`);
  const [{ loadPrtsPolicy }, { nodeCheckpointIO }] = await Promise.all([import('../inference'), import('../checkpoint-node')]);
  const policy = await loadPrtsPolicy(await nodeCheckpointIO(dir), undefined, { mode, seed: int(args, 'seed', 0) ?? 0 });
  const d = policy.inference.data;
  console.log(
    `checkpoint ${resolve(dir)}: ${d.trainer.kind} step ${d.trainer.step}/${d.trainer.steps} (backbone ${d.trainer.withCrl ? 'with' : 'without'} CRL), ` +
      `${policy.inference.mode === 'dit' ? 'DiT head, 5 Euler steps' : 'AR FAST decoding'}, chunk ${policy.chunkSize}`,
  );
  return policy;
}

async function makePolicy(spec: string, args: Map<string, string>): Promise<Policy> {
  const [kind, ...rest] = spec.split(':');
  const arg = rest.join(':');
  switch (kind) {
    case 'expert':
      return new ExpertPolicy();
    case 'random': {
      const seed = arg ? Number(arg) : 0;
      if (!Number.isInteger(seed)) fail(`--policy random:<seed> needs an integer seed, got '${arg}'`);
      return new RandomPolicy({ seed, chunkSize: int(args, 'chunk', 1) ?? 1 });
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

async function runCompare(args: Map<string, string>): Promise<void> {
  const files = args.get('compare')!.split(',');
  if (files.length !== 2) fail('--compare needs two result files: a.json,b.json');
  const [a, b] = files.map((f) => parseResults(JSON.parse(readFileSync(f, 'utf8')), f));
  const labels = args.get('labels')?.split(',');
  const c = compareResults(a, b, { perTask: args.has('per-task') });
  const md = renderComparisonMarkdown(c, { a: labels?.[0], b: labels?.[1] });
  console.log(md);
  if (args.has('markdown')) writeAtomic(args.get('markdown')!, md);
  console.log(JSON.stringify({ a: c.a, b: c.b, warnings: c.warnings, rows: c.rows.filter((r) => r.taskId === null).map((r) => ({ suite: r.suite, axis: r.perturbation, a: r.a.rate, b: r.b.rate, diff: r.diff, lo: r.lo, hi: r.hi, significant: r.significant })) }));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('help')) {
    console.log(USAGE);
    return;
  }
  if (args.has('compare')) return runCompare(args);
  const spec = args.get('policy') ?? fail('--policy is required');

  const opts: EvalOptions = {};
  if (args.has('tasks')) opts.tasks = args.get('tasks')!.split(',');
  if (args.has('suites')) {
    const suites = args.get('suites')!.split(',');
    for (const s of suites) if (!SUITES.includes(s as Suite)) fail(`--suites: unknown suite '${s}' (known: ${SUITES.join(', ')})`);
    opts.suites = suites as Suite[];
  }
  if (args.has('states')) opts.initStates = parseStates(args.get('states')!);
  if (args.has('perturbations')) {
    const p = args.get('perturbations')!;
    const axes = p === 'all' ? [...EVAL_AXES] : p.split(',');
    for (const a of axes) if (!EVAL_AXES.includes(a as EvalAxis)) fail(`--perturbations: unknown axis '${a}' (known: ${EVAL_AXES.join(', ')}, or all)`);
    opts.perturbations = axes as EvalAxis[];
  }
  opts.envsPerBatch = int(args, 'envs', 1);
  opts.seed = int(args, 'seed', 0);
  opts.executeSteps = int(args, 'execute-steps', 1);
  opts.maxSteps = int(args, 'max-steps', 1);
  const cam = int(args, 'camera', 8);
  if (cam !== undefined) opts.camera = { width: cam, height: cam };
  opts.keepActions = args.has('keep-actions');
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
  const md = renderMarkdown(res, { perTask: args.has('per-task') });
  console.log(md);
  if (args.has('out')) writeAtomic(args.get('out')!, JSON.stringify(res, null, 1));
  if (args.has('markdown')) writeAtomic(args.get('markdown')!, md);
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
      out: args.get('out') ?? null,
      aggregates: res.aggregates.map((a) => ({ suite: a.suite, axis: a.perturbation, successes: a.successes, n: a.n, rate: a.rate, lo: a.lo, hi: a.hi })),
    }),
  );
}

main().catch((e: Error) => {
  console.error(`eval: ${e.message}`);
  process.exit(1);
});
