/**
 * The Train tab's PRTS forms (pre-training, post-training; new run or continue a saved
 * one) and the Browser runs panel. Validation and job specs are the pure functions of
 * prtsJobs.ts; this file is their inputs and messages.
 */
import { useEffect, useMemo, useState } from 'react';
import { FileButton } from '../../components/FileButton.tsx';
import type { RunSummary } from '../../../../worker/jobs/runs.ts';
import { deleteRun } from '../../../../worker/jobs/runs.ts';
import type { JobKind } from '../../../../worker/protocol.ts';
import { DEFAULT_DIT } from '../../../model/dit.ts';
import { validateConfig } from '../../../model/config.ts';
import { useConfigStore } from '../../stores/config.ts';
import { useTrainStore } from '../../stores/train.ts';
import { useTrainSettings } from '../../stores/trainSettings.ts';
import { useCheckpoints } from '../value/checkpoints.ts';
import { downloadBytes, formatBytes } from '../../lib/format.ts';
import { useServerDatasets } from '../value/serverData.ts';
import { continueSteps, posttrainForm, pretrainForm, type FormContext, type PosttrainSettings, type PretrainSettings } from './prtsJobs.ts';
import { exportRunArchive, importRunArchive } from './runArchive.ts';

const LIVE = new Set(['running', 'paused', 'starting']);

export function usePrtsForms() {
  const prts = useTrainSettings((s) => s.prts);
  const setPretrain = useTrainSettings((s) => s.setPretrain);
  const setPosttrain = useTrainSettings((s) => s.setPosttrain);
  const setEvery = useTrainSettings((s) => s.setRunCheckpointEvery);
  const draft = useConfigStore((s) => s.draft);
  const config = useMemo(() => validateConfig(draft), [draft]);
  const { ids, error: datasetsError } = useServerDatasets();
  const runs = useCheckpoints((s) => s.runs);
  const runsError = useCheckpoints((s) => s.error);
  useEffect(() => void useCheckpoints.getState().refresh(), []);
  const jobs = useTrainStore((s) => s.jobs);
  const busyKey = jobs.filter((j) => j.run && LIVE.has(j.state)).map((j) => j.run!).join('\n');
  const ctx: FormContext = useMemo(
    () => ({ datasets: ids.length ? ids : null, runs, config, busy: busyKey ? busyKey.split('\n') : [] }),
    [ids, runs, config, busyKey],
  );
  const common = { ctx, datasetsError, runsError, every: prts.checkpointEvery, setEvery };
  return {
    pretrain: { ...pretrainForm(prts.pretrain, prts.checkpointEvery, ctx), ...common, settings: prts.pretrain, set: setPretrain },
    posttrain: { ...posttrainForm(prts.posttrain, prts.checkpointEvery, ctx), ...common, settings: prts.posttrain, set: setPosttrain },
    /** After a start: a new run's typed name is used up, so the next suggestion shows. */
    started(kind: JobKind) {
      if (kind === 'pretrain' && prts.pretrain.mode === 'new') setPretrain({ name: '' });
      if (kind === 'posttrain' && prts.posttrain.mode === 'new') setPosttrain({ name: '' });
    },
  };
}

type Forms = ReturnType<typeof usePrtsForms>;

/** A number field: blank or non-numeric input is NaN, which validation names. */
function num(v: string): number {
  return v.trim() === '' ? NaN : Number(v);
}

function Field({ id, label, error, hint, children }: { id: string; label: string; error?: string; hint?: React.ReactNode; children: React.ReactNode }) {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <div className="field">
        {children}
        {error && <span className="field-error" data-testid={`err-${id}`}>{error}</span>}
        {hint && <span className="hint">{hint}</span>}
      </div>
    </>
  );
}

function ModeSelect({ id, mode, onChange, what }: { id: string; mode: 'new' | 'continue'; onChange(m: 'new' | 'continue'): void; what: string }) {
  return (
    <Field id={id} label="run">
      <select id={id} data-testid={id} value={mode} onChange={(e) => onChange(e.target.value as 'new' | 'continue')}>
        <option value="new">new {what} run</option>
        <option value="continue">continue a saved {what} run</option>
      </select>
    </Field>
  );
}

function RunSelect({ id, value, runs, kind, error, onChange }: { id: string; value: string; runs: readonly RunSummary[]; kind: RunSummary['kind']; error?: string; onChange(name: string): void }) {
  const mine = runs.filter((r) => r.kind === kind);
  return (
    <select id={id} data-testid={id} value={value} className={error ? 'invalid' : ''} onChange={(e) => onChange(e.target.value)}>
      <option value="">{mine.length ? '— choose —' : '— none saved yet —'}</option>
      {mine.map((r) => (
        <option key={r.name} value={r.name}>
          {r.name} · step {r.steps}{r.totalSteps ? ` of ${r.totalSteps}` : ''} · {r.dataset}
        </option>
      ))}
      {value && !mine.some((r) => r.name === value) && <option value={value}>{value} (gone)</option>}
    </select>
  );
}

function DatasetSelect({ id, value, datasets, error, onChange, blank = '— choose —' }: { id: string; value: string; datasets: string[] | null; error?: string; onChange(ds: string): void; blank?: string }) {
  return (
    <select id={id} data-testid={id} value={value} className={error ? 'invalid' : ''} onChange={(e) => onChange(e.target.value)}>
      <option value="">{blank}</option>
      {(datasets ?? []).map((d) => <option key={d} value={d}>{d}</option>)}
      {value && datasets && !datasets.includes(value) && <option value={value}>{value} (not on the server)</option>}
    </select>
  );
}

function IntInput({ id, value, error, onChange, placeholder }: { id: string; value: number; error?: string; onChange(n: number): void; placeholder?: string }) {
  return <input id={id} data-testid={id} type="number" className={error ? 'invalid' : ''} value={Number.isFinite(value) ? value : ''} placeholder={placeholder} onChange={(e) => onChange(num(e.target.value))} />;
}

function EveryField({ id, form }: { id: string; form: Forms['pretrain'] | Forms['posttrain'] }) {
  return (
    <Field id={id} label="save every" error={form.errors.checkpointEvery} hint="steps, into the browser run (IndexedDB); also at the end and on cancel. 0: only then.">
      <IntInput id={id} value={form.every} error={form.errors.checkpointEvery} onChange={form.setEvery} />
    </Field>
  );
}

function Problems({ datasetsError, runsError }: { datasetsError: string | null; runsError: string | null }) {
  return (
    <>
      {datasetsError && <p className="field-error">{datasetsError}</p>}
      {runsError && <p className="field-error">browser runs: {runsError}</p>}
    </>
  );
}

export function PretrainFields({ form }: { form: Forms['pretrain'] }) {
  const s: PretrainSettings = form.settings;
  const { errors, ctx } = form;
  const cfg = ctx.config;
  const run = ctx.runs.find((r) => r.name === s.run);
  return (
    <div>
      {s.mode === 'new' ? (
        <p className="muted" data-testid="prts-config">
          Model tab config {cfg.ok ? <b>{cfg.value.name}</b> : <b>(invalid)</b>}
          {cfg.ok && <> · λ<sub>crl</sub> {cfg.value.train.lambdaCrl} · γ {cfg.value.train.gamma} · batch {cfg.value.train.batchSize}{(cfg.value.train.accumulate ?? 1) > 1 && <> x {cfg.value.train.accumulate} accumulated</>} · lr {cfg.value.train.lr} (warmup {cfg.value.train.warmupSteps})</>}.{' '}
          Cameras, image size and state/action dims follow the dataset. <a href="#/model">Edit it</a>.
        </p>
      ) : (
        <p className="muted">Continues with the run's saved config and tokenizers, its AdamW moments and sampler position (the Model tab plays no part).</p>
      )}
      {errors.config && <p className="field-error" data-testid="err-prts-config">{errors.config}</p>}
      <div className="form">
        <ModeSelect id="prts-mode" mode={s.mode} what="pre-training" onChange={(mode) => form.set({ mode })} />
        {s.mode === 'new' ? (
          <>
            <Field id="prts-dataset" label="dataset" error={errors.dataset}>
              <DatasetSelect id="prts-dataset" value={form.chosen.dataset ?? s.dataset} datasets={ctx.datasets} error={errors.dataset} onChange={(dataset) => form.set({ dataset })} />
            </Field>
            <Field id="prts-steps" label="steps" error={errors.steps} hint={cfg.ok ? `the config says ${cfg.value.train.steps}` : undefined}>
              <IntInput id="prts-steps" value={s.steps} error={errors.steps} onChange={(steps) => form.set({ steps })} />
            </Field>
            <Field id="prts-name" label="run name" error={errors.name}>
              <input id="prts-name" data-testid="prts-name" className={errors.name ? 'invalid' : ''} value={s.name} placeholder={form.name} onChange={(e) => form.set({ name: e.target.value })} />
            </Field>
          </>
        ) : (
          <>
            <Field id="prts-run" label="pre-training run" error={errors.run ?? errors.dataset} hint={run ? `${run.dataset} · at step ${run.steps}${run.totalSteps ? ` of ${run.totalSteps}` : ''} · ${run.withCrl ? `CRL λ=${run.lambdaCrl}` : 'no CRL'}` : undefined}>
              <RunSelect id="prts-run" value={s.run} runs={ctx.runs} kind="pretrain" error={errors.run} onChange={(name) => {
                const r = ctx.runs.find((x) => x.name === name);
                form.set(r ? { run: name, steps: continueSteps(r) } : { run: name });
              }} />
            </Field>
            <Field id="prts-steps" label="train until step" error={errors.steps}>
              <IntInput id="prts-steps" value={s.steps} error={errors.steps} onChange={(steps) => form.set({ steps })} />
            </Field>
          </>
        )}
        <EveryField id="prts-every" form={form} />
      </div>
      <Problems datasetsError={form.datasetsError} runsError={form.runsError} />
    </div>
  );
}

export function PosttrainFields({ form }: { form: Forms['posttrain'] }) {
  const s: PosttrainSettings = form.settings;
  const { errors, ctx } = form;
  const source = form.chosen.source ?? s.source;
  const src = ctx.runs.find((r) => r.name === source);
  const run = ctx.runs.find((r) => r.name === s.run);
  return (
    <div>
      <p className="muted">
        A fresh DiT action expert (d {DEFAULT_DIT.dModel}, {DEFAULT_DIT.layers} layers; H = chunk length, K = action dim) on the run's backbone, trained with the masked
        flow-matching loss alone (BC and CRL dropped); lr and warmup from the run's config. The result is a new browser run with the DiT, a policy in mode 'dit'.
      </p>
      <div className="form">
        <ModeSelect id="post-mode" mode={s.mode} what="post-training" onChange={(mode) => form.set({ mode })} />
        {s.mode === 'new' ? (
          <>
            <Field id="post-source" label="pre-training run" error={errors.source} hint={src ? `${src.dataset} · step ${src.steps} · ${src.withCrl ? `CRL λ=${src.lambdaCrl}` : 'no CRL'}` : undefined}>
              <RunSelect id="post-source" value={source} runs={ctx.runs} kind="pretrain" error={errors.source} onChange={(source) => form.set({ source })} />
            </Field>
            <Field id="post-dataset" label="dataset" error={errors.dataset}>
              <DatasetSelect id="post-dataset" value={s.dataset} datasets={ctx.datasets} error={errors.dataset} onChange={(dataset) => form.set({ dataset })} blank={src ? `the run's (${src.dataset})` : "the run's"} />
            </Field>
            <Field id="post-steps" label="steps" error={errors.steps}>
              <IntInput id="post-steps" value={s.steps} error={errors.steps} onChange={(steps) => form.set({ steps })} />
            </Field>
            <Field id="post-seed" label="seed" error={errors.seed} hint="DiT init and every step's tau / noise">
              <IntInput id="post-seed" value={s.seed} error={errors.seed} onChange={(seed) => form.set({ seed })} />
            </Field>
            <Field id="post-freeze" label="backbone">
              <label style={{ padding: 0 }}>
                <input id="post-freeze" data-testid="post-freeze" type="checkbox" style={{ width: 'auto' }} checked={s.freezeBackbone} onChange={(e) => form.set({ freezeBackbone: e.target.checked })} /> freeze (train the DiT only)
              </label>
            </Field>
            <Field id="post-name" label="new run name" error={errors.name}>
              <input id="post-name" data-testid="post-name" className={errors.name ? 'invalid' : ''} value={s.name} placeholder={form.name} onChange={(e) => form.set({ name: e.target.value })} />
            </Field>
          </>
        ) : (
          <>
            <Field id="post-run" label="post-training run" error={errors.run ?? errors.dataset} hint={run ? `${run.dataset} · at step ${run.steps}${run.totalSteps ? ` of ${run.totalSteps}` : ''} · from ${run.source ?? '?'} · backbone ${run.freezeBackbone ? 'frozen' : 'trained'}` : undefined}>
              <RunSelect id="post-run" value={s.run} runs={ctx.runs} kind="posttrain" error={errors.run} onChange={(name) => {
                const r = ctx.runs.find((x) => x.name === name);
                form.set(r ? { run: name, steps: continueSteps(r) } : { run: name });
              }} />
            </Field>
            <Field id="post-steps" label="train until step" error={errors.steps}>
              <IntInput id="post-steps" value={s.steps} error={errors.steps} onChange={(steps) => form.set({ steps })} />
            </Field>
          </>
        )}
        <EveryField id="post-every" form={form} />
      </div>
      <Problems datasetsError={form.datasetsError} runsError={form.runsError} />
    </div>
  );
}

/** The PRTS runs kept in this browser: continue one, post-train a pre-training run, download, import, delete. */
export function BrowserRuns({ setKind }: { setKind(k: JobKind): void }) {
  const runs = useCheckpoints((s) => s.runs);
  const error = useCheckpoints((s) => s.error);
  const [archiveError, setArchiveError] = useState<string | null>(null);
  const [imported, setImported] = useState<string | null>(null);
  const setPretrain = useTrainSettings((s) => s.setPretrain);
  const setPosttrain = useTrainSettings((s) => s.setPosttrain);
  const jobs = useTrainStore((s) => s.jobs);
  const busy = new Set(jobs.filter((j) => j.run && LIVE.has(j.state)).map((j) => j.run));
  useEffect(() => void useCheckpoints.getState().refresh(), []);

  const continueRun = (r: RunSummary) => {
    if (r.kind === 'pretrain') setPretrain({ mode: 'continue', run: r.name, steps: continueSteps(r) });
    else setPosttrain({ mode: 'continue', run: r.name, steps: continueSteps(r) });
    setKind(r.kind);
  };
  const postTrain = (r: RunSummary) => {
    setPosttrain({ mode: 'new', source: r.name, dataset: '', name: '' });
    setKind('posttrain');
  };
  const download = (r: RunSummary) => {
    setArchiveError(null);
    exportRunArchive(r.name).then(({ bytes, fileName }) => downloadBytes(bytes, fileName, 'application/zip'), (e: Error) => setArchiveError(e.message));
  };
  const importFile = async (f: File) => {
    setArchiveError(null);
    setImported(null);
    try {
      const s = await importRunArchive(new Uint8Array(await f.arrayBuffer()), f.name, useCheckpoints.getState().runs);
      await useCheckpoints.getState().refresh();
      setImported(`imported "${f.name}" as run "${s.name}" (${s.kind === 'posttrain' ? 'post-trained, DiT' : 'pre-trained'}, step ${s.steps})`);
    } catch (e) {
      setArchiveError((e as Error).message);
    }
  };
  const remove = (r: RunSummary) => {
    if (!window.confirm(`Delete browser run "${r.name}" (${formatBytes(r.bytes)})? This cannot be undone.`)) return;
    deleteRun(r.name).then(() => useCheckpoints.getState().refresh(), (e: Error) => useCheckpoints.setState({ error: e.message }));
  };

  return (
    <div className="panel" data-testid="runs">
      <div className="panel-head">
        <h2>Browser runs</h2>
        <FileButton
          label="Import .prts.zip…"
          title="Import a checkpoint archive (.prts.zip: a Download from this panel, or a zipped npm run train run, npm run pack-run)"
          accept=".zip"
          testId="run-import-file"
          buttonTestId="run-import"
          onFiles={([f]) => void importFile(f)}
        />
      </div>
      {error && <p className="field-error">{error}</p>}
      {archiveError && <p className="field-error" data-testid="run-archive-error">{archiveError}</p>}
      {imported && <p className="hint" data-testid="run-imported">{imported}</p>}
      {runs.length === 0 ? (
        <p className="muted">None yet. PRTS pre-training and post-training save their runs here (IndexedDB, with config and tokenizers); the Value, Embeddings and Sim tabs read them.</p>
      ) : (
        <div className="scroll">
          <table className="grid fit" data-testid="run-list">
            <thead><tr><th>run</th><th className="num">step</th><th>dataset</th><th className="num">size</th><th /></tr></thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.name} data-testid={`run-${r.name}`} title={`saved ${new Date(r.updatedAt ?? r.createdAt).toLocaleString()}${r.source ? ` · from ${r.source}` : ''}${r.importedFrom ? ` · imported from ${r.importedFrom}` : ''}`}>
                  <td>{r.name} <span className="tag" data-testid={`run-kind-${r.name}`}>{r.kind === 'posttrain' ? 'post (DiT)' : 'pre'}</span></td>
                  <td className="num" data-testid={`run-step-${r.name}`}>{r.steps}{r.totalSteps ? `/${r.totalSteps}` : ''}</td>
                  <td>{r.dataset || <span className="muted">none recorded</span>}</td>
                  <td className="num">{formatBytes(r.bytes)}</td>
                  <td className="actions">
                    <button type="button" disabled={busy.has(r.name)} title="Continue this run from its saved checkpoint" onClick={() => continueRun(r)} data-testid={`run-continue-${r.name}`}>▶</button>{' '}
                    {r.kind === 'pretrain' && (
                      <button type="button" title="Post-train: attach a DiT action expert" onClick={() => postTrain(r)} data-testid={`run-post-${r.name}`}>DiT</button>
                    )}{' '}
                    <button type="button" title={`Download the checkpoint directory as one file (${r.name}.prts.zip; npm run eval/value/tsne/post-train take it)`} onClick={() => download(r)} data-testid={`run-download-${r.name}`}>⤓</button>{' '}
                    <button type="button" disabled={busy.has(r.name)} title="Delete" onClick={() => remove(r)}>✕</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
