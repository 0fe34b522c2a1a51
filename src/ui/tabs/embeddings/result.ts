/**
 * What the Embeddings tab shows, from either source: the `tsne` job's result or the JSON
 * `npm run tsne --out` writes (src/analysis/cli/tsne.ts). Both have `panels` (label, x, y,
 * KL, metrics), `points` and `tasks`; the CLI's file has extras (settings, checkpoint
 * paths, seconds) that are ignored here. One zod schema checks both, naming the bad field.
 * Pure (unit-tested in tests/unit/ui/embeddings.test.ts).
 */
import { z } from 'zod';
import type { PanelMetrics } from '../../../analysis/chunk-embeddings.ts';
import type { JsonValue } from '../../../../worker/protocol.ts';

// JSON has no NaN: JSON.stringify writes it as null (a k-NN accuracy with every chunk left
// out, a silhouette with one label), so null reads back as NaN ("n/a" in the table).
const maybe = z.union([z.number(), z.nan(), z.null()], { error: 'must be a number or null' }).transform((v) => v ?? NaN);
const within = (lo: number, hi: number) => maybe.refine((v) => Number.isNaN(v) || (v >= lo && v <= hi), `must be in [${lo}, ${hi}]`);
const count = z.number({ error: 'must be a number' }).int('must be a whole number').min(0, 'must be >= 0');

const SeparationSchema = z.object({
  knn: z.object({ accuracy: within(0, 1), chance: within(0, 1), n: count, excluded: count, k: count.min(1, 'must be >= 1') }),
  silhouette: within(-1, 1),
  n: count,
  labels: count,
});
const RowSchema = z.object({ embedding: SeparationSchema, tsne: SeparationSchema });
const MetricsSchema = z.object({ task: RowSchema, phase: RowSchema.nullable() });

const PointSchema = z.object({
  episode: count,
  t: count,
  task: count,
  instruction: z.string({ error: 'must be a string' }),
  phase: count.nullable(),
});

const PanelSchema = z.object({
  label: z.string({ error: 'must be a string' }),
  x: z.array(z.number({ error: 'must be a number' }), { error: 'must be an array of numbers' }),
  y: z.array(z.number({ error: 'must be a number' }), { error: 'must be an array of numbers' }),
  kl: maybe,
  metrics: MetricsSchema.optional(),
  note: z.string().nullable().optional(),
});

const TsneResultSchema = z
  .object({
    panels: z.array(PanelSchema, { error: 'must be an array of panels' }).min(1, 'must hold at least one panel'),
    points: z.array(PointSchema, { error: 'must be an array of points' }).min(1, 'must hold at least one point'),
    tasks: z.array(z.string(), { error: 'must be an array of instructions' }),
    /** Phase names by id (the CLI's and the job's `phases`), null without meta.phases. */
    phases: z.array(z.string()).nullable().optional(),
    /** What was embedded: phi (the tab's job, the CLI's default) or the hidden state h. */
    feature: z.enum(['phi', 'hidden'], { error: 'must be "phi" or "hidden"' }).optional(),
    /** The server dataset id (job results). */
    dataset: z.string().optional(),
    /** The dataset directory the CLI read (its files). */
    data: z.string().optional(),
  })
  .superRefine((r, ctx) => {
    r.panels.forEach((p, k) => {
      for (const axis of ['x', 'y'] as const) {
        if (p[axis].length !== r.points.length) ctx.addIssue({ code: 'custom', path: ['panels', k, axis], message: `has ${p[axis].length} points for ${r.points.length} chunks` });
      }
    });
  });

export type TsneResult = z.infer<typeof TsneResultSchema>;
export type TsnePoint = TsneResult['points'][number];
export type TsnePanel = TsneResult['panels'][number];
export type TsneMetrics = NonNullable<TsnePanel['metrics']>;

// The schema must accept what panelMetrics returns; this fails to compile if they drift.
const _fits: TsneMetrics = null as unknown as PanelMetrics;
void _fits;

/** "panels.0.x: has 3 points for 4 chunks"; at most `max` issues, then how many more. */
function describeIssues(issues: readonly z.core.$ZodIssue[], max = 6): string[] {
  const lines = issues.slice(0, max).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  if (issues.length > max) lines.push(`… and ${issues.length - max} more`);
  return lines;
}

/** The `tsne` job's result; throws (naming the field) when the worker sent something else. */
export function parseTsneResult(r: JsonValue): TsneResult {
  const p = TsneResultSchema.safeParse(r);
  if (!p.success) throw new Error(`the t-SNE job returned a malformed result: ${describeIssues(p.error.issues).join('; ')}`);
  return p.data;
}

/** A t-SNE JSON file's text (the CLI's --out, or a saved job result). */
export function parseTsneJson(text: string): { ok: true; result: TsneResult } | { ok: false; errors: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [`(root): not valid JSON: ${(e as Error).message}`] };
  }
  const p = TsneResultSchema.safeParse(raw);
  return p.success ? { ok: true, result: p.data } : { ok: false, errors: describeIssues(p.error.issues) };
}

/**
 * Which served dataset the result's points index, or why none: the job names its server
 * dataset; the CLI names a directory, matched by its last path component (the server
 * serves the datasets of its data directory by folder name).
 */
export function servedDataset(r: Pick<TsneResult, 'dataset' | 'data'>, served: readonly string[]): { id: string | null; why: string | null } {
  const name = r.dataset ?? r.data?.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  if (!name) return { id: null, why: 'the file names no dataset ("data" or "dataset")' };
  if (served.includes(name)) return { id: name, why: null };
  return { id: null, why: `its dataset "${r.dataset ?? r.data}" is not one the server serves${served.length ? ` (it serves ${served.join(', ')})` : ''}` };
}

/**
 * Null when every point exists in the dataset (episode, frame) with the same instruction,
 * else why not: a dataset of the same name that is not the one the file was made from.
 */
export function datasetMismatch(points: readonly TsnePoint[], episodes: readonly { length: number; tasks: readonly string[] }[], id: string): string | null {
  for (const p of points) {
    const e = episodes[p.episode];
    if (!e) return `server dataset "${id}" has no episode ${p.episode} (it has ${episodes.length}); not the dataset this file was made from`;
    if (p.t >= e.length) return `episode ${p.episode} of server dataset "${id}" has ${e.length} frames, the file has a chunk at t = ${p.t}`;
    if (e.tasks.length && !e.tasks.includes(p.instruction)) return `episode ${p.episode} of server dataset "${id}" is "${e.tasks[0]}", the file says "${p.instruction}"`;
  }
  return null;
}

export type MetricRow = 'task' | 'phase';
/** The columns of the metrics table: a metric of SeparationMetrics on phi or on the map. */
export type MetricKey = 'knn' | 'chance' | 'silhouette' | 'knnMap' | 'silhouetteMap' | 'excluded';

export function metricValue(m: TsneMetrics, row: MetricRow, key: MetricKey): number {
  const r = m[row];
  if (!r) return NaN;
  switch (key) {
    case 'knn': return r.embedding.knn.accuracy;
    case 'chance': return r.embedding.knn.chance;
    case 'silhouette': return r.embedding.silhouette;
    case 'knnMap': return r.tsne.knn.accuracy;
    case 'silhouetteMap': return r.tsne.silhouette;
    case 'excluded': return r.embedding.knn.excluded;
  }
}

/** Columns where higher means better separation (chance and excluded describe the data, not the checkpoint). */
export const RANKED: readonly MetricKey[] = ['knn', 'silhouette', 'knnMap', 'silhouetteMap'];

/**
 * Index of the panel with the strictly highest finite value, or null (one panel, a tie, a
 * missing value). Compared at the table's precision (2 decimals), so a highlighted cell
 * never reads equal to the other.
 */
export function bestPanel(values: readonly number[]): number | null {
  if (values.length < 2 || values.some((v) => !Number.isFinite(v))) return null;
  const shown = values.map((v) => Math.round(v * 100));
  const top = Math.max(...shown);
  const at = shown.flatMap((v, i) => (v === top ? [i] : []));
  return at.length === 1 ? at[0] : null;
}

/**
 * Which checkpoint separates `row` better, judged on the embedding itself (t-SNE maps
 * distort distances): the higher leave-one-episode-out k-NN accuracy, or, when that is
 * tied or undefined (every label in one episode only), the higher silhouette.
 * `separates` is false when even the better one does not beat chance (k-NN) or 0 (silhouette).
 */
export function betterPanel(
  panels: readonly Pick<TsnePanel, 'label' | 'metrics'>[],
  row: MetricRow,
): { index: number; by: 'knn' | 'silhouette'; values: number[]; separates: boolean } | null {
  const ms = panels.map((p) => p.metrics);
  if (ms.length < 2 || ms.some((m) => !m?.[row])) return null;
  for (const by of ['knn', 'silhouette'] as const) {
    const values = ms.map((m) => metricValue(m!, row, by));
    const index = bestPanel(values);
    if (index === null) continue;
    const floor = by === 'knn' ? metricValue(ms[index]!, row, 'chance') : 0;
    return { index, by, values, separates: values[index] > floor };
  }
  return null;
}
