/**
 * Training jobs as the UI tracks them: state, loss history, latest progress, logs.
 * Events come from the GPU worker through gpuClient; checkpoints are written to
 * IndexedDB as they arrive (so a crash after a checkpoint loses nothing before it).
 */
import { create } from 'zustand';
import type { JobEvent, JobKind, JobProgress, JobSpec, JobState } from '../../../worker/protocol.ts';
import { saveCheckpoint } from '../lib/checkpoints.ts';
import { onRunsChanged } from '../../../worker/jobs/runs-channel.ts';
import { gpuClient } from '../worker/gpuClient.ts';

export interface JobRecord {
  id: string;
  kind: JobKind;
  label: string;
  /** PRTS training jobs: the browser run they write (worker/jobs/runs.ts) and the step it was last saved at. */
  run?: string;
  savedStep?: number;
  state: JobState | 'starting';
  startedAt: number;
  progress: JobProgress | null;
  /** Loss history: steps and one series per loss name (same length as steps). */
  steps: number[];
  losses: Record<string, number[]>;
  error: string | null;
  logs: string[];
  checkpoints: number;
}

export interface TrainState {
  jobs: JobRecord[];
  /** The job shown in the tab. */
  selected: string | null;
  /** Last checkpoint save error (quota, private mode). */
  storageError: string | null;
  /** Bumped when a checkpoint is saved, so lists refresh. */
  checkpointVersion: number;
  start(spec: JobSpec, label: string): Promise<string>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  select(id: string): void;
  clearFinished(): void;
  /** Applies one worker event (exported for tests). */
  apply(e: JobEvent): void;
}

/** Keeps a long run's history bounded: beyond this many points, every other one is dropped. */
export const MAX_POINTS = 4000;

function appendPoint(rec: JobRecord, p: JobProgress): JobRecord {
  let steps = [...rec.steps, p.step];
  const losses: Record<string, number[]> = {};
  for (const k of new Set([...Object.keys(rec.losses), ...Object.keys(p.losses)])) {
    const prev = rec.losses[k] ?? new Array<number>(rec.steps.length).fill(NaN);
    losses[k] = [...prev, p.losses[k] ?? NaN];
  }
  if (steps.length > MAX_POINTS) {
    const keep = (_: number, i: number) => i % 2 === 0 || i === steps.length - 1;
    steps = steps.filter(keep);
    for (const k of Object.keys(losses)) losses[k] = losses[k].filter(keep);
  }
  return { ...rec, progress: p, steps, losses };
}

export const useTrainStore = create<TrainState>()((set, get) => {
  const update = (id: string, f: (r: JobRecord) => JobRecord) =>
    set((s) => ({ jobs: s.jobs.map((j) => (j.id === id ? f(j) : j)) }));

  gpuClient.onCrash(({ message, jobIds }) => {
    for (const id of jobIds) update(id, (r) => ({ ...r, state: 'failed', error: message }));
  });
  // The worker announces every save of a browser run; the job writing it shows the step.
  if (typeof window !== 'undefined') {
    onRunsChanged(({ name, steps }) => {
      if (steps === undefined) return;
      // The newest job of that run (the 'done' event may overtake the last save's announcement).
      const latest = get().jobs.filter((j) => j.run === name).at(-1);
      if (latest) update(latest.id, (r) => ({ ...r, savedStep: steps }));
    });
  }

  return {
    jobs: [],
    selected: null,
    storageError: null,
    checkpointVersion: 0,
    async start(spec, label) {
      // Events can arrive before startJob resolves with the id; buffer them until then.
      let jobId: string | null = null;
      const early: JobEvent[] = [];
      const id = await gpuClient.startJob(spec, (e) => {
        if (jobId === null) early.push(e);
        else get().apply(e);
      });
      jobId = id;
      const rec: JobRecord = { id, kind: spec.kind, label, state: 'running', startedAt: Date.now(), progress: null, steps: [], losses: {}, error: null, logs: [], checkpoints: 0 };
      if (spec.kind === 'pretrain' || spec.kind === 'posttrain') rec.run = spec.params.name;
      set((s) => ({ jobs: [...s.jobs, rec], selected: id }));
      for (const e of early) get().apply(e);
      return id;
    },
    pause: (id) => gpuClient.pause(id),
    resume: (id) => gpuClient.resume(id),
    cancel: (id) => gpuClient.cancel(id),
    select: (id) => set({ selected: id }),
    clearFinished() {
      set((s) => {
        const jobs = s.jobs.filter((j) => j.state === 'running' || j.state === 'paused' || j.state === 'starting');
        return { jobs, selected: jobs.some((j) => j.id === s.selected) ? s.selected : (jobs[0]?.id ?? null) };
      });
    },
    apply(e) {
      switch (e.type) {
        case 'progress':
          update(e.jobId, (r) => appendPoint(r, e.progress));
          break;
        case 'state':
          update(e.jobId, (r) => ({ ...r, state: e.state, error: e.error ?? r.error }));
          break;
        case 'log':
          update(e.jobId, (r) => ({ ...r, logs: [...r.logs, e.message].slice(-200) }));
          break;
        case 'result':
          update(e.jobId, (r) => ({ ...r, logs: [...r.logs, `result: ${JSON.stringify(e.result)}`].slice(-200) }));
          break;
        case 'checkpoint': {
          const rec = get().jobs.find((j) => j.id === e.jobId);
          void saveCheckpoint({
            name: `${rec?.label ?? e.jobId} @ ${e.step}`,
            jobKind: rec?.kind ?? 'unknown',
            step: e.step,
            createdAt: Date.now(),
            metadata: { ...e.metadata, step: String(e.step) },
            tensors: e.tensors,
          }).then(
            () => {
              update(e.jobId, (r) => ({ ...r, checkpoints: r.checkpoints + 1 }));
              set((s) => ({ storageError: null, checkpointVersion: s.checkpointVersion + 1 }));
            },
            (err: Error) => set({ storageError: `checkpoint at step ${e.step} not saved: ${err.message}` }),
          );
          break;
        }
      }
    },
  };
});
