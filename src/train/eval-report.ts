/**
 * Markdown for docs/results.md (eval.ts): suites x axes and tasks x axes tables of an
 * evaluation's success rates, and the one-line summary of a policy's diagnostics.
 * Separate from the results because it is presentation only: it reads EvalResults and
 * computes nothing new.
 */
import { SUITES, type Suite } from '../sim/index';
import { EVAL_AXES, type EvalAxis } from './eval-plan';
import type { EvalResults, RateSummary } from './eval-results';

/** One line for a policy's diagnostics: its counters and last problem, e.g. "arFailures 3, lastFailure ...". */
export function describeDiagnostics(d: Record<string, unknown> | undefined): string {
  if (!d) return 'no diagnostics';
  const parts = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && (typeof v === 'number' || typeof v === 'string'))
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'no diagnostics';
}

/** A fraction as a percentage with one decimal. */
export const pct = (x: number) => (100 * x).toFixed(1);
/** A rate as "successes/n = % [lo, hi]", percentages to one decimal. */
export const cellText = (r: RateSummary) => `${r.successes}/${r.n} = ${pct(r.rate)} [${pct(r.lo)}, ${pct(r.hi)}]`;

function axesOf(results: EvalResults): Array<EvalAxis | 'all'> {
  const axes: Array<EvalAxis | 'all'> = EVAL_AXES.filter((a) => results.config.perturbations.includes(a));
  if (results.aggregates.some((a) => a.perturbation === 'all')) axes.push('all');
  return axes;
}

/**
 * Markdown tables for docs/results.md: suites x axes (success/n = % [Wilson CI]) and,
 * with perTask, tasks x axes.
 */
export function renderMarkdown(results: EvalResults, opts: { perTask?: boolean; title?: string } = {}): string {
  const axes = axesOf(results);
  const lines: string[] = [];
  const lvl = Math.round(results.config.level * 100);
  lines.push(`### ${opts.title ?? `Policy \`${results.policy}\``}`, '');
  lines.push(
    `Success rate, % [${lvl}% Wilson interval]; ${results.config.initStates.length} initial states per task, seed ${results.config.seed}, chunk ${results.chunkSize} (execute ${results.executeSteps}).`,
    '',
  );
  lines.push(`| suite | ${axes.join(' | ')} |`, `|---|${axes.map(() => '---').join('|')}|`);
  const rows: Array<Suite | 'all'> = [...SUITES.filter((s) => results.config.suites.includes(s))];
  if (results.aggregates.some((a) => a.suite === 'all')) rows.push('all');
  for (const s of rows) {
    const cells = axes.map((a) => {
      const g = results.aggregates.find((x) => x.suite === s && x.perturbation === a);
      return g ? cellText(g) : '-';
    });
    lines.push(`| ${s} | ${cells.join(' | ')} |`);
  }
  if (opts.perTask) {
    const taskAxes = axes.filter((a): a is EvalAxis => a !== 'all');
    lines.push('', `| task | ${taskAxes.join(' | ')} |`, `|---|${taskAxes.map(() => '---').join('|')}|`);
    for (const t of results.config.tasks) {
      const cells = taskAxes.map((a) => {
        const c = results.cells.find((x) => x.taskId === t && x.perturbation === a);
        return c ? cellText(c) : '-';
      });
      lines.push(`| ${t} | ${cells.join(' | ')} |`);
    }
  }
  if (results.skipped.length) lines.push('', `${results.skipped.length} episode(s) skipped: the axis does not apply to the scene (see \`skipped\` in the JSON).`);
  const troubled = results.episodes.filter((e) => (e.policyIssues ?? 0) > 0);
  if (troubled.length) {
    const n = troubled.reduce((a, e) => a + e.policyIssues, 0);
    lines.push('', `Policy problems: ${n} in ${troubled.length} of ${results.episodes.length} episodes (${describeDiagnostics(results.policyDiagnostics)}).`);
  }
  return lines.join('\n') + '\n';
}
