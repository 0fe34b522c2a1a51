import { describe, expect, test } from 'vitest';
import { newcombeDifference } from '../../../src/train/intervals';
import { compareResults, renderComparisonMarkdown } from '../../../src/train/eval-compare';
import type { EvalAxis } from '../../../src/train/eval-plan';
import { renderMarkdown } from '../../../src/train/eval-report';
import { parseResults, RESULTS_SCHEMA, summarize, type EpisodeResult, type EvalResults } from '../../../src/train/eval-results';

/** Synthetic results: `wins[task][axis]` successes out of `n` episodes per cell. */
function results(policy: string, wins: Record<string, Partial<Record<EvalAxis, number>>>, n = 10): EvalResults {
  const episodes: EpisodeResult[] = [];
  const axes = new Set<EvalAxis>();
  for (const [taskId, byAxis] of Object.entries(wins)) {
    for (const [axis, k] of Object.entries(byAxis) as Array<[EvalAxis, number]>) {
      axes.add(axis);
      for (let s = 0; s < n; s++) {
        episodes.push({
          index: episodes.length,
          suite: taskId.split('/')[0] as EpisodeResult['suite'],
          taskId,
          initState: s,
          perturbation: axis,
          seed: s,
          instruction: 'x',
          perturbationRecord: null,
          success: s < k,
          steps: 100,
          maxSteps: 300,
          finalStateHash: '0',
          policyIssues: 0,
        });
      }
    }
  }
  const { cells, aggregates } = summarize(episodes, [{ taskId: 'goal/a', initState: 9, perturbation: 'position_swap', reason: 'needs two graspable objects' }]);
  return {
    schema: RESULTS_SCHEMA,
    policy,
    chunkSize: 8,
    executeSteps: 4,
    policyDiagnostics: {},
    config: { suites: ['spatial', 'goal'], tasks: Object.keys(wins), initStates: Array.from({ length: n }, (_, i) => i), perturbations: [...axes], seed: 0, envsPerBatch: 16, maxSteps: null, camera: null, level: 0.95 },
    cells,
    aggregates,
    episodes,
    skipped: [],
    timing: { seconds: 1, envSteps: 1, envStepsPerS: 1, actCalls: 1 },
  };
}

const crl = results('crl', { 'spatial/a': { nominal: 9, position_swap: 6 }, 'goal/a': { nominal: 10, position_swap: 5 } });
const base = results('no-crl', { 'spatial/a': { nominal: 9, position_swap: 2 }, 'goal/a': { nominal: 9, position_swap: 1 } });

describe('result summaries', () => {
  test('pooled aggregates per suite, per axis and overall; skipped episodes counted in their cell', () => {
    const agg = (s: string, p: string) => crl.aggregates.find((a) => a.suite === s && a.perturbation === p)!;
    expect([agg('spatial', 'nominal').successes, agg('spatial', 'nominal').n]).toEqual([9, 10]);
    expect([agg('all', 'position_swap').successes, agg('all', 'position_swap').n]).toEqual([11, 20]);
    expect([agg('goal', 'all').successes, agg('goal', 'all').n]).toEqual([15, 20]);
    expect([agg('all', 'all').successes, agg('all', 'all').n]).toEqual([30, 40]);
    expect(crl.cells.find((c) => c.taskId === 'goal/a' && c.perturbation === 'position_swap')!.skipped).toBe(1);
  });

  test('markdown table: suites x axes with counts, rates and intervals', () => {
    const md = renderMarkdown(crl, { perTask: true });
    expect(md).toContain('| suite | nominal | position_swap | all |');
    expect(md).toContain('| spatial | 9/10 = 90.0 [59.6, 98.2] | 6/10 = 60.0 [31.3, 83.2] | 15/20 = 75.0 [53.1, 88.8] |');
    expect(md).toContain('| all | 19/20 = 95.0');
    expect(md).toContain('| goal/a | 10/10 = 100.0 [72.2, 100.0] | 5/10 = 50.0');
  });

  test('comparison uses Newcombe intervals and flags differences that exclude zero', () => {
    const c = compareResults(crl, base);
    expect(c.warnings).toEqual([]);
    const row = c.rows.find((r) => r.suite === 'all' && r.perturbation === 'position_swap')!;
    const d = newcombeDifference(11, 20, 3, 20);
    expect([row.diff, row.lo, row.hi]).toEqual([d.estimate, d.lo, d.hi]);
    expect(row.significant).toBe(d.lo > 0);
    expect(row.significant).toBe(true);
    const nominal = c.rows.find((r) => r.suite === 'all' && r.perturbation === 'nominal')!;
    expect(nominal.significant).toBe(false);
    const md = renderComparisonMarkdown(c, { a: 'CRL', b: 'no CRL' });
    expect(md).toContain('| suite | axis | CRL | no CRL | difference (95% Newcombe) |');
    expect(md).toMatch(/\| all \| position_swap \| 11\/20 = 55\.0 .* \| 3\/20 = 15\.0 .* \| \+40\.0 \[.*\] \* \|/);
    const other = { ...base, config: { ...base.config, seed: 1 } };
    expect(compareResults(crl, other).warnings).toEqual(['config.seed differs: 0 vs 1']);
    expect(compareResults(crl, base, { perTask: true }).rows.filter((r) => r.taskId === 'goal/a')).toHaveLength(2);
  });

  test('parseResults accepts a round-tripped file and names the bad field otherwise', () => {
    expect(parseResults(JSON.parse(JSON.stringify(crl)))).toEqual(crl);
    expect(() => parseResults({ ...crl, schema: 'v0' }, 'a.json')).toThrow(/a\.json: eval results: field 'schema' must be 'prts-workbench\/eval-results@1'/);
    const bad = JSON.parse(JSON.stringify(crl));
    delete bad.cells[1].n;
    expect(() => parseResults(bad)).toThrow(/field 'cells\[1\]\.n' must be a number/);
  });
});
