/**
 * Comparison of two evaluations (eval.ts), e.g. CRL vs no-CRL: the difference of every
 * shared aggregate and cell with Newcombe's interval, warnings where the two configs make
 * the comparison unfair, and its markdown table. Separate from the single-run report
 * because it is its own statistic (a difference of rates) over two result sets.
 */
import { newcombeDifference } from './intervals';
import type { Suite } from '../sim/index';
import type { EvalAxis } from './eval-plan';
import { rate, type EvalResults, type RateSummary } from './eval-results';
import { cellText, pct } from './eval-report';

export interface ComparisonRow {
  suite: Suite | 'all';
  perturbation: EvalAxis | 'all';
  /** Task id for per-task rows, null for aggregates. */
  taskId: string | null;
  a: RateSummary;
  b: RateSummary;
  /** a.rate - b.rate with Newcombe's hybrid score interval. */
  diff: number;
  lo: number;
  hi: number;
  /** The interval excludes zero. */
  significant: boolean;
}

export interface Comparison {
  a: string;
  b: string;
  level: number;
  rows: ComparisonRow[];
  /** Differences in the evaluation configs that make the comparison unfair. */
  warnings: string[];
}

/**
 * Compares two result sets (e.g. CRL vs no-CRL) on every aggregate and cell both
 * contain. Newcombe's interval treats the two rates as independent; with the same seed
 * the episodes are paired (same states and perturbations), which makes it conservative.
 */
export function compareResults(a: EvalResults, b: EvalResults, opts: { level?: number; perTask?: boolean } = {}): Comparison {
  const level = opts.level ?? a.config.level;
  const warnings: string[] = [];
  const same = (f: keyof EvalResults['config']) => JSON.stringify(a.config[f]) === JSON.stringify(b.config[f]);
  for (const f of ['seed', 'initStates', 'tasks', 'perturbations', 'maxSteps'] as const) {
    if (!same(f)) warnings.push(`config.${f} differs: ${JSON.stringify(a.config[f])} vs ${JSON.stringify(b.config[f])}`);
  }
  if (a.executeSteps !== b.executeSteps) warnings.push(`executeSteps differs: ${a.executeSteps} vs ${b.executeSteps}`);
  const row = (ra: RateSummary, rb: RateSummary, suite: Suite | 'all', perturbation: EvalAxis | 'all', taskId: string | null): ComparisonRow => {
    const d = newcombeDifference(ra.successes, ra.n, rb.successes, rb.n, level);
    const pick = (r: RateSummary) => ({ ...rate(r.successes, r.n, level) });
    return { suite, perturbation, taskId, a: pick(ra), b: pick(rb), diff: d.estimate, lo: d.lo, hi: d.hi, significant: d.lo > 0 || d.hi < 0 };
  };
  const rows: ComparisonRow[] = [];
  for (const x of a.aggregates) {
    const y = b.aggregates.find((g) => g.suite === x.suite && g.perturbation === x.perturbation);
    if (y) rows.push(row(x, y, x.suite, x.perturbation, null));
  }
  if (opts.perTask) {
    for (const x of a.cells) {
      const y = b.cells.find((c) => c.taskId === x.taskId && c.perturbation === x.perturbation);
      if (y) rows.push(row(x, y, x.suite, x.perturbation, x.taskId));
    }
  }
  if (rows.length === 0) warnings.push('the two result sets share no (suite, axis) aggregate');
  return { a: a.policy, b: b.policy, level, rows, warnings };
}

export function renderComparisonMarkdown(c: Comparison, labels: { a?: string; b?: string } = {}): string {
  const la = labels.a ?? c.a;
  const lb = labels.b ?? c.b;
  const lvl = Math.round(c.level * 100);
  const lines = [
    `| suite | axis | ${la} | ${lb} | difference (${lvl}% Newcombe) |`,
    '|---|---|---|---|---|',
    ...c.rows.map(
      (r) =>
        `| ${r.taskId ?? r.suite} | ${r.perturbation} | ${cellText(r.a)} | ${cellText(r.b)} | ${r.diff >= 0 ? '+' : ''}${pct(r.diff)} [${pct(r.lo)}, ${pct(r.hi)}]${r.significant ? ' *' : ''} |`,
    ),
  ];
  lines.push('', `\\* the ${lvl}% interval of the difference excludes zero.`);
  for (const w of c.warnings) lines.push('', `Warning: ${w}`);
  return lines.join('\n') + '\n';
}
