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

/**
 * The value job's progress in chunks. The job counts forward samples, and every chunk is
 * scored twice (under the true and under the wrong instruction), so its "128/128" was
 * 64 chunks, shown next to a result that said "64 chunks".
 */
export function valueProgressText(done: number, total: number): string {
  const chunks = Math.ceil(total / 2);
  return `${Math.min(chunks, Math.floor(done / 2))}/${chunks} chunks (each scored under both instructions)`;
}

/** The label under the result's chunk count: what the count is. */
export const CHUNKS_LABEL = 'chunks scored (chunk starts of the episode)';
