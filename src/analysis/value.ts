/**
 * Value-curve metrics for the Value tab and docs/results.md (PRTS Sec. 6.6, Fig. 9;
 * issue 6 item 6): on one episode the CRL value V(s_t, a_t, l) = phi . psi under the true
 * instruction should stay above the value under a wrong instruction and rise with t.
 */
import { bootstrapMean, spearmanWithTime, type BootstrapOptions, type Interval } from './stats';

export interface EpisodeValueMetrics {
  frames: number;
  /** Fraction of frames with V_true[t] > V_wrong[t] (ties count as not above). */
  fracTrueAbove: number;
  /** Spearman of V_true with t; NaN when V_true is constant. */
  spearmanTime: number;
}

export function valueCurveMetrics(vTrue: ArrayLike<number>, vWrong: ArrayLike<number>): EpisodeValueMetrics {
  if (vTrue.length !== vWrong.length) throw new RangeError(`vTrue and vWrong must have the same length, got ${vTrue.length} and ${vWrong.length}`);
  if (vTrue.length < 2) throw new RangeError(`vTrue needs at least 2 frames, got ${vTrue.length}`);
  let above = 0;
  for (let t = 0; t < vTrue.length; t++) {
    if (!Number.isFinite(vTrue[t])) throw new RangeError(`vTrue[${t}] is not finite: ${vTrue[t]}`);
    if (!Number.isFinite(vWrong[t])) throw new RangeError(`vWrong[${t}] is not finite: ${vWrong[t]}`);
    if (vTrue[t] > vWrong[t]) above++;
  }
  return { frames: vTrue.length, fracTrueAbove: above / vTrue.length, spearmanTime: spearmanWithTime(vTrue) };
}

export interface ValueCurveSummary {
  perEpisode: EpisodeValueMetrics[];
  /** Mean over episodes (each episode weighs the same) with a percentile bootstrap CI. */
  fracTrueAbove: Interval & { n: number };
  /** Over the episodes where the correlation is defined (n says how many). */
  spearmanTime: Interval & { n: number };
}

/**
 * Per-episode metrics and their across-episode means with seeded 95% bootstrap intervals
 * (resampling episodes, the independent unit; frames within an episode are correlated).
 */
export function valueCurveSummary(
  episodes: readonly { vTrue: ArrayLike<number>; vWrong: ArrayLike<number> }[],
  opts: BootstrapOptions = {},
): ValueCurveSummary {
  if (episodes.length === 0) throw new RangeError('episodes must not be empty');
  const perEpisode = episodes.map((e, i) => {
    try {
      return valueCurveMetrics(e.vTrue, e.vWrong);
    } catch (err) {
      throw new RangeError(`episodes[${i}]: ${(err as Error).message}`);
    }
  });
  const rhos = perEpisode.map((m) => m.spearmanTime).filter((r) => !Number.isNaN(r));
  return {
    perEpisode,
    fracTrueAbove: bootstrapMean(perEpisode.map((m) => m.fracTrueAbove), opts),
    spearmanTime: rhos.length ? bootstrapMean(rhos, opts) : { estimate: NaN, lo: NaN, hi: NaN, n: 0 },
  };
}
