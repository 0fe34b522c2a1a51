/**
 * How the Train tab plots a job's scalar series: loss terms together on one axis (log or
 * linear), and every other quantity (temperature, learning rate, gradient norm, InfoNCE
 * accuracy) on an axis of its own below, since their scales have nothing to do with the
 * losses' (a temperature of 0.2 next to a loss of 8 on a log axis reads as noise).
 * Pure: unit-tested in tests/unit/ui/train-prts.test.ts.
 */
import type { Data, Layout } from 'plotly.js-dist-min';

/** Series that are not losses, in the order their panels are stacked. */
export const DIAGNOSTICS = ['temperature', 'accuracy', 'grad norm', 'lr'] as const;

/** Axis titles (short: a panel is ~100 px tall). */
const TITLES: Record<string, string> = {
  temperature: 'temperature',
  accuracy: 'InfoNCE acc',
  'grad norm': '|g|',
  lr: 'lr',
};

export function splitSeries(names: readonly string[]): { losses: string[]; diagnostics: string[] } {
  const diag = new Set<string>(DIAGNOSTICS);
  return {
    losses: names.filter((n) => !diag.has(n)),
    diagnostics: DIAGNOSTICS.filter((n) => names.includes(n)),
  };
}

/** Dotted lines for reference curves (the l->sa entropy floor) so they read as bounds, not losses. */
function lineOf(name: string): Record<string, unknown> {
  return name.endsWith(' floor') ? { width: 1, dash: 'dot' } : { width: 1.5 };
}

export function lossPlot(steps: number[], series: Record<string, number[]>, names: readonly string[], logScale: boolean): { data: Data[]; layout: Layout } {
  return {
    data: names.map((name) => ({ type: 'scatter', mode: 'lines', name, x: steps, y: series[name], line: lineOf(name) }) as Data),
    layout: {
      xaxis: { title: { text: 'step' }, gridcolor: '#eee' },
      yaxis: { type: logScale ? 'log' : 'linear', gridcolor: '#eee', title: { text: 'loss' } },
    } as Layout,
  };
}

/** One stacked panel per diagnostic, sharing the step axis. */
export function diagnosticsPlot(steps: number[], series: Record<string, number[]>, names: readonly string[]): { data: Data[]; layout: Layout; height: number } {
  const n = names.length;
  const gap = n > 1 ? 0.06 : 0;
  const layout: Record<string, unknown> = {
    xaxis: { title: { text: 'step' }, gridcolor: '#eee', anchor: n ? `y${n > 1 ? n : ''}` : 'y' },
    showlegend: false,
    // Room for tick labels such as 0.20015 next to the axis title.
    margin: { l: 78, r: 10, t: 10, b: 36 },
  };
  const data: Data[] = names.map((name, i) => {
    const key = i === 0 ? 'yaxis' : `yaxis${i + 1}`;
    const top = 1 - i / n;
    const bottom = 1 - (i + 1) / n;
    layout[key] = { domain: [bottom + (i === n - 1 ? 0 : gap / 2), top - (i === 0 ? 0 : gap / 2)], gridcolor: '#eee', title: { text: TITLES[name] ?? name, font: { size: 10 } }, ...(name === 'lr' ? { exponentformat: 'e' } : {}) };
    return { type: 'scatter', mode: 'lines', name, x: steps, y: series[name], xaxis: 'x', yaxis: i === 0 ? 'y' : `y${i + 1}`, line: { width: 1.5, color: '#57606a' } } as Data;
  });
  return { data, layout: layout as Layout, height: 40 + 110 * Math.max(1, n) };
}
