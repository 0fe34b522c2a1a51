/**
 * `npm run tsne` (src/analysis/cli/tsne.ts): the pure helpers, then the CLI end to end on a
 * tiny on-disk dataset (3 tasks x 2 episodes, 4x4 camera, phase annotations) with two tiny
 * checkpoints (lambda_crl 1 and 0, two steps each) built here.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCheckpoints, panelMetrics, tsneFigureSvg, untrainedNote, type CheckpointSummary } from '../../../src/analysis/cli/tsne-lib';
import { LeRobotReader } from '../../../src/data/index.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { saveCheckpoint } from '../../../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../../../src/train/checkpoint-node.ts';
import { Pretrainer } from '../../../src/train/pretrain.ts';
import { tinyConfig } from '../train/pretrain.helpers.ts';
import { parseTsneJson } from '../../../src/ui/tabs/embeddings/result.ts';
import { npmRun } from '../cli/npm-run.ts';
import { TINY_TASKS, writeTinyDataset } from '../train/tiny-dataset.ts';

const CK: CheckpointSummary = { dir: 'a', cameras: ['agentview'], chunkLength: 4, lambdaCrl: 1, paramNames: ['crl.phi.w1', 'crl.phi.b1', 'crl.phi.w2'] };

describe('tsne CLI helpers', () => {
  it('rejects checkpoints that cannot give the same phi chunks', () => {
    expect(() => checkCheckpoints([CK, { ...CK, dir: 'b', lambdaCrl: 0 }], ['agentview', 'wrist'])).not.toThrow();
    expect(() => checkCheckpoints([{ ...CK, paramNames: ['crl.phi.w1'] }], ['agentview'])).toThrow(/no CRL phi head .*crl\.phi\.b1, crl\.phi\.w2/);
    expect(() => checkCheckpoints([{ ...CK, cameras: ['wrist'] }], ['agentview'])).toThrow(/camera\(s\) wrist not in the dataset \(it has agentview\)/);
    expect(() => checkCheckpoints([CK, { ...CK, dir: 'b', cameras: ['agentview', 'wrist'] }], ['agentview', 'wrist'])).toThrow(/cameras differ/);
    expect(() => checkCheckpoints([CK, { ...CK, dir: 'b', chunkLength: 8 }], ['agentview'])).toThrow(/chunk lengths differ: a has 4, b has 8/);
  });

  it('says when phi is untrained', () => {
    expect(untrainedNote({ lambdaCrl: 0, step: 200 }, 'phi')?.long).toMatch(/untrained/);
    expect(untrainedNote({ lambdaCrl: 0, step: 200 }, 'hidden')).toBeNull();
    expect(untrainedNote({ lambdaCrl: 1, step: 200 }, 'phi')).toBeNull();
    expect(untrainedNote({ lambdaCrl: 1, step: 0 }, 'phi')?.short).toMatch(/step 0/);
  });

  it('computes task and phase metrics on the embedding and on the map', () => {
    // Two tasks in two far-apart directions, two episodes each; phases alternate.
    const points = Array.from({ length: 8 }, (_, i) => ({ episode: i >> 1, task: (i >> 1) % 2, phase: i % 2 === 0 ? 0 : null }));
    const emb = points.flatMap((p, i) => (p.task === 0 ? [1, 0.01 * i] : [0.01 * i, 1]));
    const xy = points.flatMap((p, i) => [p.task * 10 + 0.1 * i, 0]);
    const m = panelMetrics(emb, 2, xy, points, 1);
    expect(m.task.embedding.knn.accuracy).toBe(1);
    expect(m.task.tsne.knn.accuracy).toBe(1);
    expect(m.task.embedding.silhouette).toBeGreaterThan(0.9);
    expect(m.phase?.embedding.n).toBe(4);
    expect(panelMetrics(emb, 2, xy, points.map((p) => ({ ...p, phase: null })), 1).phase).toBeNull();
  });

  it('draws one panel per checkpoint and row, with escaped legend names', () => {
    const panels = [0, 1].map((c) => ({ label: `ck <${c}>`, note: c ? 'untrained' : null, x: [0, 1, 2, 3], y: [0, 1, 0, c] }));
    const svg = tsneFigureSvg({
      title: 'test',
      panels,
      rows: [
        { name: 'task', labels: [0, 0, 1, 1], names: ['put a & b', 'open'], captions: ['x', 'y'] },
        { name: 'phase', labels: [0, null, 1, 1], names: ['reach', 'grasp'], captions: ['x', 'y'] },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/class="panel" data-row="task"/g)?.length).toBe(2);
    expect(svg.match(/class="panel" data-row="phase"/g)?.length).toBe(2);
    expect(svg).toContain('put a &amp; b');
    expect(svg).toContain('ck &lt;1&gt;');
    expect(svg).toContain('no phase');
    expect(svg.match(/<circle cx="[\d.]+" cy="[\d.]+" r="2.6"\/>/g)?.length).toBe(16);
    expect(svg).not.toMatch(/NaN|undefined/);
  });
});

const TASKS = TINY_TASKS;
const LENGTHS = [9, 10, 8, 9, 10, 8];
const PHASES = ['approach', 'grasp', 'lift', 'place'];
let dir = '';

const writeDataset = (root: string) => writeTinyDataset(root, { repoId: 'prts/tsne-test', lengths: LENGTHS, seed: 9, phases: PHASES });

// The npm script itself, so its wiring is tested too.
const tsneCli = (args: string[]) => npmRun('tsne', args);

describe('npm run tsne end to end', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prts-tsne-'));
    await writeDataset(join(dir, 'data'));
    const reader = await LeRobotReader.open(nodeIO(join(dir, 'data')));
    const rt = await Runtime.create();
    try {
      for (const [name, lambdaCrl] of [['crl', 1], ['nocrl', 0]] as const) {
        const tr = await Pretrainer.create(rt, tinyConfig({ lambdaCrl, steps: 2 }), reader);
        try {
          await tr.step();
          await tr.step();
          await saveCheckpoint(await nodeCheckpointIO(join(dir, name)), await tr.checkpoint());
        } finally {
          tr.dispose();
        }
      }
    } finally {
      rt.destroy();
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the JSON and one SVG panel per checkpoint', () => {
    const out = join(dir, 'tsne.json');
    const svg = join(dir, 'tsne.svg');
    const r = tsneCli(['--checkpoint', `${join(dir, 'crl')},${join(dir, 'nocrl')}`, '--labels', 'w/ CRL,w/o CRL', '--data', join(dir, 'data'), '--stride', '2', '--iterations', '60', '--perplexity', '5', '--k', '3', '--out', out, '--svg', svg]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/embedded \d+\/\d+ chunks/);
    expect(r.stderr).toMatch(/t-SNE .*iteration 60\/60/);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary.panels.map((p: { label: string }) => p.label)).toEqual(['w/ CRL', 'w/o CRL']);

    const j = JSON.parse(readFileSync(out, 'utf8'));
    const n = LENGTHS.reduce((s, l) => s + Math.ceil(l / 2), 0);
    expect(j.chunks).toBe(n);
    expect(j.stride).toBe(2);
    expect(j.tasks).toEqual(TASKS);
    expect(j.phases).toEqual(PHASES);
    expect(j.points).toHaveLength(n);
    for (const p of j.points) {
      expect(p.t % 2).toBe(0);
      expect(p.t).toBeLessThan(LENGTHS[p.episode]);
      expect(p.task).toBe(p.episode % 3);
      expect(p.instruction).toBe(TASKS[p.task]);
      expect(p.phase).toBe(Math.min(3, Math.floor(p.t / 3)));
    }
    expect(j.metricDefinitions.knn).toMatch(/leave-one-episode-out/);
    expect(j.panels).toHaveLength(2);
    for (const p of j.panels) {
      expect(p.x).toHaveLength(n);
      expect(p.y).toHaveLength(n);
      expect([...p.x, ...p.y].every(Number.isFinite)).toBe(true);
      expect(p.embeddingDim).toBe(16);
      for (const row of [p.metrics.task, p.metrics.phase]) {
        for (const m of [row.embedding, row.tsne]) {
          expect(m.knn.k).toBe(3);
          expect(m.knn.accuracy).toBeGreaterThanOrEqual(0);
          expect(m.knn.accuracy).toBeLessThanOrEqual(1);
          expect(m.silhouette).toBeGreaterThanOrEqual(-1);
          expect(m.silhouette).toBeLessThanOrEqual(1);
          expect(m.n).toBe(n);
        }
      }
    }
    expect(j.panels[0].lambdaCrl).toBe(1);
    expect(j.panels[0].note).toBeNull();
    expect(j.panels[1].note).toMatch(/lambda_crl = 0: the phi head is untrained/);
    expect(r.stderr).toMatch(/note: .*nocrl: lambda_crl = 0/);
    // The Embeddings tab's "Load t-SNE JSON" reads the file as written.
    const loaded = parseTsneJson(readFileSync(out, 'utf8'));
    expect(loaded.ok ? loaded.result.panels.map((p) => p.metrics?.phase?.embedding) : loaded.errors).toEqual(j.panels.map((p: { metrics: { phase: { embedding: unknown } } }) => p.metrics.phase.embedding));

    const s = readFileSync(svg, 'utf8');
    expect(s.match(/class="panel" data-row="task"/g)?.length).toBe(2);
    expect(s.match(/class="panel" data-row="phase"/g)?.length).toBe(2);
    for (const t of TASKS) expect(s).toContain(t);
    expect(s).toContain('w/o CRL');
  });

  it('embeds the hidden state in one joint t-SNE space on request', () => {
    const out = join(dir, 'joint.json');
    const svg = join(dir, 'joint.svg');
    const r = tsneCli(['--checkpoint', `${join(dir, 'crl')},${join(dir, 'nocrl')}`, '--data', join(dir, 'data'), '--episodes', '0-3', '--feature', 'hidden', '--space', 'joint', '--rows', 'task', '--iterations', '40', '--perplexity', '4', '--out', out, '--svg', svg]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/t-SNE joint/);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.episodes).toEqual([0, 1, 2, 3]);
    // Default stride: the chunk length (4), non-overlapping chunks as in the paper.
    expect(j.stride).toBe(4);
    expect(j.points).toHaveLength([9, 10, 8, 9].reduce((s, l) => s + Math.ceil(l / 4), 0));
    expect(j.panels.map((p: { embeddingDim: number }) => p.embeddingDim)).toEqual([32, 32]);
    // The phi head is not what is plotted, so lambda_crl = 0 needs no warning.
    expect(j.panels[1].note).toBeNull();
    const s = readFileSync(svg, 'utf8');
    expect(s.match(/class="panel" data-row="task"/g)?.length).toBe(2);
    expect(s).not.toContain('data-row="phase"');
  });

  it('names the problem for bad input', () => {
    const data = join(dir, 'data');
    const missing = join(dir, 'no-such-run');
    let r = tsneCli(['--checkpoint', missing, '--data', data, '--out', join(dir, 'x.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--checkpoint ${missing}: no such directory`);
    expect(existsSync(missing)).toBe(false);
    r = tsneCli(['--checkpoint', data, '--data', data, '--out', join(dir, 'x.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a checkpoint or run directory/);
    r = tsneCli(['--checkpoint', join(dir, 'crl'), '--data', data, '--episodes', '4-9', '--out', join(dir, 'x.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/episode 6 does not exist \(dataset has 6 episodes\)/);
    r = tsneCli(['--checkpoint', join(dir, 'crl'), '--labels', 'a,b', '--data', data, '--out', join(dir, 'x.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--labels has 2 names for 1 checkpoints/);
    r = tsneCli(['--checkpoint', join(dir, 'crl'), '--data', data, '--feature', 'psi', '--out', join(dir, 'x.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--feature must be one of phi, hidden/);
    expect(existsSync(join(dir, 'x.json'))).toBe(false);
  });
});
