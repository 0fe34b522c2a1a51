/**
 * Learning-rate schedule of the training loops: linear warmup from lr / warmup to lr over
 * the first `warmup` steps, then cosine decay from lr to a floor (minRatio * lr) at the
 * last step. A floor rather than zero because the last steps of a short run still move
 * the CRL temperature and heads; the PRTS recipe does not say, 0.1 is the common choice.
 *
 * Steps are 0-based: lrAt(0) is the rate of the first optimizer update. Pure function
 * of (step, schedule), so a resumed run continues on exactly the same curve.
 */
export interface LrSchedule {
  /** Peak learning rate (reached at the end of warmup). */
  lr: number;
  /** Warmup steps (0: start at the peak). */
  warmup: number;
  /** Total steps of the run; the cosine reaches the floor at step `steps - 1`. */
  steps: number;
  /** Floor as a fraction of lr, in [0, 1] (default 0.1). */
  minRatio?: number;
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export function checkSchedule(s: LrSchedule): void {
  if (!(Number.isFinite(s.lr) && s.lr > 0)) throw new ScheduleError(`schedule.lr must be a positive number, got ${s.lr}`);
  if (!Number.isInteger(s.steps) || s.steps < 1) throw new ScheduleError(`schedule.steps must be a positive integer, got ${s.steps}`);
  if (!Number.isInteger(s.warmup) || s.warmup < 0 || s.warmup > s.steps) {
    throw new ScheduleError(`schedule.warmup must be an integer in [0, steps = ${s.steps}], got ${s.warmup}`);
  }
  const r = s.minRatio ?? 0.1;
  if (!(r >= 0 && r <= 1)) throw new ScheduleError(`schedule.minRatio must be in [0, 1], got ${r}`);
}

export function lrAt(step: number, s: LrSchedule): number {
  if (!Number.isInteger(step) || step < 0) throw new ScheduleError(`lrAt: step must be a non-negative integer, got ${step}`);
  const floor = s.lr * (s.minRatio ?? 0.1);
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  // Past the planned end (a run extended with --steps) the rate stays at the floor.
  const span = s.steps - 1 - s.warmup;
  const p = span > 0 ? Math.min(1, (step - s.warmup) / span) : step > s.warmup ? 1 : 0;
  return floor + (s.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
}
