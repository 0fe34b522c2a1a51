/**
 * The value job's JSON result, checked before plotting: a malformed result (an older
 * worker, a bug) shows a clear error instead of a blank plot.
 */
import type { JsonValue } from '../../../../worker/protocol.ts';

export interface ValueResult {
  episode: number;
  t: number[];
  T: number;
  instruction: string;
  wrongInstruction: string;
  vTrue: number[];
  vWrong: number[];
  /** spearmanTime is null when V_true is constant (NaN does not survive JSON). */
  metrics: { frames: number; fracTrueAbove: number; spearmanTime: number | null };
}

export function parseValueResult(r: JsonValue): ValueResult {
  const o = r as unknown as ValueResult;
  const nums = (a: unknown) => Array.isArray(a) && a.every((v) => typeof v === 'number');
  if (!o || typeof o !== 'object' || !nums(o.t) || !nums(o.vTrue) || !nums(o.vWrong) || o.t.length !== o.vTrue.length || o.t.length !== o.vWrong.length || typeof o.T !== 'number' || !o.metrics) {
    throw new Error('the value job returned a malformed result (expected t, vTrue, vWrong of equal length, T and metrics)');
  }
  return o;
}
