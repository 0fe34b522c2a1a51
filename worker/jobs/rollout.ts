/**
 * The Sim tab's checkpoint rollout (src/train/rollout.ts) in the GPU worker: the policy
 * needs the worker's device, and MuJoCo's wasm loads in a worker as it does for the
 * `gen` job. One progress event per control step (throttled by the runner); pause and
 * cancel take effect between steps. The result is the recorded episode in its JSON form
 * (src/train/rollout-record.ts), which the tab replays in its viewer.
 */
import { encodeRollout } from '../../src/train/rollout-record.ts';
import { runRollout } from '../../src/train/rollout.ts';
import type { JobParams, JsonValue } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';
import { describeSource, loadCheckpointSource } from './runs.ts';

export async function rolloutJob(p: JobParams['rollout'], ctx: JobContext) {
  const { checkpoint, criticCheckpoint, ...rest } = p;
  const label = describeSource(checkpoint);
  const spec = { ...rest, ...(criticCheckpoint ? { critic: describeSource(criticCheckpoint) } : {}) };
  const rt = await runtime();
  const data = await loadCheckpointSource(checkpoint);
  const critic = criticCheckpoint ? await loadCheckpointSource(criticCheckpoint) : undefined;
  ctx.log(`checkpoint ${label} (${data.trainer.kind} step ${data.trainer.step}), ${spec.mode} mode, ${spec.task} state ${spec.initState}${spec.critic ? `, critic ${spec.critic}` : ''}`);
  const res = await runRollout(rt, data, spec, {
    label,
    critic,
    onStep: async (step, maxSteps) => {
      ctx.progress({ step, total: maxSteps, losses: {}, items: step > 0 ? 1 : 0 });
      await ctx.checkpoint();
    },
  });
  ctx.log(`${res.success ? `success at step ${res.successStep}` : `no success in ${res.steps} steps`}; ${res.actCalls} policy calls${res.arFailures ? `, ${res.arFailures} undecodable AR chunks (zero actions): ${res.lastArFailure}` : ''}`);
  return encodeRollout(res) as unknown as JsonValue;
}
