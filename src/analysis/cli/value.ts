/**
 * npm run value -- --checkpoint <run or step dir> --data <dataset dir>
 *                  [--episodes 0-3,7 | all] [--init-states 8-9] [--wrong-task auto | "<instruction>"]
 *                  [--stride 1] [--batch 8] [--seed 0] [--out value.json]
 *                  [--svg figure.svg] [--plot-episode <dataset episode index>]
 *
 * The CRL value V(s_t, a_t, l) = phi(s_t, a_t) . psi(l) of a pre-training checkpoint on
 * dataset episodes, under each episode's own instruction and under a wrong one
 * (PRTS Sec. 6.6, Fig. 9; issue 6 "Experiments"). Prints one line per episode and a
 * summary: the fraction of frames with V_true > V_wrong and the Spearman correlation of
 * V_true with t (on successful episodes), each as a mean over episodes with a seeded 95%
 * percentile-bootstrap interval over episodes (src/analysis/value.ts). The last stdout line
 * is the summary as JSON; --out writes the full curves.
 *
 * Episode selection: --episodes takes dataset episode indices (default all);
 * --init-states keeps the episodes whose metadata `init_index` (written by `npm run gen`)
 * is in the list, e.g. the held-out initial states that a training set did not use.
 * --wrong-task auto takes, for each episode, the next task (cyclically) of the dataset's
 * meta/tasks that differs from the episode's instruction.
 */
import { writeFileSync } from 'node:fs';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { Runtime } from '../../engine/runtime.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import { nodeCheckpointIO } from '../../train/checkpoint-node.ts';
import { CrlProbe, episodeValueCurves, type EpisodeValueCurves } from '../value-curves.ts';
import { valueCurveSummary } from '../value.ts';
import { autoWrongInstruction, parseIndexList, selectEpisodes, valueCurveSvg } from './value-lib.ts';

const USAGE = `usage: npm run value -- --checkpoint <dir> --data <dataset dir> [--episodes 0-3,7|all] [--init-states 8-9]
         [--wrong-task auto|"<instruction>"] [--stride 1] [--batch 8] [--seed 0] [--out value.json]
         [--svg figure.svg] [--plot-episode N]`;
const VALUED = new Set(['checkpoint', 'data', 'episodes', 'init-states', 'wrong-task', 'stride', 'batch', 'seed', 'out', 'svg', 'plot-episode']);

function fail(msg: string): never {
  console.error(`value: ${msg}\n${USAGE}`);
  process.exit(2);
}

const args = new Map<string, string>();
{
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || !VALUED.has(a.slice(2))) fail(`unknown argument '${a}'`);
    const v = argv[++i];
    if (v === undefined || v.startsWith('--')) fail(`${a} needs a value`);
    args.set(a.slice(2), v);
  }
}
function int(name: string, def: number, min: number): number {
  const v = args.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

const ckptDir = args.get('checkpoint') ?? fail('--checkpoint <dir> is required');
const dataDir = args.get('data') ?? fail('--data <dataset dir> is required');
const stride = int('stride', 1, 1);
const batch = int('batch', 8, 2);
const seed = int('seed', 0, 0);
const wrongSpec = args.get('wrong-task') ?? 'auto';

const ckpt = await loadCheckpoint(await nodeCheckpointIO(ckptDir)).catch((e: Error) => fail(`--checkpoint ${ckptDir}: ${e.message}`));
const reader = await LeRobotReader.open(nodeIO(dataDir)).catch((e: Error) => fail(`--data ${dataDir}: ${e.message}`));
let episodes: number[];
try {
  episodes = selectEpisodes(
    reader.episodes,
    args.has('episodes') && args.get('episodes') !== 'all' ? parseIndexList(args.get('episodes')!) : null,
    args.has('init-states') ? parseIndexList(args.get('init-states')!) : null,
  );
} catch (e) {
  fail((e as Error).message);
}
if (!episodes.length) fail('no episodes selected');

const rt = await Runtime.create();
console.error(`adapter: ${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`);
const probe = await CrlProbe.create(rt, ckpt, reader, stride);
const crl = ckpt.config.train.lambdaCrl > 0;
console.error(
  `checkpoint ${ckptDir} (config "${ckpt.config.name}", lambda_crl ${ckpt.config.train.lambdaCrl}${crl ? '' : ': CRL heads untrained, a control'}); ` +
    `${episodes.length} episodes of ${dataDir}, stride ${stride}`,
);
const t0 = performance.now();
const curves: (EpisodeValueCurves & { initIndex: number | null; taskId: string | null; success: boolean | null })[] = [];
try {
  for (const ep of episodes) {
    const info = reader.episodes[ep];
    const own = info.tasks[0] ?? '';
    const wrong = wrongSpec === 'auto' ? autoWrongInstruction(reader.tasks, own) : wrongSpec;
    const c = await episodeValueCurves(probe, ep, wrong, { batch });
    const meta = info.meta ?? {};
    const row = {
      ...c,
      initIndex: typeof meta.init_index === 'number' ? meta.init_index : null,
      taskId: typeof meta.task_id === 'string' ? meta.task_id : null,
      success: typeof meta.success === 'boolean' ? meta.success : null,
    };
    curves.push(row);
    console.log(
      `episode ${ep}  ${row.taskId ?? c.instruction}  init ${row.initIndex ?? '?'}  frames ${c.metrics.frames}  ` +
        `V_true>V_wrong ${c.metrics.fracTrueAbove.toFixed(3)}  spearman(V_true, t) ${c.metrics.spearmanTime.toFixed(3)}  ` +
        `mean V_true ${mean(c.vTrue).toFixed(3)} V_wrong ${mean(c.vWrong).toFixed(3)}`,
    );
  }
} finally {
  probe.dispose();
}
const seconds = (performance.now() - t0) / 1000;

// Spearman with t is defined on successful episodes (PRTS Fig. 9); datasets from
// `npm run gen` only keep successful episodes, so `success` is true or absent there.
const successful = curves.filter((c) => c.success !== false);
const frac = valueCurveSummary(curves, { seed });
const rho = successful.length ? valueCurveSummary(successful, { seed }).spearmanTime : { estimate: NaN, lo: NaN, hi: NaN, n: 0 };
const summary = {
  run: 'value',
  checkpoint: ckptDir,
  lambda_crl: ckpt.config.train.lambdaCrl,
  step: ckpt.trainer.step,
  data: dataDir,
  episodes: curves.length,
  frames: curves.reduce((s, c) => s + c.metrics.frames, 0),
  stride,
  frac_true_above: frac.fracTrueAbove,
  spearman_time_successful: rho,
  mean_v_true: mean(curves.flatMap((c) => c.vTrue)),
  mean_v_wrong: mean(curves.flatMap((c) => c.vWrong)),
  seconds: Math.round(seconds * 10) / 10,
};
const fmt = (i: { estimate: number; lo: number; hi: number }) => `${i.estimate.toFixed(3)} [${i.lo.toFixed(3)}, ${i.hi.toFixed(3)}]`;
console.error(
  `summary: ${curves.length} episodes, ${summary.frames} frames; frac V_true>V_wrong ${fmt(frac.fracTrueAbove)}; ` +
    `spearman(V_true, t) on ${rho.n} successful episodes ${fmt(rho)} (95% bootstrap over episodes)`,
);
const outPath = args.get('out');
if (outPath) writeFileSync(outPath, JSON.stringify({ summary, curves }, null, 1));
const svgPath = args.get('svg');
if (svgPath) {
  const want = args.has('plot-episode') ? int('plot-episode', 0, 0) : curves[0].episode;
  const c = curves.find((x) => x.episode === want) ?? fail(`--plot-episode ${want} is not among the selected episodes`);
  writeFileSync(svgPath, valueCurveSvg(c, { title: `V(s_t, a_t, l) on episode ${c.episode} (${c.taskId ?? ''}, init ${c.initIndex ?? '?'}), lambda_crl ${ckpt.config.train.lambdaCrl}` }));
  console.error(`wrote ${svgPath}`);
}
console.log(JSON.stringify(summary));

process.exit(0);

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return xs.length ? s / xs.length : NaN;
}
