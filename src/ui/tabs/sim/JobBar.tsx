/** Progress bar, ETA and pause/resume/cancel for a service job (shared by the Sim, Value and Embeddings tabs). */
import { formatDuration } from '../../lib/format.ts';
import { progressFraction, type ServiceJob } from './useJob.ts';

export function JobBar({ job, onPause, onResume, onCancel, testId, unit }: {
  job: ServiceJob;
  onPause(): void;
  onResume(): void;
  onCancel(): void;
  testId: string;
  unit: string;
}) {
  if (job.state === 'idle') return null;
  const p = job.progress;
  const frac = progressFraction(job);
  return (
    <div data-testid={testId} data-state={job.state} style={{ marginTop: 8 }}>
      <div className="progress"><div style={{ width: `${(100 * frac).toFixed(1)}%` }} /></div>
      <div className="row" style={{ marginTop: 4 }}>
        <span className="mono">
          {p ? `${p.step}/${p.total} ${unit}` : job.state === 'starting' ? 'starting…' : ''}
          {p?.etaSeconds != null && job.state === 'running' ? ` · ETA ${formatDuration(p.etaSeconds)}` : ''}
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
