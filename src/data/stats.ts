/**
 * Feature statistics in LeRobot's stats.json shape (min, max, mean, std, count and the
 * quantiles q01..q99 that quantile normalisation and the FAST tokenizer need).
 *
 * Per episode everything is exact (the episode is in memory). Across the dataset the
 * moments are exact (Chan's parallel update in float64) and the quantiles come from a
 * per-dimension histogram sketch whose error is bounded by one bin (range / SKETCH_BINS),
 * so memory stays constant however many episodes are written. Image statistics are per
 * channel on [0, 1] over a sample of frames, like LeRobot's; since pixels are 8-bit,
 * their quantiles come from exact 256-bin histograms.
 */
import { QUANTILES, QUANTILE_KEYS, type FeatureStats } from './types.ts';

export const SKETCH_BINS = 4096;

/** numpy's default (linear) quantile of sorted values. */
function sortedQuantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Exact statistics of `n` frames of a `dim`-wide numeric feature (frame-major data). */
export function exactStats(data: ArrayLike<number>, n: number, dim: number): FeatureStats {
  const out = emptyStats(dim, n);
  const col = new Float64Array(n);
  for (let d = 0; d < dim; d++) {
    let sum = 0;
    for (let i = 0; i < n; i++) { col[i] = data[i * dim + d]; sum += col[i]; }
    const mean = sum / n;
    let m2 = 0;
    for (let i = 0; i < n; i++) m2 += (col[i] - mean) ** 2;
    col.sort();
    out.min[d] = col[0];
    out.max[d] = col[n - 1];
    out.mean[d] = mean;
    out.std[d] = Math.sqrt(m2 / n);
    QUANTILE_KEYS.forEach((k, qi) => { out[k][d] = sortedQuantile(col, QUANTILES[qi]); });
  }
  return out;
}

function emptyStats(dim: number, count: number): FeatureStats {
  const z = () => new Array<number>(dim).fill(0);
  return { min: z(), max: z(), mean: z(), std: z(), count: [count], q01: z(), q10: z(), q50: z(), q90: z(), q99: z() };
}

/** Histogram over an adaptive range; rebinning spreads each old bin over the new ones. */
class Sketch {
  lo = 0;
  hi = 0;
  counts = new Float64Array(SKETCH_BINS);
  total = 0;

  add(values: Float64Array, bmin: number, bmax: number) {
    if (this.total === 0) {
      this.lo = bmin;
      this.hi = bmax > bmin ? bmax : bmin + 1e-9 * Math.max(1, Math.abs(bmin));
    } else if (bmin < this.lo || bmax > this.hi) {
      // Grow with a margin so a slowly drifting range does not rebin every episode:
      // each rebin smears mass by up to one bin.
      const span = Math.max(this.hi, bmax) - Math.min(this.lo, bmin);
      this.rebin(bmin < this.lo ? bmin - 0.25 * span : this.lo, bmax > this.hi ? bmax + 0.25 * span : this.hi);
    }
    const scale = SKETCH_BINS / (this.hi - this.lo);
    for (let i = 0; i < values.length; i++) {
      const b = Math.min(SKETCH_BINS - 1, Math.max(0, Math.floor((values[i] - this.lo) * scale)));
      this.counts[b]++;
    }
    this.total += values.length;
  }

  private rebin(lo: number, hi: number) {
    const old = this.counts;
    const ow = (this.hi - this.lo) / SKETCH_BINS;
    const nw = (hi - lo) / SKETCH_BINS;
    const next = new Float64Array(SKETCH_BINS);
    for (let i = 0; i < SKETCH_BINS; i++) {
      if (old[i] === 0) continue;
      const a = this.lo + i * ow;
      const b = a + ow;
      let j = Math.max(0, Math.floor((a - lo) / nw));
      while (j < SKETCH_BINS) {
        const ja = lo + j * nw;
        const jb = ja + nw;
        if (ja >= b) break;
        const overlap = Math.min(b, jb) - Math.max(a, ja);
        if (overlap > 0) next[j] += (old[i] * overlap) / ow;
        j++;
      }
    }
    this.counts = next;
    this.lo = lo;
    this.hi = hi;
  }

  /**
   * numpy's linear quantile (between order statistics at rank q * (n - 1)), with each
   * order statistic placed inside its bin by its rank among the bin's values: within
   * one bin width of the exact answer even for small counts.
   */
  quantile(q: number): number {
    const pos = q * (this.total - 1);
    const lo = Math.floor(pos);
    const a = this.orderStatistic(lo);
    return a + (this.orderStatistic(Math.min(lo + 1, this.total - 1)) - a) * (pos - lo);
  }

  private orderStatistic(rank: number): number {
    const w = (this.hi - this.lo) / SKETCH_BINS;
    let cum = 0;
    for (let b = 0; b < SKETCH_BINS; b++) {
      const c = this.counts[b];
      // Rebinning leaves fractional counts: compare with a tolerance so float error in
      // the running sum cannot pick the neighbouring order statistic, and clamp so a
      // sliver of mass cannot push the estimate past its own bin.
      if (c > 0 && cum + c > rank + 1e-7) return this.lo + (b + Math.min(1, Math.max(0, (rank - cum + 0.5) / c))) * w;
      cum += c;
    }
    return this.hi;
  }
}

/** Dataset-wide statistics of one numeric feature, fed one episode at a time. */
export class NumericAccumulator {
  count = 0;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  private readonly sketches: Sketch[];

  constructor(readonly dim: number) {
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
    this.min = new Float64Array(dim).fill(Infinity);
    this.max = new Float64Array(dim).fill(-Infinity);
    this.sketches = Array.from({ length: dim }, () => new Sketch());
  }

  add(data: ArrayLike<number>, n: number) {
    if (n === 0) return;
    const col = new Float64Array(n);
    for (let d = 0; d < this.dim; d++) {
      let sum = 0, bmin = Infinity, bmax = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = data[i * this.dim + d];
        col[i] = v; sum += v;
        if (v < bmin) bmin = v;
        if (v > bmax) bmax = v;
      }
      const bmean = sum / n;
      let bm2 = 0;
      for (let i = 0; i < n; i++) bm2 += (col[i] - bmean) ** 2;
      // Chan et al.: merge (count, mean, M2) of two sets without revisiting either.
      const total = this.count + n;
      const delta = bmean - this.mean[d];
      this.mean[d] += (delta * n) / total;
      this.m2[d] += bm2 + (delta * delta * this.count * n) / total;
      if (bmin < this.min[d]) this.min[d] = bmin;
      if (bmax > this.max[d]) this.max[d] = bmax;
      this.sketches[d].add(col, bmin, bmax);
    }
    this.count += n;
  }

  stats(): FeatureStats {
    const out = emptyStats(this.dim, this.count);
    for (let d = 0; d < this.dim; d++) {
      out.min[d] = this.min[d];
      out.max[d] = this.max[d];
      out.mean[d] = this.mean[d];
      out.std[d] = Math.sqrt(this.m2[d] / this.count);
      QUANTILE_KEYS.forEach((k, qi) => {
        out[k][d] = Math.min(this.max[d], Math.max(this.min[d], this.sketches[d].quantile(QUANTILES[qi])));
      });
    }
    return out;
  }
}

/**
 * Per-channel 256-bin pixel histograms of sampled frames. Exact for 8-bit images, and
 * histograms add, so the dataset-wide result is exact too.
 */
export class ImageAccumulator {
  /** Sampled frames (LeRobot's "count" for image features). */
  frames = 0;
  readonly hist: Float64Array[];

  constructor(readonly channels: number) {
    this.hist = Array.from({ length: channels }, () => new Float64Array(256));
  }

  addFrame(pixels: Uint8Array, width: number, height: number) {
    // LeRobot strides large images down to ~150 px before computing statistics.
    const step = Math.max(width, height) >= 300 ? Math.floor(Math.max(width, height) / 150) : 1;
    const c = this.channels;
    for (let y = 0; y < height; y += step) {
      for (let x = 0; x < width; x += step) {
        const base = (y * width + x) * c;
        for (let k = 0; k < c; k++) this.hist[k][pixels[base + k]]++;
      }
    }
    this.frames++;
  }

  merge(other: ImageAccumulator) {
    for (let k = 0; k < this.channels; k++) for (let v = 0; v < 256; v++) this.hist[k][v] += other.hist[k][v];
    this.frames += other.frames;
  }

  stats(): FeatureStats {
    const out = emptyStats(this.channels, this.frames);
    for (let k = 0; k < this.channels; k++) {
      const h = this.hist[k];
      let n = 0, sum = 0, sumSq = 0, lo = -1, hi = 0;
      for (let v = 0; v < 256; v++) {
        if (h[v] === 0) continue;
        if (lo < 0) lo = v;
        hi = v;
        n += h[v]; sum += h[v] * v; sumSq += h[v] * v * v;
      }
      if (n === 0) continue;
      const mean = sum / n;
      out.min[k] = lo / 255;
      out.max[k] = hi / 255;
      out.mean[k] = mean / 255;
      out.std[k] = Math.sqrt(Math.max(0, sumSq / n - mean * mean)) / 255;
      QUANTILE_KEYS.forEach((key, qi) => { out[key][k] = histQuantile(h, n, QUANTILES[qi]) / 255; });
    }
    return out;
  }
}

/** Linear-interpolated order statistic (numpy's default) read off an integer histogram. */
function histQuantile(h: Float64Array, n: number, q: number): number {
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const at = (rank: number) => {
    let cum = 0;
    for (let v = 0; v < 256; v++) { cum += h[v]; if (cum > rank) return v; }
    return 255;
  };
  const a = at(lo);
  return a + (at(Math.min(lo + 1, n - 1)) - a) * (pos - lo);
}

/** Indices of the frames LeRobot samples from an episode for image statistics. */
export function sampleFrameIndices(length: number): number[] {
  const minSamples = Math.min(100, length);
  const num = Math.max(minSamples, Math.min(Math.floor(length ** 0.75), 10_000));
  if (num <= 1) return length > 0 ? [0] : [];
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(Math.round((i * (length - 1)) / (num - 1)));
  return out;
}

/** stats.json layout: image features' per-channel values nest as [C][1][1], as LeRobot writes them. */
export function statsToJson(stats: FeatureStats, isImage: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stats) as [string, number[]][]) {
    out[k] = isImage && k !== 'count' ? v.map((x) => [[x]]) : v;
  }
  return out;
}

/** Inverse of statsToJson; also accepts stats.json files written by LeRobot itself. */
export function statsFromJson(json: Record<string, unknown>): FeatureStats {
  const flat = (v: unknown): number[] => (Array.isArray(v) ? (v as unknown[]).flat(Infinity as 1) as number[] : [Number(v)]);
  const out = {} as Record<string, number[]>;
  for (const [k, v] of Object.entries(json)) out[k] = flat(v);
  return out as unknown as FeatureStats;
}
