/**
 * Value curves (PRTS Fig. 9) as a worker job: V(s_t, a_t, l) = phi . psi at every chunk
 * start of one server-dataset episode, under the episode's instruction and a wrong one
 * (src/analysis/value-curves.ts), with the episode's metrics.
 */
import { httpIO, LeRobotReader } from '../../src/data/index.ts';
import { CrlProbe, episodeValueCurves } from '../../src/analysis/value-curves.ts';
import type { JobParams, JsonValue } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';
import { describeSource, loadCheckpointSource } from './runs.ts';

export function serverReader(dataset: string): Promise<LeRobotReader> {
  return LeRobotReader.open(httpIO(`/api/datasets/${encodeURIComponent(dataset)}/files/`));
}

export async function valueJob(p: JobParams['value'], ctx: JobContext) {
  const rt = await runtime();
  const ckpt = await loadCheckpointSource(p.checkpoint);
  const reader = await serverReader(p.dataset);
  ctx.log(`checkpoint ${describeSource(p.checkpoint)} (step ${ckpt.trainer.step}), dataset ${p.dataset} episode ${p.episode}`);
  const probe = await CrlProbe.create(rt, ckpt, reader, p.stride);
  try {
    const curves = await episodeValueCurves(probe, p.episode, p.wrongInstruction, {
      batch: p.batch,
      onProgress: async (done, total) => {
        ctx.progress({ step: done, total, losses: {}, items: done });
        await ctx.checkpoint();
      },
    });
    // NaN (a constant curve's Spearman) is not JSON: it travels as null.
    return JSON.parse(JSON.stringify(curves)) as JsonValue;
  } finally {
    probe.dispose();
  }
}
