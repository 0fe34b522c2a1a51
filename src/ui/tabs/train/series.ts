/**
 * How the Train tab plots a job's scalar series: loss terms together on one axis (log or
 * linear), and every other quantity (temperature, learning rate, gradient norm, InfoNCE
 * accuracy) on an axis of its own below, since their scales have nothing to do with the
 * losses' (a temperature of 0.2 next to a loss of 8 on a log axis reads as noise).
 * Pure: unit-tested in tests/unit/ui/train-prts.test.ts.
 */
import type { Data, Layout } from 'plotly.js-dist-min';

/** Series that are not losses, in the order their panels are stacked. */
export const DIAGNOSTICS = ['temperature', 'accuracy', 'grounding acc', 'grad norm', 'lr'] as const;

/** Axis titles (short: a panel is ~100 px tall). */
const TITLES: Record<string, string> = {
  temperature: 'temperature',
  accuracy: 'InfoNCE acc',
  'grounding acc': 'grounding acc',
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

/** A tick label that reads as the number itself: 6, 10, 20, 0.5, 2e-4. */
export function tickLabel(v: number): string {
  const r = Number(v.toPrecision(3));
  if (r !== 0 && (Math.abs(r) < 1e-3 || Math.abs(r) >= 1e5)) return r.toExponential().replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(r);
}

const MAX_TICKS = 12;

/**
 * Ticks for a log axis from `lo` to `hi` at 1-9 (or 1, 2, 5, or 1) times each power of
 * ten, labelled with their values. Plotly's own labels on a log axis that spans about a
 * decade are the bare leading digits ("6 7 8 9 1 2"), which read as a sequence that
 * wraps around. Null when plotly's defaults are fine (no positive range, or under two ticks).
 */
export function logTicks(lo: number, hi: number): { tickvals: number[]; ticktext: string[] } | null {
  if (!(lo > 0) || !(hi > lo) || !Number.isFinite(hi)) return null;
  const k0 = Math.floor(Math.log10(lo));
  const k1 = Math.ceil(Math.log10(hi));
  const at = (ms: readonly number[]) => {
    const out: number[] = [];
    for (let k = k0; k <= k1; k++) for (const m of ms) {
      const v = Number((m * 10 ** k).toPrecision(12));
      if (v >= lo && v <= hi) out.push(v);
    }
    return out;
  };
  const vals = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 5], [1]].map(at).find((v) => v.length <= MAX_TICKS) ?? [];
  if (vals.length < 2) return null;
  return { tickvals: vals, ticktext: vals.map(tickLabel) };
}

function positiveExtent(series: Record<string, number[]>, names: readonly string[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const n of names) for (const v of series[n] ?? []) {
    if (v > 0 && Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

export function lossPlot(steps: number[], series: Record<string, number[]>, names: readonly string[], logScale: boolean): { data: Data[]; layout: Layout } {
  const ext = logScale ? positiveExtent(series, names) : null;
  const ticks = ext ? logTicks(ext[0], ext[1]) : null;
  return {
    data: names.map((name) => ({ type: 'scatter', mode: 'lines', name, x: steps, y: series[name], line: lineOf(name) }) as Data),
    layout: {
      xaxis: { title: { text: 'step' }, gridcolor: '#eee' },
      yaxis: { type: logScale ? 'log' : 'linear', gridcolor: '#eee', title: { text: 'loss' }, ...(ticks ? { tickmode: 'array', ...ticks } : {}) },
    } as Layout,
  };
}

/** Smallest height of a diagnostics panel, as a share of the series' value. */
export const MIN_SPAN_REL = 0.05;

/**
 * A fixed y range for a series that barely moves, or null to let plotly autoscale.
 * Autoscaling stretches any range to the full panel, so a temperature drifting by 0.0008
 * around 0.2 looked like a swing; a span of at least MIN_SPAN_REL of the value shows it
 * as the flat line it is.
 */
export function minSpanRange(values: readonly number[], rel = MIN_SPAN_REL): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return null;
  const mid = (lo + hi) / 2;
  const span = rel * Math.abs(mid);
  if (span === 0 || hi - lo >= span) return null;
  return [mid - span / 2, mid + span / 2];
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
    const range = minSpanRange(series[name] ?? []);
    layout[key] = {
      domain: [bottom + (i === n - 1 ? 0 : gap / 2), top - (i === 0 ? 0 : gap / 2)],
      gridcolor: '#eee',
      title: { text: TITLES[name] ?? name, font: { size: 10 } },
      ...(name === 'lr' ? { exponentformat: 'e' } : {}),
      ...(range ? { range, autorange: false } : { autorange: true }),
    };
    return { type: 'scatter', mode: 'lines', name, x: steps, y: series[name], xaxis: 'x', yaxis: i === 0 ? 'y' : `y${i + 1}`, line: { width: 1.5, color: '#57606a' } } as Data;
  });
  return { data, layout: layout as Layout, height: 40 + 110 * Math.max(1, n) };
}
