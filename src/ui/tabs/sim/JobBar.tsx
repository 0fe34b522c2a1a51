/** Progress bar, ETA and pause/resume/cancel for a service job (shared by the Sim, Value and Embeddings tabs). */
import { formatDuration } from '../../lib/format.ts';
import { progressFraction, type ServiceJob } from './useJob.ts';

export function JobBar({ job, onPause, onResume, onCancel, testId, unit, text, etaSeconds }: {
  job: ServiceJob;
  onPause(): void;
  onResume(): void;
  onCancel(): void;
  testId: string;
  unit: string;
  /** The progress line, when the job's step/total is not in the user's units. */
  text?: string;
  /** An ETA of the tab's own, when the runner's generic one misleads (null: not known yet). */
  etaSeconds?: number | null;
}) {
  if (job.state === 'idle') return null;
  const p = job.progress;
  const frac = progressFraction(job);
  const eta = etaSeconds === undefined ? p?.etaSeconds : etaSeconds;
  return (
    <div data-testid={testId} data-state={job.state} style={{ marginTop: 8 }}>
      <div className="progress"><div style={{ width: `${(100 * frac).toFixed(1)}%` }} /></div>
      <div className="row" style={{ marginTop: 4 }}>
        <span className="mono">
          {p ? text ?? `${p.step}/${p.total} ${unit}` : job.state === 'starting' ? 'starting…' : ''}
          {eta != null && job.state === 'running' ? ` · ETA ${formatDuration(eta)}` : ''}
        </span>
        <span className="tag">{job.state}</span>
        <span className="grow" />
        {job.state === 'running' && <button type="button" onClick={onPause}>Pause</button>}
        {job.state === 'paused' && <button type="button" onClick={onResume}>Resume</button>}
        {(job.state === 'running' || job.state === 'paused') && <button type="button" onClick={onCancel} data-testid={`${testId}-cancel`}>Cancel</button>}
      </div>
      {job.error && <p className="field-error" role="alert">{job.error}</p>}
    </div>
  );
}
