/** Checkpoint choice shared by the Value and Embeddings tabs: browser runs, dropped folders or .prts.zip archives, and a quick pre-training run. */
import { useEffect, useState } from 'react';
import { validateConfig } from '../../../model/config.ts';
import { useConfigStore } from '../../stores/config.ts';
import { JobBar } from '../sim/JobBar.tsx';
import { useServiceJob } from '../sim/useJob.ts';
import { CheckpointDrop } from './CheckpointDrop.tsx';
import { useCheckpoints } from './checkpoints.ts';

export function CheckpointSelect({ value, onChange, testId, label }: { value: string; onChange(id: string): void; testId: string; label: string }) {
  const runs = useCheckpoints((s) => s.runs);
  const dropped = useCheckpoints((s) => s.dropped);
  const error = useCheckpoints((s) => s.error);
  useEffect(() => void useCheckpoints.getState().refresh(), []);
  return (
    <>
      <label htmlFor={testId}>{label}</label>
      <div className="field">
        <select id={testId} value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
          <option value="">— choose —</option>
          {runs.map((r) => <option key={r.name} value={r.name}>{r.name} · {r.dataset} · {r.kind === 'posttrain' ? `post-trained (DiT) ${r.steps} steps` : `${r.steps} steps`} · {r.withCrl ? `CRL λ=${r.lambdaCrl}` : 'no CRL'}</option>)}
          {Object.keys(dropped).map((id) => <option key={id} value={id}>{id}</option>)}
        </select>
        {error && <span className="field-error">{error}</span>}
      </div>
    </>
  );
}

/** Drop a checkpoint folder or archive, or pre-train a few steps on a server dataset right here. */
export function CheckpointSources({ datasets, defaultDataset }: { datasets: string[]; defaultDataset: string }) {
  const draft = useConfigStore((s) => s.draft);
  const cfg = validateConfig(draft);
  const [dataset, setDataset] = useState(defaultDataset);
  const [steps, setSteps] = useState(3);
  const [lambda, setLambda] = useState<'config' | 'zero'>('config');
  const [name, setName] = useState('');
  const { job, start, pause, resume, cancel, running } = useServiceJob();
  useEffect(() => {
    if (!dataset && defaultDataset) setDataset(defaultDataset);
  }, [dataset, defaultDataset]);
  useEffect(() => {
    if (job.state === 'done') void useCheckpoints.getState().refresh();
  }, [job.state]);
  const runName = name || `${dataset || 'run'}-${steps}${lambda === 'zero' ? '-bc' : ''}`;
  const problem = !cfg.ok ? `the Model tab's config is invalid (${cfg.errors.map((e) => e.path).join(', ')})` : !dataset ? 'choose a server dataset' : !(steps >= 1) ? 'steps must be at least 1' : null;

  return (
    <div className="panel" data-testid="ckpt-sources">
      <h2>Checkpoints</h2>
      <CheckpointDrop testIdPrefix="ckpt">Drop a checkpoint folder (model.safetensors + config.json + tokenizers.json) or a .prts.zip archive, or</CheckpointDrop>
      <h3 style={{ marginTop: 12 }}>Pre-train in the browser</h3>
      <p className="hint">PRTS pre-training (BC + CRL) with the Model tab's config; cameras, image size and dimensions follow the dataset. A few steps give a checkpoint to try the tabs with.</p>
      <div className="form">
        <label htmlFor="pt-ds">dataset</label>
        <select id="pt-ds" value={dataset} onChange={(e) => setDataset(e.target.value)} data-testid="pt-dataset">
          <option value="">— choose —</option>
          {datasets.map((d) => <option key={d} value={d}>{d}</option>)}
        </select>
        <label htmlFor="pt-steps">steps</label>
        <input id="pt-steps" type="number" min={1} value={steps} onChange={(e) => setSteps(Math.round(Number(e.target.value)))} data-testid="pt-steps" />
        <label htmlFor="pt-lambda">CRL</label>
        <select id="pt-lambda" value={lambda} onChange={(e) => setLambda(e.target.value as 'config' | 'zero')} data-testid="pt-lambda">
          <option value="config">λ from the config ({cfg.ok ? cfg.value.train.lambdaCrl : '?'})</option>
          <option value="zero">λ = 0 (BC-only ablation)</option>
        </select>
        <label htmlFor="pt-name">name</label>
        <input id="pt-name" placeholder={runName} value={name} onChange={(e) => setName(e.target.value)} data-testid="pt-name" />
      </div>
      {problem && <p className="field-error">{problem}</p>}
      <button
        type="button"
        disabled={!!problem || running}
        data-testid="pt-start"
        onClick={() => cfg.ok && void start({ kind: 'pretrain', params: { dataset, steps, name: runName, config: lambda === 'zero' ? { ...cfg.value, train: { ...cfg.value.train, lambdaCrl: 0 } } : cfg.value } })}
      >
        Pre-train {steps} steps
      </button>
      <JobBar job={job} onPause={pause} onResume={resume} onCancel={cancel} testId="pt-job" unit="steps" />
      {job.state === 'done' && <p className="hint" data-testid="pt-done">Saved "{runName}".</p>}
    </div>
  );
}
