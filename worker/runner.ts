/**
 * Generic job runner: starts jobs, gates them for pause/resume/cancel, turns their
 * per-step reports into progress events with throughput and ETA, and contains their
 * failures. It knows nothing about comlink, the DOM or the GPU, so its semantics are
 * unit-tested in Node (tests/unit/ui/job-runner.test.ts).
 *
 * Jobs are cooperative: a job calls `ctx.checkpoint()` between steps. That is where a
 * pause takes effect (the promise waits) and where a cancel surfaces (it throws
 * JobCancelledError, which the job lets propagate). A step in flight always finishes,
 * so GPU work is never abandoned half-submitted.
 */
import type { JobEvent, JobKind, JobParams, JobProgress, JobSpec, JobState, JobStatus, JsonValue, TensorRecord } from './protocol.ts';

export class JobCancelledError extends Error {
  override name = 'JobCancelledError';
  constructor() {
    super('job cancelled');
  }
}

export interface StepReport {
  step: number;
  total: number;
  losses: Record<string, number>;
  /** Items (tokens, samples) processed since the previous report, for throughput. */
  items?: number;
}

export interface JobContext {
  readonly jobId: string;
  /** Waits while paused; throws JobCancelledError once cancelled. Call between steps. */
  checkpoint(): Promise<void>;
  progress(r: StepReport): void;
  log(message: string): void;
  /** Hands a checkpoint to the UI; the arrays are transferred (do not reuse them). */
  saveCheckpoint(step: number, tensors: TensorRecord[], metadata?: Record<string, string>): void;
  /**
   * Starts the pace measurement afresh, now, at `step`: call it once a job's setup is done
   * (and with the step it resumed from), so neither the setup time nor the steps of an
   * earlier session count into throughput and ETA.
   */
  restartPace(step: number): void;
  readonly cancelled: boolean;
}

export type JobFn<K extends JobKind> = (params: JobParams[K], ctx: JobContext) => Promise<JsonValue | void>;
export type JobRegistry = { [K in JobKind]: JobFn<K> | { unavailable: string } };

export interface RunnerOptions {
  /** Monotonic clock in ms (performance.now in the worker; injectable in tests). */
  now?: () => number;
  /** Unit name for throughput per kind (default "items"). */
  throughputUnit?: Partial<Record<JobKind, string>>;
  /** Weight of the newest step in the pace average (exponential moving average). */
  paceSmoothing?: number;
  /**
   * Progress events are sent at most this often (ms); the final step always goes out.
   * A CPU job can do thousands of steps a second and each event is a postMessage.
   */
  progressIntervalMs?: number;
  /**
   * Lets the host's event loop run (so pause/cancel messages are delivered) when a job
   * has not yielded for `yieldEveryMs`. Default: a zero-delay timer.
   */
  yieldToHost?: () => Promise<void>;
  yieldEveryMs?: number;
}

interface Job {
  id: string;
  kind: JobKind;
  state: JobState;
  step: number;
  total: number;
  error?: string;
  emit: (e: JobEvent) => void;
  resumeWaiters: (() => void)[];
  cancelRequested: boolean;
  /** Running time accounting: `runMs` excludes paused spans. */
  runMs: number;
  runningSince: number | null;
  /** Pace window: time, step and items since the last progress event. */
  windowStart: number | null;
  windowStep: number;
  windowItems: number;
  lastEmitAt: number | null;
  lastYieldAt: number;
  secPerStep: number | null;
  itemsPerSec: number | null;
  done: Promise<void>;
}

export class JobRunner {
  private jobs = new Map<string, Job>();
  private nextId = 1;
  private readonly now: () => number;
  private readonly alpha: number;

  constructor(
    private readonly registry: JobRegistry,
    private readonly opts: RunnerOptions = {},
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.alpha = opts.paceSmoothing ?? 0.2;
  }

  availability(): Record<JobKind, { available: true } | { available: false; reason: string }> {
    const out = {} as Record<JobKind, { available: true } | { available: false; reason: string }>;
    for (const k of Object.keys(this.registry) as JobKind[]) {
      const e = this.registry[k];
      out[k] = typeof e === 'function' ? { available: true } : { available: false, reason: e.unavailable };
    }
    return out;
  }

  /** Starts a job and returns its id; failures are reported through events, not thrown. */
  start(spec: JobSpec, emit: (e: JobEvent) => void): string {
    const entry = this.registry[spec.kind];
    if (!entry) throw new Error(`unknown job kind "${String(spec.kind)}"; known: ${Object.keys(this.registry).join(', ')}`);
    if (typeof entry !== 'function') throw new Error(`job kind "${spec.kind}" is not available: ${entry.unavailable}`);
    const id = `job-${this.nextId++}`;
    const job: Job = {
      id,
      kind: spec.kind,
      state: 'running',
      step: 0,
      total: 0,
      emit,
      resumeWaiters: [],
      cancelRequested: false,
      runMs: 0,
      runningSince: this.now(),
      windowStart: this.now(),
      windowStep: 0,
      windowItems: 0,
      lastEmitAt: null,
      lastYieldAt: this.now(),
      secPerStep: null,
      itemsPerSec: null,
      done: Promise.resolve(),
    };
    this.jobs.set(id, job);
    const ctx = this.context(job);
    this.safeEmit(job, { type: 'state', jobId: id, state: 'running' });
    // Deferred by a microtask so the caller has the id before the first event arrives.
    job.done = Promise.resolve()
      .then(() => (entry as JobFn<typeof spec.kind>)(spec.params as never, ctx))
      .then(
        (result) => {
          if (job.cancelRequested) return this.finish(job, 'cancelled');
          if (result !== undefined) this.safeEmit(job, { type: 'result', jobId: id, result });
          this.finish(job, 'done');
        },
        (err: unknown) => {
          if (err instanceof JobCancelledError || job.cancelRequested) return this.finish(job, 'cancelled');
          this.finish(job, 'failed', describeError(err));
        },
      );
    return id;
  }

  pause(id: string): void {
    const job = this.get(id);
    if (job.state !== 'running') return;
    this.stopClock(job);
    job.state = 'paused';
    this.safeEmit(job, { type: 'state', jobId: id, state: 'paused' });
  }

  resume(id: string): void {
    const job = this.get(id);
    if (job.state !== 'paused') return;
    job.state = 'running';
    job.runningSince = this.now();
    // A fresh pace window: the paused span must not count as one very slow step.
    job.windowStart = job.runningSince;
    job.windowStep = job.step;
    job.windowItems = 0;
    this.safeEmit(job, { type: 'state', jobId: id, state: 'running' });
    this.wake(job);
  }

  cancel(id: string): void {
    const job = this.get(id);
    if (job.state !== 'running' && job.state !== 'paused') return;
    job.cancelRequested = true;
    this.wake(job);
  }

  status(id: string): JobStatus {
    const j = this.get(id);
    return { id: j.id, kind: j.kind, state: j.state, step: j.step, total: j.total, ...(j.error ? { error: j.error } : {}) };
  }

  list(): JobStatus[] {
    return [...this.jobs.keys()].map((id) => this.status(id));
  }

  /** Resolves when the job has reached a final state (tests, orderly shutdown). */
  whenDone(id: string): Promise<void> {
    return this.get(id).done;
  }

  private get(id: string): Job {
    const j = this.jobs.get(id);
    if (!j) throw new Error(`no job "${id}"`);
    return j;
  }

  private wake(job: Job): void {
    const w = job.resumeWaiters;
    job.resumeWaiters = [];
    for (const f of w) f();
  }

  private stopClock(job: Job): void {
    if (job.runningSince !== null) {
      job.runMs += this.now() - job.runningSince;
      job.runningSince = null;
    }
  }

  private finish(job: Job, state: JobState, error?: string): void {
    this.stopClock(job);
    job.state = state;
    if (error) job.error = error;
    this.wake(job);
    this.safeEmit(job, { type: 'state', jobId: job.id, state, ...(error ? { error } : {}) });
  }

  /** A UI callback that throws (or a closed port) must not kill the job. */
  private safeEmit(job: Job, e: JobEvent): void {
    try {
      job.emit(e);
    } catch {
      // The listener is gone (page closed the port); the job keeps its state for list().
    }
  }

  private context(job: Job): JobContext {
    const runner = this;
    return {
      jobId: job.id,
      get cancelled() {
        return job.cancelRequested;
      },
      async checkpoint() {
        if (runner.now() - job.lastYieldAt >= (runner.opts.yieldEveryMs ?? 16)) {
          await (runner.opts.yieldToHost ?? (() => new Promise<void>((r) => setTimeout(r, 0))))();
          job.lastYieldAt = runner.now();
        }
        if (job.cancelRequested) throw new JobCancelledError();
        while (job.state === 'paused' && !job.cancelRequested) {
          await new Promise<void>((r) => job.resumeWaiters.push(r));
        }
        if (job.cancelRequested) throw new JobCancelledError();
      },
      progress(r: StepReport) {
        runner.onProgress(job, r);
      },
      log(message: string) {
        runner.safeEmit(job, { type: 'log', jobId: job.id, message });
      },
      saveCheckpoint(step, tensors, metadata = {}) {
        runner.safeEmit(job, { type: 'checkpoint', jobId: job.id, step, tensors, metadata });
      },
      restartPace(step: number) {
        job.step = step;
        job.windowStart = runner.now();
        job.windowStep = step;
        job.windowItems = 0;
      },
    };
  }

  private onProgress(job: Job, r: StepReport): void {
    const t = this.now();
    job.step = r.step;
    job.total = r.total;
    job.windowItems += r.items ?? 0;
    const interval = this.opts.progressIntervalMs ?? 50;
    const final = r.step >= r.total;
    if (job.lastEmitAt !== null && t - job.lastEmitAt < interval && !final) return;
    // Pace is measured over the window since the last event (>= interval long), not per
    // step: a fast job's single steps are shorter than the clock's resolution.
    if (job.windowStart !== null && r.step > job.windowStep && t > job.windowStart) {
      const dtSec = (t - job.windowStart) / 1000;
      const sps = dtSec / (r.step - job.windowStep);
      job.secPerStep = job.secPerStep === null ? sps : this.alpha * sps + (1 - this.alpha) * job.secPerStep;
      if (job.windowItems > 0) {
        const ips = job.windowItems / dtSec;
        job.itemsPerSec = job.itemsPerSec === null ? ips : this.alpha * ips + (1 - this.alpha) * job.itemsPerSec;
      }
    }
    job.lastEmitAt = t;
    job.windowStart = t;
    job.windowStep = r.step;
    job.windowItems = 0;
    const elapsedMs = job.runMs + (job.runningSince !== null ? t - job.runningSince : 0);
    const progress: JobProgress = {
      step: r.step,
      total: r.total,
      losses: r.losses,
      throughput: job.itemsPerSec ?? 0,
      throughputUnit: this.opts.throughputUnit?.[job.kind] ?? 'items',
      etaSeconds: job.secPerStep === null ? null : Math.max(0, r.total - r.step) * job.secPerStep,
      elapsedSeconds: elapsedMs / 1000,
    };
    this.safeEmit(job, { type: 'progress', jobId: job.id, progress });
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : err.name + ': '}${err.message}`;
  return String(err);
}
