/**
 * PRTS Fig. 5 plumbing shared by the Embeddings tab's worker job (worker/jobs/tsne.ts) and
 * `npm run tsne` (src/analysis/cli/tsne.ts): which chunks of which episodes are embedded,
 * what each point is labelled with (task, the expert's phase at the chunk start), the
 * t-SNE settings for a point set of a given size, and each panel's separation metrics.
 * Keeping it in one place means the tab and the docs figure show the same thing.
 */
import type { LeRobotReader } from '../data/index.ts';
import type { Sample } from '../model/batch.ts';
import { separationMetrics, type SeparationMetrics } from './separation.ts';
import type { TsneOptions } from './tsne.ts';
import type { CrlProbe } from './value-curves.ts';

/** One embedded chunk: where it starts and what it is labelled with (a type alias, so it is JSON-assignable). */
export type ChunkPoint = {
  episode: number;
  /** Chunk start (frame index in the episode). */
  t: number;
  /** Task index into the dataset's meta/tasks, and its instruction. */
  task: number;
  instruction: string;
  /** The expert's phase id at frame t (dataset column `phase`), null without annotations. */
  phase: number | null;
};

/** The dataset's numeric per-frame phase column, or null when it has none. */
export function phaseColumn(reader: LeRobotReader): string | null {
  const f = reader.features.phase;
  return f && f.dtype !== 'string' && f.dtype !== 'image' && f.dtype !== 'video' ? 'phase' : null;
}

/**
 * Phase names by id from the episodes' metadata (`npm run gen` stores the expert's list as
 * meta.phases); null when no chosen episode carries one.
 */
export function phaseNames(reader: LeRobotReader, episodes: readonly number[]): string[] | null {
  for (const e of episodes) {
    const p = reader.episode(e).meta?.phases;
    if (Array.isArray(p) && p.every((x) => typeof x === 'string')) return p as string[];
  }
  return null;
}

/** The probe's samples of `episodes` (episode order, then time) with a labelled point per sample. */
export async function chunkPoints(probe: CrlProbe, reader: LeRobotReader, episodes: readonly number[]): Promise<{ samples: Sample[]; points: ChunkPoint[] }> {
  const samples = episodes.flatMap((e) => probe.episodeSamples(e));
  const col = phaseColumn(reader);
  const phases = new Map<number, ArrayLike<number>>();
  if (col) {
    for (const e of episodes) {
      const d = await reader.readEpisode(e, [col]);
      phases.set(e, d.columns[col].data as ArrayLike<number>);
    }
  }
  const points = samples.map((s) => ({
    episode: s.episode,
    t: s.t,
    task: s.task,
    instruction: s.instruction,
    phase: phases.has(s.episode) ? Number(phases.get(s.episode)![s.t]) : null,
  }));
  return { samples, points };
}

export interface TsneSettings {
  perplexity: number;
  iterations: number;
  earlyExaggeration: number;
  seed: number;
}

/**
 * t-SNE options for n points of cosine-compared embeddings. Perplexity is capped at
 * (n - 1) / 3 (Barnes-Hut uses 3 * perplexity neighbours, and a perplexity near n makes
 * every point equally near); early exaggeration lasts 250 iterations or a quarter of a
 * short run. `lowered` says the perplexity was capped, so callers can say so.
 */
export function tsneOptionsFor(n: number, s: TsneSettings): { options: TsneOptions; lowered: boolean } {
  if (n < 4) throw new RangeError(`only ${n} chunks; t-SNE needs at least 4 (choose more episodes or a smaller stride)`);
  const perplexity = Math.min(s.perplexity, Math.max(1, Math.floor((n - 1) / 3)));
  return {
    options: {
      perplexity,
      iterations: s.iterations,
      earlyExaggeration: s.earlyExaggeration,
      exaggerationIterations: Math.min(250, Math.floor(s.iterations / 4)),
      metric: 'cosine',
      seed: s.seed,
    },
    lowered: perplexity !== s.perplexity,
  };
}

export interface RowMetrics {
  /** On the embedding the panel was computed from (phi, or h with --feature hidden), cosine distance. */
  embedding: SeparationMetrics;
  /** On the panel's 2-D t-SNE points, euclidean distance. */
  tsne: SeparationMetrics;
}

export interface PanelMetrics {
  task: RowMetrics;
  /** Null when no point has a phase. */
  phase: RowMetrics | null;
}

/** Task and phase metrics of one panel; groups are episodes (leave-one-episode-out k-NN). */
export function panelMetrics(
  emb: ArrayLike<number>,
  dim: number,
  xy: ArrayLike<number>,
  points: readonly { episode: number; task: number; phase: number | null }[],
  k: number,
): PanelMetrics {
  const n = points.length;
  const groups = points.map((p) => p.episode);
  const row = (labels: (number | null)[]): RowMetrics => ({
    embedding: separationMetrics(emb, n, dim, labels, groups, { k, metric: 'cosine' }),
    tsne: separationMetrics(xy, n, 2, labels, groups, { k, metric: 'euclidean' }),
  });
  const hasPhase = points.some((p) => p.phase !== null);
  return { task: row(points.map((p) => p.task)), phase: hasPhase ? row(points.map((p) => p.phase)) : null };
}
