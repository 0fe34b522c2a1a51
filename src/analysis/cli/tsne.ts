/**
 * npm run tsne -- --checkpoint <dir>[,<dir>...] [--labels A,B] --data <dataset dir>
 *                 [--episodes 0-3,7 | all] [--init-states 8-9] [--stride k] [--batch 8]
 *                 [--feature phi|hidden] [--space separate|joint] [--rows task|task,phase]
 *                 [--perplexity 30] [--iterations 1000] [--early-exaggeration 12] [--seed 0]
 *                 [--k 5] --out tsne.json [--svg figure.svg]
 *
 * PRTS Fig. 5 headless: the state-action embedding phi(s, a) of every k-th chunk start of
 * the chosen episodes, for each checkpoint (e.g. with and without CRL; the same chunks for
 * all), mapped to 2-D by t-SNE with the same settings and seed, plus numbers that say how
 * well the embedding separates tasks and the expert's phases (src/analysis/separation.ts):
 * leave-one-episode-out k-NN accuracy and the silhouette, on the embedding itself (cosine)
 * and on the 2-D map. Writes a JSON (points, per-panel coordinates, metrics, settings) and
 * an SVG with one panel per checkpoint, a row coloured by task and, when the dataset has
 * phase annotations, a row coloured by phase. Progress goes to stderr; the last stdout line
 * is a JSON summary of the metrics.
 *
 * --stride defaults to the checkpoints' chunk length: non-overlapping chunks, as in the
 * paper. --feature hidden embeds the backbone's hidden state at <|action_end|> instead of
 * phi (the paper's text says it plots that; phi is the CRL head on top of it).
 * --space joint runs one t-SNE on all checkpoints' rows together ("a unified t-SNE space",
 * PRTS Sec. 6.3) and splits it into panels; the default runs one t-SNE per checkpoint.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { defineCli } from '../../cli/args.ts';
import { chunkPoints, phaseColumn, phaseNames, tsneOptionsFor, type ChunkPoint } from '../chunk-embeddings.ts';
import { TSNE } from '../tsne.ts';
import { CrlProbe } from '../value-curves.ts';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { openRuntime } from '../../engine/autotune.ts';
import { loadCheckpoint, type CheckpointData } from '../../train/checkpoint.ts';
import { nodeCheckpointIO } from '../../train/checkpoint-node.ts';
import { checkCheckpoints, metricLine, panelMetrics, tsneFigureSvg, untrainedNote, type FigureRow } from './tsne-lib.ts';
import { selectEpisodes } from './value-lib.ts';

const cli = defineCli({
  name: 'tsne',
  command: 'npm run tsne --',
  description: "PRTS Fig. 5 headless: t-SNE of phi(s, a) (or h at <|action_end|>) of the same chunks per checkpoint, SVG panels by task and phase, and k-NN/silhouette separation metrics (docs/analysis.md).",
  options: {
    checkpoint: { type: 'list', required: true, metavar: '<dir>[,<dir>...]', help: 'run or step directories (or checkpoint archives), one panel each' },
    labels: { type: 'list', metavar: 'A,B', help: 'panel names, one per checkpoint' },
    data: { type: 'string', required: true, metavar: 'dataset dir', help: 'LeRobot dataset' },
    out: { type: 'string', required: true, metavar: 'json', help: 'points, coordinates, metrics and settings' },
    svg: { type: 'string', metavar: 'figure.svg', help: 'the figure' },
    episodes: { type: 'range', all: true, help: 'dataset episode indices (default all)' },
    'init-states': { type: 'range', help: 'keep the episodes whose metadata init_index is listed' },
    stride: { type: 'int', min: 1, metavar: 'k', help: "every k-th chunk start (default the checkpoints' chunk length)" },
    batch: { type: 'int', min: 1, default: 8, help: 'chunks per forward pass' },
    feature: { type: 'string', choices: ['phi', 'hidden'], default: 'phi', help: 'the CRL embedding phi or the hidden state at <|action_end|>' },
    space: { type: 'string', choices: ['separate', 'joint'], default: 'separate', help: 'one t-SNE per checkpoint, or one over all of them' },
    rows: { type: 'string', choices: ['task', 'task,phase'], help: 'figure rows (default task,phase when the dataset has phases)' },
    perplexity: { type: 'number', min: 1, default: 30, help: 't-SNE perplexity' },
    iterations: { type: 'int', min: 1, default: 1000, help: 't-SNE iterations' },
    'early-exaggeration': { type: 'number', min: 1, default: 12, help: 't-SNE early exaggeration' },
    seed: { type: 'int', min: 0, default: 0, help: 't-SNE seed' },
    k: { type: 'int', min: 1, default: 5, help: 'neighbours of the k-NN metric' },
  },
});
const args = cli.parse();
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;

const ckptDirs = args.checkpoint;
const dataDir = args.data;
const outPath = args.out;
const svgPath = args.svg;
const { feature, space, batch, k } = args;
const settings = { perplexity: args.perplexity, iterations: args.iterations, earlyExaggeration: args['early-exaggeration'], seed: args.seed };
const labels = args.labels ?? null;
if (labels && labels.length !== ckptDirs.length) fail(`--labels has ${labels.length} names for ${ckptDirs.length} checkpoints`);
if (!existsSync(dataDir)) fail(`--data ${dataDir}: no such directory`);

const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
const ckpts: CheckpointData[] = [];
for (const d of ckptDirs) ckpts.push(await nodeCheckpointIO(d, { create: false }).then((io) => loadCheckpoint(io)).catch((e: Error) => fail(`--checkpoint ${d}: ${e.message}`)));
const reader = await LeRobotReader.open(nodeIO(dataDir)).catch((e: Error) => fail(`--data ${dataDir}: ${e.message}`));
const datasetCameras = Object.entries(reader.features)
  .filter(([, f]) => f.dtype === 'image' || f.dtype === 'video')
  .map(([key]) => key.replace(/^observation\.images\./, ''));
try {
  checkCheckpoints(
    ckpts.map((c, i) => ({ dir: ckptDirs[i], cameras: c.config.model.cameras, chunkLength: c.config.model.chunkLength, lambdaCrl: c.config.train.lambdaCrl, paramNames: c.params.map((t) => t.name) })),
    datasetCameras,
  );
} catch (e) {
  fail((e as Error).message);
}
const stride = args.stride ?? ckpts[0].config.model.chunkLength;
let episodes: number[];
try {
  episodes = selectEpisodes(reader.episodes, args.episodes ?? null, args['init-states'] ?? null);
} catch (e) {
  fail(`--episodes/--init-states: ${(e as Error).message}`);
}
if (!episodes.length) fail('no episodes selected (check --episodes and --init-states against the dataset)');
const hasPhase = phaseColumn(reader) !== null;
const rowsSpec = args.rows ?? (hasPhase ? 'task,phase' : 'task');
if (rowsSpec === 'task,phase' && !hasPhase) fail(`--rows task,phase: the dataset ${dataDir} has no numeric "phase" column`);

const rt = await openRuntime();
console.error(`tsne: adapter ${rt.info.vendor} ${rt.info.architecture}; ${ckpts.length} checkpoint(s), ${episodes.length} episodes of ${dataDir}, stride ${stride}, feature ${feature}`);

// 1. Embed the same chunks with every checkpoint (one model on the device at a time).
let points: ChunkPoint[] = [];
const embeddings: { data: Float32Array; dim: number; seconds: number }[] = [];
for (let c = 0; c < ckpts.length; c++) {
  const tc = performance.now();
  let probe: CrlProbe;
  try {
    probe = await CrlProbe.create(rt, ckpts[c], reader, stride);
  } catch (e) {
    fail(`--checkpoint ${ckptDirs[c]} on --data ${dataDir}: ${(e as Error).message}`);
  }
  try {
    const chunks = await chunkPoints(probe, reader, episodes);
    if (c === 0) points = chunks.points;
    else if (chunks.points.length !== points.length || chunks.points.some((p, i) => p.episode !== points[i].episode || p.t !== points[i].t)) {
      fail(`--checkpoint ${ckptDirs[c]} indexes different chunks than ${ckptDirs[0]}`);
    }
    if (chunks.samples.length < 4) fail(`only ${chunks.samples.length} chunks in the chosen episodes; t-SNE needs at least 4 (choose more episodes or a smaller --stride)`);
    let last = 0;
    const r = await probe.embed(chunks.samples, {
      batch,
      hidden: feature === 'hidden',
      onProgress: (done, total) => {
        if (done === total || performance.now() - last > 5000) {
          last = performance.now();
          console.error(`  [${secs()} s] ${ckptDirs[c]}: embedded ${done}/${total} chunks`);
        }
      },
    });
    embeddings.push(feature === 'hidden' ? { data: r.hidden!, dim: r.hiddenDim, seconds: 0 } : { data: r.phi, dim: r.dim, seconds: 0 });
  } finally {
    probe.dispose();
  }
  embeddings[c].seconds = (performance.now() - tc) / 1000;
}
const n = points.length;

// 2. t-SNE: one per checkpoint with the same settings and seed, or one over all rows.
function runTsne(data: Float32Array, rows: number, dim: number, what: string): { xy: Float64Array; kl: number; perplexity: number; seconds: number } {
  const ts = performance.now();
  const { options, lowered } = tsneOptionsFor(rows, settings);
  if (lowered) console.error(`  perplexity lowered to ${options.perplexity} for ${rows} points (it must stay well below n)`);
  const tsne = new TSNE(data, rows, dim, options);
  let kl = NaN;
  let last = 0;
  tsne.run((p) => {
    if (Number.isFinite(p.kl)) kl = p.kl;
    if (p.iteration < p.iterations && performance.now() - last < 5000) return;
    last = performance.now();
    console.error(`  [${secs()} s] t-SNE ${what}: iteration ${p.iteration}/${p.iterations}, KL ${Number.isFinite(p.kl) ? p.kl.toFixed(3) : '-'}, ETA ${(p.etaMs / 1000).toFixed(0)} s`);
  }, Math.max(1, Math.round(settings.iterations / 10)));
  return { xy: Float64Array.from(tsne.embedding), kl, perplexity: options.perplexity!, seconds: (performance.now() - ts) / 1000 };
}
const maps: { xy: Float64Array; kl: number; perplexity: number; seconds: number }[] = [];
if (space === 'joint') {
  const dim = embeddings[0].dim;
  if (embeddings.some((e) => e.dim !== dim)) fail(`--space joint needs equal embedding widths; got ${embeddings.map((e) => e.dim).join(', ')}`);
  const all = new Float32Array(n * dim * ckpts.length);
  embeddings.forEach((e, c) => all.set(e.data, c * n * dim));
  const m = runTsne(all, n * ckpts.length, dim, 'joint');
  for (let c = 0; c < ckpts.length; c++) maps.push({ ...m, xy: m.xy.slice(c * n * 2, (c + 1) * n * 2) });
} else {
  for (let c = 0; c < ckpts.length; c++) maps.push(runTsne(embeddings[c].data, n, embeddings[c].dim, ckptDirs[c]));
}

// 3. Metrics on the embedding and on the map.
const tm = performance.now();
const metrics = embeddings.map((e, c) => panelMetrics(e.data, e.dim, maps[c].xy, points, k));
console.error(`  [${secs()} s] metrics computed in ${((performance.now() - tm) / 1000).toFixed(1)} s`);

const tasks = [...reader.tasks];
const phases = phaseNames(reader, episodes);
const panels = ckpts.map((ck, c) => ({
  label: labels?.[c] ?? `${basename(resolve(ckptDirs[c]))} (lambda_crl ${ck.config.train.lambdaCrl})`,
  checkpoint: ckptDirs[c],
  config: ck.config.name,
  step: ck.trainer.step,
  lambdaCrl: ck.config.train.lambdaCrl,
  note: untrainedNote({ lambdaCrl: ck.config.train.lambdaCrl, step: ck.trainer.step }, feature)?.long ?? null,
  figureNote: untrainedNote({ lambdaCrl: ck.config.train.lambdaCrl, step: ck.trainer.step }, feature)?.short ?? null,
  embeddingDim: embeddings[c].dim,
  x: Array.from({ length: n }, (_, i) => maps[c].xy[2 * i]),
  y: Array.from({ length: n }, (_, i) => maps[c].xy[2 * i + 1]),
  kl: maps[c].kl,
  metrics: metrics[c],
  seconds: { embed: round(embeddings[c].seconds), tsne: round(maps[c].seconds) },
}));
for (const p of panels) if (p.note) console.error(`note: ${p.checkpoint}: ${p.note}`);

const result = {
  run: 'tsne',
  data: dataDir,
  episodes,
  stride,
  feature,
  space,
  chunks: n,
  tsne: { ...settings, perplexity: maps[0].perplexity, metric: 'cosine' },
  metricDefinitions: {
    knn: `${k}-NN label accuracy, leave-one-episode-out: a chunk's own episode never votes (its chunks are near-duplicates); majority vote, ties to the label of the nearest tied voter; points whose label occurs in one episode only are excluded. chance = expected accuracy of one neighbour drawn uniformly from the other episodes.`,
    silhouette: 'mean silhouette coefficient by label (Rousseeuw 1987, as scikit-learn); not leave-one-episode-out.',
    embedding: `computed on the ${feature} rows with cosine distance (1 - cos)`,
    tsne: 'computed on the 2-D t-SNE points with euclidean distance (t-SNE keeps neighbourhoods, not distances: prefer the embedding numbers)',
  },
  tasks,
  phases,
  points,
  panels,
  seconds: round((performance.now() - t0) / 1000),
};
writeFileSync(outPath, JSON.stringify(result, null, 1));
console.error(`wrote ${outPath}`);

for (const p of panels) {
  console.error(`${p.label}: task  ${feature} ${metricLine(p.metrics.task.embedding)} | t-SNE ${metricLine(p.metrics.task.tsne)}`);
  if (p.metrics.phase) console.error(`${p.label}: phase ${feature} ${metricLine(p.metrics.phase.embedding)} | t-SNE ${metricLine(p.metrics.phase.tsne)}`);
}

if (svgPath) {
  const rows: FigureRow[] = [
    { name: 'task', labels: points.map((p) => p.task), names: tasks, captions: panels.map((p) => `${feature}: ${metricLine(p.metrics.task.embedding)}`) },
  ];
  if (rowsSpec === 'task,phase') {
    const maxPhase = Math.max(0, ...points.map((p) => p.phase ?? 0));
    const names = Array.from({ length: maxPhase + 1 }, (_, i) => phases?.[i] ?? `phase ${i}`);
    rows.push({ name: 'phase', labels: points.map((p) => p.phase), names, captions: panels.map((p) => (p.metrics.phase ? `${feature}: ${metricLine(p.metrics.phase.embedding)}` : '')) });
  }
  const title = `t-SNE of ${feature === 'phi' ? 'phi(s, a)' : 'h at <|action_end|>'}: ${n} chunks (stride ${stride}) of ${episodes.length} episodes, ${tasks.length} tasks; ` +
    `perplexity ${maps[0].perplexity}, ${settings.iterations} iterations, seed ${settings.seed}${space === 'joint' ? ', joint space' : ''}; k-NN leave-one-episode-out`;
  writeFileSync(svgPath, tsneFigureSvg({ title, panels: panels.map((p) => ({ ...p, note: p.figureNote })), rows, sharedAxes: space === 'joint' }));
  console.error(`wrote ${svgPath}`);
}

console.log(
  JSON.stringify({
    run: 'tsne',
    chunks: n,
    seconds: result.seconds,
    panels: panels.map((p) => ({
      label: p.label,
      lambda_crl: p.lambdaCrl,
      task_knn: p.metrics.task.embedding.knn.accuracy,
      task_silhouette: p.metrics.task.embedding.silhouette,
      task_knn_tsne: p.metrics.task.tsne.knn.accuracy,
      task_silhouette_tsne: p.metrics.task.tsne.silhouette,
      phase_knn: p.metrics.phase?.embedding.knn.accuracy ?? null,
      phase_silhouette: p.metrics.phase?.embedding.silhouette ?? null,
      task_knn_chance: p.metrics.task.embedding.knn.chance,
    })),
  }),
);
process.exit(0);

function round(s: number): number {
  return Math.round(s * 10) / 10;
}
