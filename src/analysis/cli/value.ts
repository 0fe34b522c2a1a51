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
import { defineCli } from '../../cli/args.ts';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { openRuntime } from '../../engine/autotune.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import { nodeCheckpointIO } from '../../train/checkpoint-node.ts';
import { CrlProbe, episodeValueCurves, type EpisodeValueCurves } from '../value-curves.ts';
import { valueCurveSummary } from '../value.ts';
import { autoWrongInstruction, selectEpisodes, valueCurveSvg } from './value-lib.ts';

const cli = defineCli({
  name: 'value',
  command: 'npm run value --',
  description: 'The CRL value V(s_t, a_t, l) of a checkpoint on dataset episodes under their own and a wrong instruction (docs/analysis.md).',
  options: {
    checkpoint: { type: 'string', required: true, metavar: 'dir', help: 'pre-training run or step directory' },
    data: { type: 'string', required: true, metavar: 'dataset dir', help: 'LeRobot dataset' },
    episodes: { type: 'range', all: true, help: 'dataset episode indices (default all)' },
    'init-states': { type: 'range', help: "keep the episodes whose metadata init_index is listed (e.g. held-out initial states)" },
    'wrong-task': { type: 'string', default: 'auto', metavar: 'auto|"<instruction>"', help: "the wrong instruction; auto takes the dataset's next different task" },
    stride: { type: 'int', min: 1, default: 1, help: 'score every k-th frame' },
    batch: { type: 'int', min: 2, default: 8, help: 'frames per forward pass' },
    seed: { type: 'int', min: 0, default: 0, help: 'seed of the bootstrap intervals' },
    out: { type: 'string', metavar: 'value.json', help: 'write the summary and every curve' },
    svg: { type: 'string', metavar: 'figure.svg', help: 'draw one episode\'s curves' },
    'plot-episode': { type: 'int', min: 0, metavar: 'N', help: 'the episode that --svg draws (default the first selected)' },
  },
});
const args = cli.parse();
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;

const ckptDir = args.checkpoint;
const dataDir = args.data;
const { stride, batch, seed } = args;
const wrongSpec = args['wrong-task'];

const ckpt = await nodeCheckpointIO(ckptDir, { create: false }).then((io) => loadCheckpoint(io)).catch((e: Error) => fail(`--checkpoint ${ckptDir}: ${e.message}`));
const reader = await LeRobotReader.open(nodeIO(dataDir)).catch((e: Error) => fail(`--data ${dataDir}: ${e.message}`));
let episodes: number[];
try {
  episodes = selectEpisodes(reader.episodes, args.episodes ?? null, args['init-states'] ?? null);
} catch (e) {
  fail((e as Error).message);
}
if (!episodes.length) fail('no episodes selected');

const rt = await openRuntime();
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
const outPath = args.out;
if (outPath) writeFileSync(outPath, JSON.stringify({ summary, curves }, null, 1));
const svgPath = args.svg;
if (svgPath) {
  const want = args['plot-episode'] ?? curves[0].episode;
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
