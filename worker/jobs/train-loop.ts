/**
 * The step loop shared by the browser's PRTS training jobs (pretrain.ts, posttrain.ts):
 * one trainer step between pause/cancel points, a progress report per step, and the
 * run's checkpoint saved every `every` completed steps, at the end, and when the run
 * stops early, so a crash loses at most the steps since the last save and a cancel
 * loses nothing. No GPU or IndexedDB here (the caller's `save` does the storing), so
 * the cadence is unit-tested in Node (tests/unit/ui/train-prts.test.ts).
 */
import type { CheckpointData } from '../../src/train/checkpoint.ts';
import { JobCancelledError, type JobContext, type StepReport } from '../runner.ts';

/** What Pretrainer and PostTrainRun have in common. */
export interface SteppedTrainer<M> {
  readonly done: boolean;
  readonly completedSteps: number;
  step(): Promise<M>;
  checkpoint(): Promise<CheckpointData>;
}

export interface TrainLoopOptions<M> {
  /** Save every this many completed steps (0: only at the end and on an early stop). */
  every: number;
  /** The progress report of one step's metrics. */
  report(m: M): StepReport;
  /** Stores a checkpoint (taken between steps). */
  save(data: CheckpointData): Promise<void>;
}

export interface TrainLoopResult {
  /** Steps completed when the loop ended, and the step of the last checkpoint saved. */
  steps: number;
  savedStep: number | null;
  saves: number;
}

/** The first non-finite value among the checkpoint's parameters, if any. */
export function firstNonFinite(data: CheckpointData): string | null {
  for (const t of data.params) {
    for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) return `${t.name}[${i}] = ${t.data[i]}`;
  }
  return null;
}

/**
 * Runs the trainer to its end. On cancel the steps completed since the last save are
 * saved before the cancel propagates. On a failure they are saved only when every
 * parameter is still finite: a step that failed on a non-finite loss has already applied
 * its update, and the last good checkpoint is worth more than a poisoned one.
 */
export async function runTrainLoop<M>(ctx: JobContext, t: SteppedTrainer<M>, o: TrainLoopOptions<M>): Promise<TrainLoopResult> {
  if (!Number.isInteger(o.every) || o.every < 0) throw new RangeError(`checkpoint interval must be a whole number >= 0, got ${o.every}`);
  let savedStep: number | null = null;
  let saves = 0;
  // Steps up to here are already stored (a resumed run's checkpoint) or there are none.
  const startStep = t.completedSteps;
  const unsaved = () => t.completedSteps > (savedStep ?? startStep);
  const save = async (data?: CheckpointData) => {
    await o.save(data ?? (await t.checkpoint()));
    savedStep = t.completedSteps;
    saves++;
  };
  try {
    while (!t.done) {
      await ctx.checkpoint();
      const m = await t.step();
      ctx.progress(o.report(m));
      if (o.every > 0 && t.completedSteps % o.every === 0 && !t.done) await save();
    }
    if (unsaved()) await save();
  } catch (e) {
    if (unsaved()) {
      const cancelled = e instanceof JobCancelledError || ctx.cancelled;
      try {
        const data = await t.checkpoint();
        const bad = cancelled ? null : firstNonFinite(data);
        if (bad) {
          ctx.log(`not saving step ${t.completedSteps}: the failed step left a non-finite parameter (${bad}); the last saved checkpoint ${savedStep === null ? '(none in this job)' : `(step ${savedStep})`} stays current`);
        } else {
          await save(data);
          ctx.log(`${cancelled ? 'cancelled' : 'failed'} after step ${t.completedSteps}: checkpoint saved`);
        }
      } catch (se) {
        ctx.log(`could not save the checkpoint after ${cancelled ? 'the cancel' : 'the failure'}: ${(se as Error).message}`);
      }
    }
    throw e;
  }
  return { steps: t.completedSteps, savedStep, saves };
}
