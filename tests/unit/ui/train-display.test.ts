/** What the Train tab shows: preselected choices, the Start blocker, plot axes, sizes. */
import { expect, test } from 'vitest';
import { PRESETS, validateConfig } from '../../../src/model/config.ts';
import { formatBytes } from '../../../src/ui/lib/format.ts';
import { blockerText, posttrainForm, pretrainForm, type FormContext } from '../../../src/ui/tabs/train/prtsJobs.ts';
import { diagnosticsPlot, logTicks, lossPlot, minSpanRange } from '../../../src/ui/tabs/train/series.ts';
import type { RunSummary } from '../../../worker/jobs/runs.ts';

const ctx = (o: Partial<FormContext> = {}): FormContext => ({ datasets: ['only'], runs: [], config: validateConfig(PRESETS.tiny), ...o });

test('with one server dataset the pre-training form opens with it chosen and ready to start', () => {
  const f = pretrainForm({ mode: 'new', dataset: '', steps: 10, name: '', run: '' }, 50, ctx());
  expect(f.errors).toEqual({});
  expect(f.chosen.dataset).toBe('only');
  expect(f.spec?.params).toMatchObject({ dataset: 'only', name: 'tiny-only' });
  // Two datasets: the user chooses.
  expect(pretrainForm({ mode: 'new', dataset: '', steps: 10, name: '', run: '' }, 50, ctx({ datasets: ['a', 'b'] })).errors.dataset).toBe('choose a server dataset');
});

test('with one pre-training run the post-training form preselects it as the source', () => {
  const run: RunSummary = { name: 'r1', createdAt: 0, dataset: 'only', kind: 'pretrain', steps: 5, withCrl: true, lambdaCrl: 0.1, bytes: 1 };
  const f = posttrainForm({ mode: 'new', source: '', dataset: '', steps: 5, seed: 0, freezeBackbone: false, name: '', run: '' }, 0, ctx({ runs: [run] }));
  expect(f.errors).toEqual({});
  expect(f.chosen.source).toBe('r1');
  expect(f.spec?.params).toMatchObject({ source: 'r1', dataset: 'only', name: 'r1-post' });
});

test('the Start blocker points up at the marked fields and names them', () => {
  const t = blockerText({ dataset: 'choose a server dataset', checkpointEvery: 'bad' })!;
  expect(t).not.toMatch(/below/);
  expect(t).toBe('fix the fields marked above (dataset, save every)');
  expect(blockerText({})).toBeNull();
});

test('log-axis ticks read as values (6, 7, 8, 9, 10, 20), not as wrapped digits', () => {
  expect(logTicks(5.5, 25)?.ticktext).toEqual(['6', '7', '8', '9', '10', '20']);
  expect(logTicks(0.05, 3)?.ticktext).toEqual(['0.05', '0.1', '0.2', '0.5', '1', '2']);
  expect(logTicks(1e-4, 100)?.ticktext).toEqual(['1e-4', '0.001', '0.01', '0.1', '1', '10', '100']);
  expect(logTicks(6.1, 6.5)).toBeNull();
  const y = lossPlot([1, 2, 3], { bc: [25, 9, 5.5] }, ['bc'], true).layout.yaxis as { tickvals?: number[]; ticktext?: string[] };
  expect(y.ticktext).toEqual(['6', '7', '8', '9', '10', '20']);
  expect((lossPlot([1], { bc: [25] }, ['bc'], false).layout.yaxis as { tickvals?: number[] }).tickvals).toBeUndefined();
});

test('a barely moving diagnostic keeps a span relative to its value instead of filling the panel', () => {
  const temp = [0.2, 0.2004, 0.2008];
  const r = minSpanRange(temp)!;
  expect(r[1] - r[0]).toBeCloseTo(0.05 * 0.2004, 6);
  expect(r[0]).toBeLessThan(0.2);
  expect(r[1]).toBeGreaterThan(0.2008);
  expect(minSpanRange([0.1, 0.9])).toBeNull();
  expect(minSpanRange([0, 0])).toBeNull();
  const d = diagnosticsPlot([1, 2, 3], { temperature: temp, accuracy: [0.1, 0.5, 0.9] }, ['temperature', 'accuracy']);
  const l = d.layout as unknown as Record<string, { range?: number[]; autorange?: boolean }>;
  expect(l.yaxis.range).toEqual(r);
  expect(l.yaxis2.autorange).toBe(true);
});

test('sizes use one convention, the decimal units of the job logs', () => {
  expect(formatBytes(2_340_000)).toBe('2.34 MB');
  expect(formatBytes(999)).toBe('999 B');
  expect(formatBytes(256 * 1024 * 1024)).toBe('268 MB');
  expect(formatBytes(1.5e9)).toBe('1.50 GB');
});
