/**
 * Embeddings (PRTS Fig. 5) as a worker job: phi of the chunks of the chosen episodes for
 * one or two checkpoints (e.g. with and without CRL), each mapped to 2-D by t-SNE
 * (src/analysis/tsne.ts) with progress, pause and cancel between iterations, and each
 * panel's separation metrics (by task and phase, on phi and on the map) as `npm run tsne`
 * computes them, so the tab and the CLI's JSON carry the same numbers.
 */
import { chunkPoints, panelMetrics, phaseNames, tsneOptionsFor, type ChunkPoint } from '../../src/analysis/chunk-embeddings.ts';
import { TSNE } from '../../src/analysis/tsne.ts';
import { CrlProbe } from '../../src/analysis/value-curves.ts';
import type { JobParams, JsonValue } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';
import { describeSource, loadCheckpointSource } from './runs.ts';
import { serverReader } from './value.ts';

/** Voters of the k-NN accuracy: `npm run tsne`'s default --k. */
export const METRIC_K = 5;

/**
 * One panel of the result: its 2-D map (xy interleaved) and panelMetrics of `emb` and the
 * map. Metrics go through JSON so NaN (e.g. k-NN when every task has one episode) becomes
 * null, exactly as in the CLI's --out file, which the tab reads with the same parser.
 */
export function tsnePanel(label: string, emb: ArrayLike<number>, dim: number, xy: ArrayLike<number>, kl: number, points: readonly ChunkPoint[], k = METRIC_K) {
  const n = points.length;
  if (xy.length !== 2 * n || emb.length !== n * dim) throw new RangeError(`panel "${label}": ${xy.length / 2} map points and ${emb.length / dim} embeddings for ${n} chunks`);
  return {
    label,
    x: Array.from({ length: n }, (_, i) => xy[2 * i]),
    y: Array.from({ length: n }, (_, i) => xy[2 * i + 1]),
    kl: Number.isFinite(kl) ? kl : -1,
    metrics: JSON.parse(JSON.stringify(panelMetrics(emb, dim, xy, points, k))) as JsonValue,
  };
}

export async function tsneJob(p: JobParams['tsne'], ctx: JobContext) {
  if (p.checkpoints.length < 1 || p.checkpoints.length > 2) throw new Error('choose one or two checkpoints');
  if (!p.episodes.length) throw new Error('choose at least one episode');
  const rt = await runtime();
  const reader = await serverReader(p.dataset);
  const panels: ReturnType<typeof tsnePanel>[] = [];
  let points: ChunkPoint[] = [];
  // Embedding is quick next to t-SNE; weigh it as 10% of each panel's progress.
  const per = p.iterations + 10;
  const total = per * p.checkpoints.length;
  for (let c = 0; c < p.checkpoints.length; c++) {
    const src = p.checkpoints[c];
    const ckpt = await loadCheckpointSource(src);
    const probe = await CrlProbe.create(rt, ckpt, reader, p.stride);
    let phi: Float32Array;
    let dim: number;
    try {
      const chunks = await chunkPoints(probe, reader, p.episodes);
      const samples = chunks.samples;
      if (samples.length < 4) throw new Error(`only ${samples.length} chunks in the chosen episodes; t-SNE needs more (choose more episodes or a smaller stride)`);
      if (c === 0) points = chunks.points;
      else if (chunks.points.length !== points.length || chunks.points.some((q, i) => q.episode !== points[i].episode || q.t !== points[i].t)) {
        throw new Error(`${describeSource(src)} indexes different chunks than ${describeSource(p.checkpoints[0])} (another chunk length?); the panels would not show the same chunks`);
      }
      ({ phi, dim } = await probe.embed(samples, {
        batch: p.batch,
        onProgress: async (done, n) => {
          ctx.progress({ step: c * per + Math.round((10 * done) / n), total, losses: {}, items: 0 });
          await ctx.checkpoint();
        },
      }));
    } finally {
      probe.dispose();
    }
    const n = phi.length / dim;
    const { options, lowered } = tsneOptionsFor(n, p);
    if (lowered) ctx.log(`perplexity lowered to ${options.perplexity} for ${n} points (it must stay well below n)`);
    const tsne = new TSNE(phi, n, dim, options);
    let kl = NaN;
    while (!tsne.done) {
      const pr = tsne.step();
      if (Number.isFinite(pr.kl)) kl = pr.kl;
      if (pr.iteration % 5 === 0 || tsne.done) {
        ctx.progress({ step: c * per + 10 + pr.iteration, total, losses: Number.isFinite(kl) ? { kl } : {}, items: 5 });
        await ctx.checkpoint();
      }
    }
    panels.push(tsnePanel(describeSource(src), phi, dim, tsne.embedding, kl, points));
  }
  return { feature: 'phi', dataset: p.dataset, panels, points, tasks: [...new Set(points.map((q) => q.instruction))], phases: phaseNames(reader, p.episodes) };
}
