/**
 * "Policy": the scripted expert (played live on this thread) or a PRTS checkpoint from
 * this browser (runs in IndexedDB, or a folder or .prts.zip dropped here or in the Value
 * tab, through the same CheckpointDrop; a drop here selects it), rolled out in
 * the GPU worker (`rollout` job) and replayed in the same Player. What the checkpoint is
 * (kind, step, DiT, config) comes from the run's summary (no checkpoint bytes read; runs
 * saved before summaries had the config: their small JSON files), so the modes it lacks
 * are disabled with the reason and a checkpoint that does not fit the simulation is
 * refused before a job starts.
 */
import { useEffect, useState } from 'react';
import { getRun, getRunFiles } from '../../../../worker/jobs/runs.ts';
import { getTask } from '../../../sim/index.ts';
import { peekCheckpointFiles, type CheckpointPeek } from '../../../train/rollout-record.ts';
import { CheckpointDrop } from '../value/CheckpointDrop.tsx';
import { sourceFor, useCheckpoints } from '../value/checkpoints.ts';
import { JobBar } from './JobBar.tsx';
import { modeChoice, rolloutSpecFor, runPeek, usesCritic, type PolicySelection } from './policyParams.ts';
import type { SimSelection } from './simParams.ts';
import type { useServiceJob } from './useJob.ts';

type Peeked = { id: string; peek: CheckpointPeek; error: null } | { id: string; peek: null; error: string };

export function PolicyPanel({ sel, pol, setPol, job }: {
  sel: SimSelection;
  pol: PolicySelection;
  setPol(p: Partial<PolicySelection>): void;
  job: ReturnType<typeof useServiceJob>;
}) {
  const runs = useCheckpoints((s) => s.runs);
  const dropped = useCheckpoints((s) => s.dropped);
  const listError = useCheckpoints((s) => s.error);
  const [peeked, setPeeked] = useState<Peeked | null>(null);
  useEffect(() => void useCheckpoints.getState().refresh(), []);
  useEffect(() => {
    if (!pol.policy) return;
    let live = true;
    (async () => {
      const src = sourceFor(pol.policy, dropped);
      if (!src) throw new Error(`the dropped checkpoint "${pol.policy}" is gone (dropped folders last one session): drop it again here`);
      if (!('run' in src)) return peekCheckpointFiles(src.files);
      const summary = await getRun(src.run);
      if (!summary) throw new Error(`there is no browser run "${src.run}" (it may have been made in another browser profile)`);
      return runPeek(summary) ?? peekCheckpointFiles(await getRunFiles(src.run));
    })().then(
      (peek) => live && setPeeked({ id: pol.policy, peek, error: null }),
      (e: unknown) => live && setPeeked({ id: pol.policy, peek: null, error: e instanceof Error ? e.message : String(e) }),
    );
    return () => {
      live = false;
    };
    // `runs` too: a run saved again (continued, post-trained under the same name) is re-read from its summary.
  }, [pol.policy, dropped, runs]);

  const current = peeked?.id === pol.policy ? peeked : null;
  const choice = current?.peek ? modeChoice(current.peek, pol.mode) : null;
  const limit = sel.task ? getTask(sel.task).maxSteps : 0;
  const problem =
    !sel.task ? 'choose a task'
    : current?.error ? current.error
    : choice?.problems.length ? choice.problems.join('; ')
    : pol.steps > limit ? `step limit must be at most the task's ${limit}`
    : null;
  const source = pol.policy ? sourceFor(pol.policy, dropped) : null;
  const knownRun = runs.some((r) => r.name === pol.policy) || pol.policy in dropped;
  const critic = usesCritic(pol);
  const useCritic = critic && !!pol.critic;
  const criticSource = useCritic ? sourceFor(pol.critic, dropped) : null;
  const criticProblem = useCritic && !criticSource ? `the critic "${pol.critic}" is not in this browser: choose another or the policy's own` : null;

  const start = () => {
    if (!choice || !source || problem || criticProblem) return;
    void job.start({ kind: 'rollout', params: { ...rolloutSpecFor(sel, pol, choice.mode), checkpoint: source, ...(criticSource ? { criticCheckpoint: criticSource } : {}) } });
  };

  return (
    <div className="panel" data-testid="sim-policy">
      <h2>Policy</h2>
      <div className="form">
        <label htmlFor="sim-policy-select">policy</label>
        <div className="field">
          <select id="sim-policy-select" value={pol.policy} onChange={(e) => setPol({ policy: e.target.value, mode: null })} disabled={job.running} data-testid="sim-policy-select">
            <option value="">scripted expert</option>
            {runs.map((r) => <option key={r.name} value={r.name}>{r.name} · {r.dataset} · {r.steps} steps</option>)}
            {Object.keys(dropped).map((id) => <option key={id} value={id}>{id}</option>)}
            {pol.policy && !knownRun && <option value={pol.policy}>{pol.policy} (not in this browser)</option>}
          </select>
          {listError && <span className="field-error">{listError}</span>}
        </div>
        {pol.policy && (
          <>
            <label htmlFor="sim-policy-mode">mode</label>
            <div className="field">
              <select id="sim-policy-mode" value={choice?.mode ?? pol.mode ?? 'ar'} onChange={(e) => setPol({ mode: e.target.value as 'dit' | 'ar' })} disabled={!choice || job.running} data-testid="sim-policy-mode">
                <option value="dit" disabled={!!choice?.ditUnavailable}>dit: DiT action expert (flow matching, 5 Euler steps)</option>
                <option value="ar">ar: FAST tokens from the LM head (greedy)</option>
              </select>
              {choice?.ditUnavailable && <span className="hint" data-testid="sim-policy-dit-reason">dit unavailable: {choice.ditUnavailable}</span>}
            </div>
            <label htmlFor="sim-policy-steps">step limit</label>
            <div className="field">
              <input id="sim-policy-steps" type="number" min={0} max={limit} value={pol.steps} onChange={(e) => setPol({ steps: Math.max(0, Math.round(Number(e.target.value) || 0)) })} disabled={job.running} data-testid="sim-policy-steps" />
              <span className="hint">0 = the task's limit ({limit}); the episode ends at the first step its goal holds</span>
            </div>
            <label htmlFor="sim-policy-exec">execute</label>
            <div className="field">
              <input id="sim-policy-exec" type="number" min={0} value={pol.exec} onChange={(e) => setPol({ exec: Math.max(0, Math.round(Number(e.target.value) || 0)) })} disabled={job.running} />
              <span className="hint">actions per chunk before re-planning; 0 = the whole chunk{current?.peek ? ` (${current.peek.config.model.chunkLength})` : ''}</span>
            </div>
            <label htmlFor="sim-policy-cand">proposals</label>
            <div className="field">
              <input id="sim-policy-cand" type="number" min={0} max={64} value={pol.cand} onChange={(e) => setPol({ cand: Math.max(0, Math.min(64, Math.round(Number(e.target.value) || 0))) })} disabled={job.running} data-testid="sim-policy-cand" />
              <span className="hint">value-guided selection: propose this many chunks and execute the one the CRL critic rates highest; 0 or 1 = the plain policy{critic && current?.peek && !current.peek.config.train.lambdaCrl && !pol.critic ? ' (this checkpoint has no CRL critic: choose another run as the critic, or coherent selection alone)' : ''}</span>
            </div>
            {pol.cand > 1 && (
              <>
                <label htmlFor="sim-policy-selcalls">select on</label>
                <div className="field">
                  <input id="sim-policy-selcalls" type="number" min={0} value={pol.selcalls} onChange={(e) => setPol({ selcalls: Math.max(0, Math.round(Number(e.target.value) || 0)) })} disabled={job.running} data-testid="sim-policy-selcalls" />
                  <span className="hint">choose by the critic on the first this-many re-plans, then the plain policy; 0 = every re-plan (with coherent: never, no critic asked)</span>
                </div>
                <label htmlFor="sim-policy-coh">{pol.selcalls > 0 ? 'then' : 'choose'}</label>
                <div className="field">
                  <label>
                    <input id="sim-policy-coh" type="checkbox" checked={pol.coh} onChange={(e) => setPol({ coh: e.target.checked })} disabled={job.running} data-testid="sim-policy-coh" /> coherent
                  </label>
                  <span className="hint">{pol.selcalls > 0 ? 'keep proposing and execute the chunk that best continues the previous plan (unchecked: the plain policy)' : 'coherent selection alone: the greedy first chunk, then the proposal that best continues the previous plan; no critic is asked (unchecked: the critic chooses at every re-plan)'}</span>
                </div>
                {critic && (
                  <>
                    <label htmlFor="sim-policy-critic">critic</label>
                    <div className="field">
                      <select id="sim-policy-critic" value={pol.critic} onChange={(e) => setPol({ critic: e.target.value })} disabled={job.running} data-testid="sim-policy-critic">
                        <option value="">the policy's own</option>
                        {runs.filter((r) => r.name !== pol.policy).map((r) => <option key={r.name} value={r.name}>{r.name}</option>)}
                        {Object.keys(dropped).filter((id) => id !== pol.policy).map((id) => <option key={id} value={id}>{id}</option>)}
                        {pol.critic && !runs.some((r) => r.name === pol.critic) && !(pol.critic in dropped) && <option value={pol.critic}>{pol.critic} (not in this browser)</option>}
                      </select>
                      <span className="hint">another checkpoint's CRL critic scores the proposals (same tokenizers and cameras); the policy may be trained without CRL</span>
                    </div>
                  </>
                )}
              </>
            )}
            <label htmlFor="sim-policy-seed">rollout seed</label>
            <input id="sim-policy-seed" type="number" min={0} value={pol.pseed} onChange={(e) => setPol({ pseed: Math.max(0, Math.round(Number(e.target.value) || 0)) })} disabled={job.running} data-testid="sim-policy-seed" />
          </>
        )}
      </div>
      {!pol.policy && <p className="hint">The expert plays live below. Pick a checkpoint made in this browser (Train or Value tab), or drop one below, to roll it out in this scene.</p>}
      {pol.policy && current?.peek && (
        <p className="hint" data-testid="sim-policy-info">
          {current.peek.kind} checkpoint, step {current.peek.step}: cameras {current.peek.config.model.cameras.join(', ')}, {current.peek.config.model.imageSize}px, chunk {current.peek.config.model.chunkLength}. Same scene, settings and seed give the same rollout.
        </p>
      )}
      {pol.policy && (problem || criticProblem) && <p className="field-error" role="alert" data-testid="sim-policy-problem">{problem ?? criticProblem}</p>}
      {pol.policy && (
        <button type="button" onClick={start} disabled={!choice || !!problem || !!criticProblem || job.running} data-testid="sim-rollout-start">
          Roll out {choice ? `(${choice.mode})` : ''}
        </button>
      )}
      <JobBar job={job.job} onPause={job.pause} onResume={job.resume} onCancel={job.cancel} testId="sim-rollout-job" unit="control steps" />
      {/* A drop during a rollout joins the list without changing the running policy. */}
      <CheckpointDrop testIdPrefix="sim-ckpt" onAdded={(id) => !job.running && setPol({ policy: id, mode: null })}>
        Drop a checkpoint folder or a .prts.zip archive to roll it out, or
      </CheckpointDrop>
    </div>
  );
}
