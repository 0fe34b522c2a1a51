/**
 * Train tab: set up a job, run it in the GPU worker, watch the losses, throughput and
 * ETA live, pause/resume/cancel, and manage checkpoints (IndexedDB, safetensors).
 * PRTS pre-training and post-training write browser runs (worker/jobs/runs.ts) that the
 * Browser runs panel lists, continues and post-trains (forms: PrtsForms.tsx).
 */
import { useEffect, useMemo, useState } from 'react';
import type { JobAvailability, JobKind } from '../../../../worker/protocol.ts';
import { validateConfig } from '../../../model/config.ts';
import { Plot } from '../../components/Plot.tsx';
import { formatDuration, formatNumber, formatRate } from '../../lib/format.ts';
import { enumParam } from '../../lib/route.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { useConfigStore } from '../../stores/config.ts';
import { useGpuStore } from '../../stores/gpu.ts';
import { useTrainStore, type JobRecord } from '../../stores/train.ts';
import { cpuMlpErrors, useTrainSettings, type CpuMlpSettings } from '../../stores/trainSettings.ts';
import { gpuClient } from '../../worker/gpuClient.ts';
import { Checkpoints } from './Checkpoints.tsx';
import { BrowserRuns, PosttrainFields, PretrainFields, usePrtsForms } from './PrtsForms.tsx';
import { blockerText, defaultJobKind } from './prtsJobs.ts';
import { diagnosticsPlot, lossPlot, splitSeries } from './series.ts';

const KINDS: readonly JobKind[] = ['pretrain', 'posttrain', 'tinycheck', 'cpu-mlp', 'selftest'];
const KIND_LABEL: Record<JobKind, string> = {
  pretrain: 'PRTS pre-training (BC + CRL) on a server dataset',
  posttrain: 'PRTS post-training (DiT flow matching) of a browser run',
  selftest: 'Engine kernel self-test (GPU vs float64 reference)',
  tinycheck: 'Engine tiny check (GPU, 2-layer PRTS transformer)',
  'cpu-mlp': 'CPU reference MLP (no GPU; plumbing check)',
  // Service jobs started from their own tabs (not in KINDS): named here for job lists.
  gen: 'Dataset generation (Sim tab)',
  value: 'Value curves (Value tab)',
  tsne: 't-SNE of phi (Embeddings tab)',
  rollout: 'Policy rollout (Sim tab)',
};

export default function TrainTab() {
  const [params, setParams] = useTabParams();
  const gpuStatus = useGpuStore((s) => s.status);
  const kind = enumParam(params, 'job', KINDS, defaultJobKind(gpuStatus));
  const logScale = params.log !== '0';
  const [avail, setAvail] = useState<JobAvailability | null>(null);
  const jobs = useTrainStore((s) => s.jobs);
  const selected = useTrainStore((s) => s.selected);
  const job = jobs.find((j) => j.id === selected) ?? null;

  useEffect(() => {
    if (gpuStatus === 'ready' || gpuStatus === 'error') gpuClient.jobKinds().then(setAvail, () => setAvail(null));
  }, [gpuStatus]);

  return (
    <div className="cols3">
      <div>
        <JobSetup kind={kind} setKind={(k) => setParams({ job: k })} avail={avail} />
        <JobList jobs={jobs} selected={selected} />
        <BrowserRuns setKind={(k) => setParams({ job: k })} />
        <Checkpoints />
      </div>
      <div>
        {job ? (
          <JobView job={job} logScale={logScale} setLog={(v) => setParams({ log: v ? null : '0' })} />
        ) : (
          <div className="panel"><h2>No job yet</h2><p className="muted">Start a job on the left; its losses, throughput and ETA appear here.</p></div>
        )}
      </div>
    </div>
  );
}

function JobSetup({ kind, setKind, avail }: { kind: JobKind; setKind: (k: JobKind) => void; avail: JobAvailability | null }) {
  const start = useTrainStore((s) => s.start);
  const draft = useConfigStore((s) => s.draft);
  const cfg = useMemo(() => validateConfig(draft), [draft]);
  const { cpuMlp, setCpuMlp, tinycheckCheckpointEvery, setTinycheckCheckpointEvery } = useTrainSettings();
  const [startError, setStartError] = useState<string | null>(null);
  const a = avail?.[kind];
  const mlpErr = cpuMlpErrors(cpuMlp);
  const prts = usePrtsForms();
  const prtsForm = kind === 'pretrain' ? prts.pretrain : kind === 'posttrain' ? prts.posttrain : null;

  let blocker: string | null = null;
  if (!avail) blocker = 'waiting for the GPU worker…';
  else if (a && !a.available) blocker = a.reason;
  else if (kind === 'tinycheck' && !cfg.ok) blocker = `the Model tab's config is invalid (${cfg.errors.map((e) => e.path).join(', ')})`;
  else if (kind === 'cpu-mlp') blocker = blockerText(mlpErr);
  else if (prtsForm && !prtsForm.spec) blocker = blockerText(prtsForm.errors) ?? 'waiting for the form';

  const onStart = async () => {
    setStartError(null);
    try {
      if (prtsForm?.spec) {
        await start(prtsForm.spec, prtsForm.label);
        prts.started(kind);
      } else if (kind === 'cpu-mlp') await start({ kind, params: cpuMlp }, `cpu-mlp h${cpuMlp.hidden}`);
      else if (kind === 'selftest') await start({ kind, params: { seed: 1 } }, 'kernel self-test');
      else if (kind === 'tinycheck' && cfg.ok) await start({ kind, params: { config: cfg.value, checkpointEvery: tinycheckCheckpointEvery } }, `tinycheck ${cfg.value.name}`);
    } catch (e) {
      setStartError((e as Error).message);
    }
  };

  return (
    <div className="panel" data-testid="job-setup">
      <h2>New job</h2>
      <select value={kind} onChange={(e) => setKind(e.target.value as JobKind)} data-testid="job-kind" style={{ width: '100%', marginBottom: 8 }}>
        {KINDS.map((k) => (
          <option key={k} value={k}>{KIND_LABEL[k]}{avail && !avail[k].available ? ' — unavailable' : ''}</option>
        ))}
      </select>
      {kind === 'pretrain' ? (
        <PretrainFields form={prts.pretrain} />
      ) : kind === 'posttrain' ? (
        <PosttrainFields form={prts.posttrain} />
      ) : kind === 'cpu-mlp' ? (
        <div className="form">
          {(Object.keys(cpuMlp) as (keyof CpuMlpSettings)[]).map((k) => (
            <div key={k} style={{ display: 'contents' }}>
              <label htmlFor={`mlp-${k}`}>{k}</label>
              <div className="field">
                <input
                  id={`mlp-${k}`}
                  data-testid={`mlp-${k}`}
                  className={mlpErr[k] ? 'invalid' : ''}
                  defaultValue={String(cpuMlp[k])}
                  onChange={(e) => setCpuMlp({ [k]: e.target.value.trim() === '' ? NaN : Number(e.target.value) })}
                />
                {mlpErr[k] && <span className="field-error">{mlpErr[k]}</span>}
              </div>
            </div>
          ))}
        </div>
      ) : kind === 'selftest' ? (
        <p className="muted">Runs matmul, softmax and role-aware attention kernels in this browser's GPU worker and compares them with the engine's float64 references.</p>
      ) : (
        <div>
          <p className="muted">
            Uses the Model tab's config {cfg.ok ? <b>{cfg.value.name}</b> : null} ({cfg.ok ? `${cfg.value.train.steps} steps, batch ${cfg.value.train.batchSize}` : 'invalid'}).{' '}
            <a href="#/model">Edit it</a>.
          </p>
          <label>
            checkpoint every{' '}
            <input style={{ width: 80 }} defaultValue={tinycheckCheckpointEvery} onChange={(e) => setTinycheckCheckpointEvery(Math.max(0, Math.round(Number(e.target.value) || 0)))} /> steps
          </label>
        </div>
      )}
      {blocker && <p className="field-error" data-testid="start-blocker">Cannot start: {blocker}</p>}
      {startError && <p className="field-error">{startError}</p>}
      <div className="row" style={{ marginTop: 8 }}>
        <button type="button" className="primary" disabled={!!blocker} onClick={onStart} data-testid="start-job">Start</button>
      </div>
    </div>
  );
}

function stateTag(s: JobRecord['state'], testId?: string) {
  const cls = s === 'done' ? 'ok' : s === 'failed' ? 'err' : s === 'running' ? 'ok' : 'warn';
  return <span className={`tag ${cls}`} data-testid={testId}>{s}</span>;
}

function JobList({ jobs, selected }: { jobs: JobRecord[]; selected: string | null }) {
  const select = useTrainStore((s) => s.select);
  const clear = useTrainStore((s) => s.clearFinished);
  if (!jobs.length) return null;
  return (
    <div className="panel">
      <div className="panel-head"><h2>Jobs</h2><button type="button" onClick={clear}>Clear finished</button></div>
      <table className="grid">
        <tbody>
          {jobs.map((j) => (
            <tr key={j.id} className={j.id === selected ? 'selected' : ''} onClick={() => select(j.id)}>
              <td>{j.label}</td>
              <td>{stateTag(j.state)}</td>
              <td className="num">{j.progress ? `${j.progress.step}/${j.progress.total}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function JobView({ job, logScale, setLog }: { job: JobRecord; logScale: boolean; setLog: (v: boolean) => void }) {
  const { pause, resume, cancel } = useTrainStore();
  const storageError = useTrainStore((s) => s.storageError);
  const p = job.progress;
  const frac = p && p.total > 0 ? p.step / p.total : 0;
  const live = job.state === 'running' || job.state === 'paused';
  const split = useMemo(() => splitSeries(Object.keys(job.losses)), [job.losses]);
  const lossFig = useMemo(() => lossPlot(job.steps, job.losses, split.losses, logScale), [job.steps, job.losses, split, logScale]);
  const diagFig = useMemo(() => diagnosticsPlot(job.steps, job.losses, split.diagnostics), [job.steps, job.losses, split]);

  return (
    <div className="panel" data-testid="job-view">
      <div className="panel-head">
        <h2>{job.label}</h2>
        {stateTag(job.state, 'job-state')}
        <button type="button" disabled={job.state !== 'running'} onClick={() => void pause(job.id)} data-testid="pause">Pause</button>
        <button type="button" disabled={job.state !== 'paused'} onClick={() => void resume(job.id)} data-testid="resume">Resume</button>
        <button type="button" className="danger" disabled={!live} onClick={() => void cancel(job.id)} data-testid="cancel">Cancel</button>
      </div>
      {job.error && <div className="banner err" data-testid="job-error">{job.error}</div>}
      {storageError && <div className="banner warn">{storageError}</div>}
      <div className="progress" title={`${(100 * frac).toFixed(1)}%`}><div style={{ width: `${100 * frac}%` }} data-testid="progress-bar" /></div>
      <div className="stats" style={{ marginTop: 8 }}>
        <div className="stat"><div className="v" data-testid="job-step">{p ? `${p.step} / ${p.total}` : '—'}</div><div className="k">step</div></div>
        <div className="stat"><div className="v" data-testid="job-eta">{job.state === 'running' ? formatDuration(p?.etaSeconds) : job.state === 'paused' ? 'paused' : '—'}</div><div className="k">ETA</div></div>
        <div className="stat"><div className="v" data-testid="job-throughput">{p ? formatRate(p.throughput, p.throughputUnit) : '—'}</div><div className="k">throughput</div></div>
        <div className="stat"><div className="v">{formatDuration(p?.elapsedSeconds)}</div><div className="k">running time</div></div>
        {p && Object.entries(p.losses).map(([k, v]) => (
          <div className="stat" key={k}><div className="v" data-testid={`loss-${k}`}>{formatNumber(v)}</div><div className="k">{k}</div></div>
        ))}
        {job.run ? (
          <div className="stat"><div className="v" data-testid="job-saved">{job.savedStep ?? '—'}</div><div className="k">run {job.run}: saved at step</div></div>
        ) : (
          <div className="stat"><div className="v">{job.checkpoints}</div><div className="k">checkpoints saved</div></div>
        )}
      </div>
      <div className="row" style={{ marginTop: 8 }}>
        <label><input type="checkbox" checked={logScale} onChange={(e) => setLog(e.target.checked)} data-testid="log-scale" /> log scale</label>
      </div>
      <Plot data={lossFig.data} layout={lossFig.layout} testId="loss-plot" />
      {split.diagnostics.length > 0 && <Plot data={diagFig.data} layout={diagFig.layout} height={diagFig.height} testId="diag-plot" />}
      {job.logs.length > 0 && <div className="log">{job.logs.join('\n')}</div>}
    </div>
  );
}
