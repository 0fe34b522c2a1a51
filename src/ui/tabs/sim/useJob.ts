/**
 * One service job (dataset generation, value curves, t-SNE) as a tab sees it: started
 * in the GPU worker through gpuClient, its events folded into plain state by the pure
 * reducer `jobReducer` (unit-tested in tests/unit/ui/service-job.test.ts). Used by the
 * Sim, Value and Embeddings tabs; training jobs have their own store (stores/train.ts).
 */
import { useCallback, useEffect, useReducer, useRef } from 'react';
import type { JobEvent, JobProgress, JobSpec, JobState, JsonValue } from '../../../../worker/protocol.ts';
import { gpuClient } from '../../worker/gpuClient.ts';

export interface ServiceJob {
  id: string | null;
  state: JobState | 'idle' | 'starting';
  progress: JobProgress | null;
  error: string | null;
  result: JsonValue | null;
  logs: string[];
}

export const IDLE_JOB: ServiceJob = { id: null, state: 'idle', progress: null, error: null, result: null, logs: [] };

export type JobAction = { type: 'starting' } | { type: 'started'; id: string } | { type: 'start-failed'; error: string } | { type: 'event'; event: JobEvent } | { type: 'crash'; message: string };

export function jobReducer(s: ServiceJob, a: JobAction): ServiceJob {
  switch (a.type) {
    case 'starting':
      return { ...IDLE_JOB, state: 'starting' };
    case 'started':
      // Events can arrive before the id does; keep what they set.
      return { ...s, id: a.id, state: s.state === 'starting' ? 'running' : s.state };
    case 'start-failed':
      return { ...s, state: 'failed', error: a.error };
    case 'crash':
      return s.state === 'running' || s.state === 'paused' || s.state === 'starting' ? { ...s, state: 'failed', error: a.message } : s;
    case 'event': {
      const e = a.event;
      if (s.id !== null && e.jobId !== s.id) return s;
      switch (e.type) {
        case 'progress':
          return { ...s, progress: e.progress };
        case 'state':
          return { ...s, state: e.state, error: e.error ?? (e.state === 'failed' ? 'the job failed' : null) };
        case 'log':
          return { ...s, logs: [...s.logs, e.message].slice(-200) };
        case 'result':
          return { ...s, result: e.result };
        case 'checkpoint':
          return s;
      }
    }
  }
  return s;
}

export function progressFraction(j: ServiceJob): number {
  if (j.state === 'done') return 1;
  const p = j.progress;
  return p && p.total > 0 ? Math.min(1, p.step / p.total) : 0;
}

export function useServiceJob(): {
  job: ServiceJob;
  start(spec: JobSpec): Promise<void>;
  pause(): void;
  resume(): void;
  cancel(): void;
  running: boolean;
} {
  const [job, dispatch] = useReducer(jobReducer, IDLE_JOB);
  const idRef = useRef<string | null>(null);
  useEffect(() => gpuClient.onCrash((c) => {
    if (idRef.current && c.jobIds.includes(idRef.current)) dispatch({ type: 'crash', message: c.message });
  }), []);
  // A job still running when the tab unmounts is cancelled: nobody would see its result.
  useEffect(() => () => {
    if (idRef.current) void gpuClient.cancel(idRef.current);
  }, []);
  const start = useCallback(async (spec: JobSpec) => {
    if (idRef.current) void gpuClient.cancel(idRef.current);
    idRef.current = null;
    dispatch({ type: 'starting' });
    try {
      let myId: string | null = null;
      const pending: JobEvent[] = [];
      const id = await gpuClient.startJob(spec, (e) => {
        if (myId === null) pending.push(e);
        else dispatch({ type: 'event', event: e });
      });
      myId = id;
      idRef.current = id;
      dispatch({ type: 'started', id });
      for (const e of pending) dispatch({ type: 'event', event: e });
    } catch (e) {
      dispatch({ type: 'start-failed', error: e instanceof Error ? e.message : String(e) });
    }
  }, []);
  const running = job.state === 'running' || job.state === 'paused' || job.state === 'starting';
  return {
    job,
    start,
    pause: () => job.id && void gpuClient.pause(job.id),
    resume: () => job.id && void gpuClient.resume(job.id),
    cancel: () => job.id && void gpuClient.cancel(job.id),
    running,
  };
}
