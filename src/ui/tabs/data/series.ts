/**
 * How the Data tab turns a numeric column into plotted series: channel names, angle
 * unwrapping and a layout that lines every stacked plot up under the shared cursor.
 * Pure (unit-tested in tests/unit/ui/data-series.test.ts).
 */
import type { FeatureSpec } from '../../../data/types.ts';

/** Channel names from the feature's `names` (a list, or LeRobot's {motors: [...]}), else key[i]. */
export function dimNames(feature: FeatureSpec | undefined, key: string, dim: number): string[] {
  const names = feature?.names;
  if (Array.isArray(names) && names.length === dim) return names;
  if (names && !Array.isArray(names)) {
    const first = Object.values(names)[0];
    if (Array.isArray(first) && first.length === dim) return first;
  }
  return Array.from({ length: dim }, (_, i) => `${key}[${i}]`);
}

const SLACK = 1e-3;

/**
 * The channel with its ±π wraps removed, or null when it is not a wrapped angle: every
 * value within [-π, π] and at least one step of more than π between frames, which no
 * real motion at the dataset's rate makes but a wrap from +π to -π does. Plotted raw, a
 * yaw near π reads as a jump of 2π.
 */
export function unwrapAngle(values: ArrayLike<number>): number[] | null {
  const n = values.length;
  let wrapped = false;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || Math.abs(v) > Math.PI + SLACK) return null;
    if (i > 0 && Math.abs(v - values[i - 1]) > Math.PI) wrapped = true;
  }
  if (!wrapped) return null;
  const out = new Array<number>(n);
  let offset = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      const d = values[i] - values[i - 1];
      if (d > Math.PI) offset -= 2 * Math.PI;
      else if (d < -Math.PI) offset += 2 * Math.PI;
    }
    out[i] = values[i] + offset;
  }
  return out;
}

export interface PlotSeries {
  name: string;
  y: number[];
  /** The raw values wrapped at ±π and are shown unwrapped. */
  unwrapped: boolean;
}

/** Splits a flat [length x dim] column into one series per channel, angles unwrapped. */
export function channelSeries(data: ArrayLike<number | bigint>, length: number, names: readonly string[]): PlotSeries[] {
  const dim = names.length;
  return names.map((name, d) => {
    const raw = Array.from({ length }, (_, i) => Number(data[i * dim + d]));
    const un = unwrapAngle(raw);
    return { name, y: un ?? raw, unwrapped: un !== null };
  });
}

/** The line under a plot that says which channels were unwrapped, or null. */
export function unwrapNote(series: readonly PlotSeries[]): string | null {
  const names = series.filter((s) => s.unwrapped).map((s) => s.name);
  return names.length ? `${names.join(', ')}: angle${names.length > 1 ? 's' : ''} unwrapped (±π jumps removed, so values may leave [-π, π])` : null;
}

/**
 * Fixed margins and x range for every stacked plot. Plotly grows a plot's right margin
 * to fit its legend (longer names, or none with many channels), so each plot had its own
 * width and the time axes did not line up under the cursor; `autoexpand: false` keeps the
 * legend inside the same right margin everywhere.
 */
export const SERIES_MARGIN = { l: 56, r: 120, t: 24, b: 28, autoexpand: false } as const;

export function seriesAxes(length: number): { margin: typeof SERIES_MARGIN; xaxis: Record<string, unknown>; yaxis: Record<string, unknown> } {
  return {
    margin: SERIES_MARGIN,
    xaxis: { range: [-0.5, Math.max(0, length - 1) + 0.5], autorange: false, automargin: false, gridcolor: '#eee', zeroline: false },
    yaxis: { automargin: false, gridcolor: '#eee', zeroline: false },
  };
}

/** The Episodes heading: how many the filter shows out of the dataset's total. */
export function episodeCountLabel(shown: number, total: number, filtered: boolean): string {
  return filtered ? `Episodes (${shown} of ${total})` : `Episodes (${total})`;
}
