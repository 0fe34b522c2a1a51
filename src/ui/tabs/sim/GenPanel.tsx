/**
 * "Generate dataset": scripted-expert demonstrations of the chosen task (or its whole
 * suite) in the GPU worker (worker/jobs/gen.ts), uploaded to the server so the Data,
 * Value and Embeddings tabs open it like any server dataset.
 */
import { useState } from 'react';
import { INIT_STATES_PER_TASK, listSuites } from '../../../sim/index.ts';
import { useServerStore } from '../../stores/server.ts';
import { useSessionStore } from '../../stores/session.ts';
import { JobBar } from './JobBar.tsx';
import type { SimSelection } from './simParams.ts';
import { useServiceJob } from './useJob.ts';

export function GenPanel({ sel }: { sel: SimSelection }) {
  const server = useServerStore((s) => s.state);
  const token = useSessionStore((s) => s.token);
  const [scope, setScope] = useState<'task' | 'suite'>('task');
  const [episodes, setEpisodes] = useState(2);
  const [size, setSize] = useState(64);
  const [name, setName] = useState(() => `sim-${new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '')}`);
  const { job, start, pause, resume, cancel, running } = useServiceJob();
  const tasks = scope === 'task' ? [sel.task] : (listSuites().find((s) => s.suite === sel.suite)?.tasks ?? []);
  const problem =
    server !== 'online' ? 'The server is offline: generated datasets are uploaded to it (start it with npm start).'
    : !token ? 'Uploading needs the operator token: open the link the server printed (…/#token=…) or enter it in the Robot tab.'
    : !Number.isInteger(episodes) || episodes < 1 || episodes > INIT_STATES_PER_TASK ? `episodes per task must be 1–${INIT_STATES_PER_TASK}`
    : !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) ? "name: 1-64 letters, digits, '.', '_' or '-'"
    : null;
  const result = job.state === 'done' && job.result && typeof job.result === 'object' && !Array.isArray(job.result) ? job.result as { datasetId: string; saved: number; failed: number } : null;

  return (
    <div className="panel" data-testid="sim-gen">
      <h2>Generate dataset</h2>
      <div className="form">
        <label htmlFor="gen-scope">tasks</label>
        <select id="gen-scope" value={scope} onChange={(e) => setScope(e.target.value as 'task' | 'suite')}>
          <option value="task">this task ({sel.task})</option>
          <option value="suite">the {sel.suite} suite ({listSuites().find((s) => s.suite === sel.suite)?.tasks.length ?? 0} tasks)</option>
        </select>
        <label htmlFor="gen-episodes">episodes per task</label>
        <input id="gen-episodes" type="number" min={1} max={INIT_STATES_PER_TASK} value={episodes} onChange={(e) => setEpisodes(Number(e.target.value))} data-testid="gen-episodes" />
        <label htmlFor="gen-size">image size</label>
        <input id="gen-size" type="number" min={8} max={256} value={size} onChange={(e) => setSize(Number(e.target.value))} />
        <label htmlFor="gen-name">dataset name</label>
        <input id="gen-name" value={name} onChange={(e) => setName(e.target.value)} data-testid="gen-name" />
      </div>
      <p className="hint">
        Episode k starts from fixed state k; perturbations: {sel.perturb.length ? `${sel.perturb.join(', ')} (seed ${sel.seed}, drawn per episode)` : 'none'}. Failed demonstrations are not saved.
      </p>
      {problem && <p className="field-error" data-testid="gen-problem">{problem}</p>}
      <button
        type="button"
        disabled={!!problem || running}
        data-testid="gen-start"
        onClick={() => void start({ kind: 'gen', params: { tasks, episodesPerTask: episodes, size, perturb: sel.perturb, seed: sel.seed, datasetId: name, token } })}
      >
        Generate {tasks.length * (Number.isFinite(episodes) ? episodes : 0)} episodes
      </button>
      <JobBar job={job} onPause={pause} onResume={resume} onCancel={cancel} testId="gen-job" unit="episodes (+1 for the upload)" />
      {result && (
        <p data-testid="gen-done">
          Saved {result.saved} episodes{result.failed ? ` (${result.failed} failed, not saved)` : ''}: <a href={`#/data?ds=${encodeURIComponent(result.datasetId)}`}>open {result.datasetId} in the Data tab</a>
        </p>
      )}
    </div>
  );
}
