/**
 * Embeddings tab, pure level: the tsne job's panels carry panelMetrics (on phi and on the
 * map) in the shape the tab parses; t-SNE JSON files (the job's shape or `npm run tsne
 * --out`) are validated with errors naming the field; dataset matching; which checkpoint
 * separates better. No GPU.
 */
import { describe, expect, test } from 'vitest';
import { panelMetrics, type ChunkPoint } from '../../../src/analysis/chunk-embeddings.ts';
import { groupPoints } from '../../../src/ui/tabs/embeddings/embeddings.ts';
import { betterPanel, bestPanel, datasetMismatch, metricValue, parseTsneJson, parseTsneResult, servedDataset } from '../../../src/ui/tabs/embeddings/result.ts';
import { METRIC_K, tsnePanel } from '../../../worker/jobs/tsne.ts';
import type { JsonValue } from '../../../worker/protocol.ts';

/** 4 episodes x 6 chunks; tasks 0,1,0,1 (two episodes each); phase 0 for t < 6, else 1. */
const POINTS: ChunkPoint[] = Array.from({ length: 24 }, (_, i) => {
  const episode = Math.floor(i / 6);
  const t = 2 * (i % 6);
  return { episode, t, task: episode % 2, instruction: episode % 2 ? 'lift the red block' : 'push the blue block', phase: t < 6 ? 0 : 1 };
});
/** phi: task in the first axis, a small per-point wobble in the second (unit-ish rows). */
const separated = POINTS.flatMap((p, i) => (p.task ? [0.05 * Math.sin(i), 1, 0.1] : [1, 0.05 * Math.cos(i), 0.1]));
/** phi that ignores the task: every row points the same way but for a wobble. */
const mixed = POINTS.flatMap((_, i) => [1, 0.3 * Math.sin(3 * i), 0.3 * Math.cos(5 * i)]);
const mapOf = (emb: number[]) => POINTS.flatMap((_, i) => [10 * emb[3 * i], 10 * emb[3 * i + 1]]);

function jobResult(panels: ReturnType<typeof tsnePanel>[]): JsonValue {
  // What the worker posts; through JSON as a saved file would be.
  return JSON.parse(JSON.stringify({ feature: 'phi', dataset: 'demo', panels, points: POINTS, tasks: ['push the blue block', 'lift the red block'], phases: ['reach', 'lift'] }));
}

describe('tsne job panels carry the separation metrics', () => {
  test('metrics on phi and on the map, as panelMetrics computes them, survive the tab parser', () => {
    const a = tsnePanel('A', separated, 3, mapOf(separated), 0.5, POINTS);
    const b = tsnePanel('B', mixed, 3, mapOf(mixed), NaN, POINTS);
    expect(a.x).toHaveLength(24);
    expect(b.kl).toBe(-1);
    const r = parseTsneResult(jobResult([a, b]));
    const ma = r.panels[0].metrics!;
    // Each task has another episode, so nothing is left out; the other three episodes hold
    // one of the same task, so a random neighbour is right 1/3 of the time.
    expect(ma.task.embedding.knn).toMatchObject({ k: METRIC_K, n: 24, excluded: 0 });
    expect(ma.task.embedding.knn.chance).toBeCloseTo(1 / 3, 12);
    expect(ma.task.embedding.knn.accuracy).toBe(1);
    expect(ma.task.tsne.knn.accuracy).toBe(1);
    expect(ma.task.embedding.silhouette).toBeGreaterThan(0.8);
    expect(ma.phase).not.toBeNull();
    // Exactly the shared function's numbers, embedding with cosine and the map with euclidean.
    expect(ma).toEqual(panelMetrics(separated, 3, mapOf(separated), POINTS, METRIC_K));
    const mb = r.panels[1].metrics!;
    expect(mb.task.embedding.knn.accuracy).toBeLessThan(1);
    expect(betterPanel(r.panels, 'task')).toMatchObject({ index: 0, by: 'knn', separates: true });
  });

  test('a task seen in one episode only: k-NN is NaN in the job (null in JSON) and every chunk is left out', () => {
    const single = POINTS.map((p) => ({ ...p, task: p.episode, instruction: `task ${p.episode}` }));
    // One direction per episode (45 degrees apart), so these tasks are separated.
    const byEpisode = POINTS.flatMap((p, i) => [Math.cos(p.episode * Math.PI / 4), Math.sin(p.episode * Math.PI / 4), 0.05 * Math.sin(i)]);
    const p = tsnePanel('A', byEpisode, 3, mapOf(byEpisode), 1, single);
    expect(JSON.stringify(p)).not.toMatch(/NaN/);
    const r = parseTsneResult(JSON.parse(JSON.stringify({ panels: [p], points: single, tasks: [] })));
    const m = r.panels[0].metrics!;
    expect(m.task.embedding.knn.accuracy).toBeNaN();
    expect(m.task.embedding.knn.excluded).toBe(24);
    expect(Number.isFinite(m.task.embedding.silhouette)).toBe(true);
    // Silhouette still ranks the checkpoints when k-NN cannot.
    const q = tsnePanel('B', mixed, 3, mapOf(mixed), 1, single);
    const both = parseTsneResult(JSON.parse(JSON.stringify({ panels: [p, q], points: single, tasks: [] })));
    expect(betterPanel(both.panels, 'task')).toMatchObject({ by: 'silhouette', index: 0, separates: true });
    // Neither above the floor: the better one is still named, but flagged.
    const flat = both.panels.map((q, i) => ({ ...q, metrics: { ...q.metrics!, task: { ...q.metrics!.task, embedding: { ...q.metrics!.task.embedding, silhouette: -0.1 * (i + 1) } } } }));
    expect(betterPanel(flat, 'task')).toMatchObject({ index: 0, separates: false });
  });

  test('a map or embedding of the wrong size is refused with the panel named', () => {
    expect(() => tsnePanel('B', separated, 3, mapOf(separated).slice(2), 0, POINTS)).toThrow(/panel "B": 23 map points/);
  });
});

describe('t-SNE JSON files', () => {
  const good = () => JSON.parse(JSON.stringify(jobResult([tsnePanel('A', separated, 3, mapOf(separated), 0.5, POINTS)]))) as Record<string, unknown> & { panels: Record<string, unknown>[]; points: Record<string, unknown>[] };

  test('the CLI shape (extras, data directory, NaN written as null) reads as is', () => {
    const f = good();
    delete f.dataset;
    Object.assign(f, { run: 'tsne', data: '/tmp/x/demo/', stride: 2, metricDefinitions: { knn: '...' } });
    Object.assign(f.panels[0], { checkpoint: '/tmp/ck', step: 2, lambdaCrl: 0, note: 'phi head untrained', kl: null });
    const r = parseTsneJson(JSON.stringify(f));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.result.panels[0].kl).toBeNaN();
    expect(r.result.panels[0].note).toBe('phi head untrained');
    expect(servedDataset(r.result, ['demo', 'other'])).toEqual({ id: 'demo', why: null });
    expect(servedDataset(r.result, ['other']).why).toMatch(/"\/tmp\/x\/demo\/" is not one the server serves \(it serves other\)/);
    expect(servedDataset({ data: 'C:\\data\\demo' }, ['demo']).id).toBe('demo');
    expect(servedDataset({}, ['demo']).why).toMatch(/names no dataset/);
  });

  test('errors name the field', () => {
    const errs = (f: unknown) => {
      const r = parseTsneJson(typeof f === 'string' ? f : JSON.stringify(f));
      return r.ok ? [] : r.errors;
    };
    expect(errs('{"panels": [')[0]).toMatch(/^\(root\): not valid JSON/);
    let f = good();
    f.points[3].episode = 'one';
    expect(errs(f)).toEqual([expect.stringMatching(/^points\.3\.episode: must be a number/)]);
    f = good();
    (f.panels[0].x as number[]).pop();
    expect(errs(f)).toEqual(['panels.0.x: has 23 points for 24 chunks']);
    f = good();
    (f.panels[0].metrics as { task: { embedding: { knn: { accuracy: number } } } }).task.embedding.knn.accuracy = 1.5;
    expect(errs(f)).toEqual(['panels.0.metrics.task.embedding.knn.accuracy: must be in [0, 1]']);
    f = good();
    (f.panels[0].metrics as { phase: { tsne: { silhouette: string } } }).phase.tsne.silhouette = 'high';
    expect(errs(f)).toEqual(['panels.0.metrics.phase.tsne.silhouette: must be a number or null']);
    f = good();
    delete f.tasks;
    f.feature = 'psi';
    expect(errs(f).sort()).toEqual(['feature: must be "phi" or "hidden"', 'tasks: must be an array of instructions']);
    expect(errs({ panels: [], points: [], tasks: [] })).toEqual(['panels: must hold at least one panel', 'points: must hold at least one point']);
    // The job's result goes through the same checks.
    expect(() => parseTsneResult({ panels: [{ label: 'x', x: [1], y: [1, 2], kl: 0 }], points: [{ episode: 0, t: 0, task: 0, instruction: 'a', phase: null }], tasks: [] })).toThrow(/malformed result: panels\.0\.y: has 2 points for 1 chunks/);
  });

  test('a served dataset of the same name but other episodes is not used for frames', () => {
    const eps = [0, 1, 2, 3].map((e) => ({ length: 12, tasks: [e % 2 ? 'lift the red block' : 'push the blue block'] }));
    expect(datasetMismatch(POINTS, eps, 'demo')).toBeNull();
    expect(datasetMismatch(POINTS, eps.slice(0, 2), 'demo')).toMatch(/has no episode 2 \(it has 2\)/);
    expect(datasetMismatch(POINTS, eps.map((e) => ({ ...e, length: 8 })), 'demo')).toMatch(/episode 0 .* has 8 frames, the file has a chunk at t = 8/);
    expect(datasetMismatch(POINTS, [...eps].reverse(), 'demo')).toMatch(/episode 0 .* is "lift the red block", the file says "push the blue block"/);
  });
});

describe('comparing checkpoints', () => {
  test('best cell: strictly highest finite value of two or more', () => {
    expect(bestPanel([0.5, 0.2])).toBe(0);
    expect(bestPanel([-0.3, 0.1])).toBe(1);
    expect(bestPanel([0.4, 0.4])).toBeNull();
    // Equal as shown (2 decimals) is a tie.
    expect(bestPanel([0.401, 0.399])).toBeNull();
    expect(bestPanel([NaN, 0.4])).toBeNull();
    expect(bestPanel([0.4])).toBeNull();
  });
  test('the verdict is on the embedding, not the map, and needs metrics in both panels', () => {
    const r = parseTsneResult(jobResult([tsnePanel('A', mixed, 3, mapOf(separated), 0, POINTS), tsnePanel('B', separated, 3, mapOf(mixed), 0, POINTS)]));
    // A's map separates tasks perfectly but its phi does not: B wins.
    expect(metricValue(r.panels[0].metrics!, 'task', 'knnMap')).toBe(1);
    expect(betterPanel(r.panels, 'task')?.index).toBe(1);
    expect(betterPanel([r.panels[0], { ...r.panels[1], metrics: undefined }], 'task')).toBeNull();
  });
  test('phase groups are named from the result\'s phase list', () => {
    expect(groupPoints(POINTS.slice(0, 6), 'phase', ['reach', 'lift']).map((g) => g.label)).toEqual(['phase 0 · reach', 'phase 1 · lift']);
  });
});
