/**
 * Embeddings tab (PRTS Fig. 5): t-SNE of phi(s, a) for the chunks of chosen episodes,
 * one panel per checkpoint (e.g. with and without CRL), computed in the GPU worker with
 * progress and cancel; coloured by task or by phase; hovering a point shows its frame,
 * clicking opens the episode in the Data tab. Under each panel, its separation metrics
 * (k-NN and silhouette on phi and on the map). A JSON written by `npm run tsne --out`
 * loads into the same view; its frames show when the server serves its dataset.
 * URL: #/embeddings?a=&b=&ds=&eps=&color=&perp=&iters=&exag=
 */
import { useEffect, useMemo, useState } from 'react';
import { FileButton } from '../../components/FileButton.tsx';
import type { Data, Layout, PlotlyHTMLElement } from 'plotly.js-dist-min';
import type { LazyImage, LeRobotReader } from '../../../data/index.ts';
import { loadPlotly, BASE_LAYOUT } from '../../components/Plot.tsx';
import { useDemoDefaults, type DemoDefaults } from '../../lib/demoRun.ts';
import { enumParam, intParam } from '../../lib/route.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { JobBar } from '../sim/JobBar.tsx';
import { useServiceJob } from '../sim/useJob.ts';
import { CheckpointSelect, CheckpointSources } from '../value/CheckpointPicker.tsx';
import { sourceFor, useCheckpoints } from '../value/checkpoints.ts';
import { useServerDatasets } from '../value/serverData.ts';
import { Frame, useDatasetReader } from '../value/ValueTab.tsx';
import { groupPoints, NO_PACE, parseEpisodeList, trackTsnePace, tsneEta, tsneProgressText, type TsnePace } from './embeddings.ts';
import { scatterLayout, viewPlaceholder } from './view.ts';
import { MetricsTable, Verdict } from './MetricsTable.tsx';
import { datasetMismatch, parseTsneJson, parseTsneResult, servedDataset, type TsneResult } from './result.ts';

const PALETTE = ['#4c8bf5', '#2da44e', '#bf8700', '#cf4f9a', '#8250df', '#cf222e', '#1b7c83', '#6e7781', '#fb8500', '#023047'];

/** Entered with no choices: the shipped demo run on its held-out dataset (all episodes: six task clusters). */
const demoParams = (d: DemoDefaults) => ({ a: d.run, ds: d.dataset });

export default function EmbeddingsTab() {
  const [params, setParams] = useTabParams();
  useDemoDefaults(params, demoParams);
  const { ids, error: dsError } = useServerDatasets();
  const ds = params.ds ?? '';
  const { reader, error: readerError } = useDatasetReader(ds);
  const dropped = useCheckpoints((s) => s.dropped);
  const color = enumParam(params, 'color', ['task', 'phase'] as const, 'task');
  const perplexity = intParam(params, 'perp', 10, 2, 100);
  const iterations = intParam(params, 'iters', 300, 10, 5000);
  const exaggeration = intParam(params, 'exag', 12, 1, 50);
  const stride = intParam(params, 'stride', 2, 1, 100);
  const epsText = params.eps ?? '';
  const eps = reader ? parseEpisodeList(epsText, reader.episodes.length) : { episodes: [], error: null };
  const sources = [params.a ?? '', params.b ?? ''].filter(Boolean).map((id) => ({ id, src: sourceFor(id, dropped) }));
  const { job, start, pause, resume, cancel, running } = useServiceJob();
  // The settings the running job was started with: the fields may change meanwhile.
  const [runShape, setRunShape] = useState<{ iterations: number; panels: number } | null>(null);
  const [pace, setPace] = useState<TsnePace>(NO_PACE);
  useEffect(() => {
    if (job.progress && runShape) setPace((p) => trackTsnePace(p, job.progress!, runShape.iterations));
  }, [job.progress, runShape]);
  const problem = !sources.length ? 'choose at least one checkpoint' : sources.some((s) => !s.src) ? 'a dropped checkpoint is gone (drop it again)' : !ds ? 'choose a dataset' : eps.error ? eps.error : !eps.episodes.length ? 'choose episodes' : null;
  const parsed = useMemo(() => {
    if (job.state !== 'done' || !job.result) return { result: null, error: null };
    try {
      return { result: parseTsneResult(job.result), error: null };
    } catch (e) {
      return { result: null, error: (e as Error).message };
    }
  }, [job.state, job.result]);
  const jobResult = parsed.result;
  const [file, setFile] = useState<{ name: string; result: TsneResult } | null>(null);
  const [fileErrors, setFileErrors] = useState<{ name: string; errors: string[] } | null>(null);
  const loadFile = async (f: File) => {
    const r = parseTsneJson(await f.text());
    if (r.ok) {
      setFile({ name: f.name, result: r.result });
      setFileErrors(null);
    } else setFileErrors({ name: f.name, errors: r.errors });
  };
  // A loaded file shows until closed or until a new job starts.
  const result = file?.result ?? jobResult;
  // The dataset the shown points index: the job's own, or the file's when the server serves it.
  const served = file ? servedDataset(file.result, ids) : { id: jobResult?.dataset ?? (jobResult ? ds : null), why: null };
  const viewDs = served.id ?? '';
  const other = useDatasetReader(viewDs && viewDs !== ds ? viewDs : '');
  const view = viewDs === ds ? { reader, error: readerError } : other;
  const mismatch = view.reader && result && viewDs ? datasetMismatch(result.points, view.reader.episodes, viewDs) : null;
  const noFrames = !result ? null : served.why ?? view.error ?? mismatch ?? (viewDs && !view.reader ? 'the dataset is still loading' : null);

  return (
    <div className="cols3" data-testid="embeddings-tab">
      <div>
        <div className="panel">
          <h2>t-SNE of φ</h2>
          {dsError && <p className="field-error">{dsError}</p>}
          <div className="form">
            <CheckpointSelect value={params.a ?? ''} onChange={(id) => setParams({ a: id || null })} testId="emb-ckpt-a" label="checkpoint A" />
            <CheckpointSelect value={params.b ?? ''} onChange={(id) => setParams({ b: id || null })} testId="emb-ckpt-b" label="checkpoint B" />
            <label htmlFor="emb-ds">dataset</label>
            <select id="emb-ds" value={ds} onChange={(e) => setParams({ ds: e.target.value || null, eps: null })} data-testid="emb-ds">
              <option value="">— choose —</option>
              {ids.map((d) => <option key={d} value={d}>{d}</option>)}
            </select>
            <label htmlFor="emb-eps">episodes</label>
            <div className="field">
              <input id="emb-eps" placeholder={reader ? `all (0-${reader.episodes.length - 1})` : ''} value={epsText} onChange={(e) => setParams({ eps: e.target.value || null })} data-testid="emb-eps" />
              <span className="hint">e.g. 0-3,7; empty = all</span>
            </div>
            <label htmlFor="emb-stride">chunk stride</label>
            <input id="emb-stride" type="number" min={1} value={stride} onChange={(e) => setParams({ stride: e.target.value })} />
            <label htmlFor="emb-perp">perplexity</label>
            <input id="emb-perp" type="number" min={2} max={100} value={perplexity} onChange={(e) => setParams({ perp: e.target.value })} data-testid="emb-perp" />
            <label htmlFor="emb-iters">iterations</label>
            <input id="emb-iters" type="number" min={10} max={5000} value={iterations} onChange={(e) => setParams({ iters: e.target.value })} data-testid="emb-iters" />
            <label htmlFor="emb-exag">early exaggeration</label>
            <input id="emb-exag" type="number" min={1} max={50} value={exaggeration} onChange={(e) => setParams({ exag: e.target.value })} />
            <label htmlFor="emb-color">colour by</label>
            <select id="emb-color" value={color} onChange={(e) => setParams({ color: e.target.value })} data-testid="emb-color">
              <option value="task">task</option>
              <option value="phase">phase</option>
            </select>
          </div>
          {readerError && <p className="field-error">{readerError}</p>}
          {problem && <p className="field-error" data-testid="emb-problem">{problem}</p>}
          <button
            type="button"
            disabled={!!problem || running}
            data-testid="emb-start"
            onClick={() => {
              setFile(null);
              setRunShape({ iterations, panels: sources.length });
              setPace(NO_PACE);
              void start({ kind: 'tsne', params: { checkpoints: sources.map((s) => s.src!), dataset: ds, episodes: eps.episodes, stride, batch: 8, perplexity, iterations, earlyExaggeration: exaggeration, seed: 0 } });
            }}
          >
            Run t-SNE
          </button>
          <JobBar
            job={job}
            onPause={pause}
            onResume={resume}
            onCancel={cancel}
            testId="emb-job"
            unit="iterations"
            text={job.progress && runShape ? tsneProgressText(job.progress.step, runShape.iterations, runShape.panels) : undefined}
            etaSeconds={job.progress && runShape ? tsneEta(pace, job.progress.step, runShape.iterations, runShape.panels) : undefined}
          />
          <div className="row" style={{ marginTop: 8 }}>
            <FileButton
              label="Load t-SNE JSON…"
              title="Show the JSON that npm run tsne --out writes (or another t-SNE result with panels, points, tasks)"
              accept="application/json,.json"
              testId="emb-load"
              onFiles={([f]) => void loadFile(f)}
            />
            {file && (
              <span className="hint" data-testid="emb-file">
                showing {file.name}{' '}
                <button type="button" onClick={() => setFile(null)}>close</button>
              </span>
            )}
          </div>
          {parsed.error && <p className="field-error">{parsed.error}</p>}
          {fileErrors && (
            <div className="field-error" data-testid="emb-load-error">
              {fileErrors.name} is not a t-SNE result:
              <ul style={{ margin: '2px 0' }}>{fileErrors.errors.map((e) => <li key={e}>{e}</li>)}</ul>
            </div>
          )}
        </div>
        <CheckpointSources datasets={ids} defaultDataset={ds} />
      </div>
      <div>
        {result ? (
          <Panels key={file ? `file:${file.name}` : 'job'} result={result} reader={noFrames ? null : view.reader} ds={viewDs} noFrames={noFrames} color={color} />
        ) : (
          <div className="panel"><p className="muted" data-testid="emb-placeholder">{viewPlaceholder(job.state)}</p></div>
        )}
      </div>
    </div>
  );
}

/** The panels side by side; frames and Data-tab links only with a reader of the points' dataset (else `noFrames` says why). */
function Panels({ result, reader, ds, noFrames, color }: { result: TsneResult; reader: LeRobotReader | null; ds: string; noFrames: string | null; color: 'task' | 'phase' }) {
  const [hover, setHover] = useState<{ episode: number; t: number; image: LazyImage | null; label: string } | null>(null);
  const groups = useMemo(() => groupPoints(result.points, color, result.phases), [result, color]);
  const feature = result.feature === 'hidden' ? 'h' : 'φ';
  const onHover = async (i: number) => {
    const p = result.points[i];
    const label = `${p.instruction} · phase ${p.phase === null ? '—' : result.phases?.[p.phase] ? `${p.phase} (${result.phases[p.phase]})` : p.phase}`;
    let image: LazyImage | null = null;
    const cam = reader && Object.keys(reader.features).find((k) => k.startsWith('observation.images.'));
    if (reader && cam) {
      const d = await reader.getFrames(p.episode, p.t, p.t + 1, [cam]);
      const col = d.columns[cam];
      if (col?.dtype === 'image') image = col.data[0];
    }
    setHover({ episode: p.episode, t: p.t, image, label });
  };
  const link = (episode: number, t: number) => `#/data?ds=${encodeURIComponent(ds)}&ep=${episode}&t=${t}`;
  return (
    <div className="panel" data-testid="emb-view">
      <Verdict panels={result.panels} feature={feature} />
      <div className="row" style={{ alignItems: 'flex-start' }}>
        {result.panels.map((panel, k) => (
          <div key={k} style={{ flex: 1, minWidth: 280 }}>
            <h3>{panel.label} <span className="hint">KL {panel.kl >= 0 ? panel.kl.toFixed(3) : '—'}</span></h3>
            {panel.note && <p className="hint" style={{ color: 'var(--warn)' }}>{panel.note}</p>}
            <Scatter
              testId={`emb-plot-${k}`}
              data={groups.map((g, gi) => ({
                x: g.idx.map((i) => panel.x[i]),
                y: g.idx.map((i) => panel.y[i]),
                customdata: g.idx,
                text: g.idx.map((i) => `episode ${result.points[i].episode}, t = ${result.points[i].t}`),
                name: g.label,
                mode: 'markers',
                type: 'scattergl',
                marker: { size: 6, color: PALETTE[gi % PALETTE.length] },
                hovertemplate: `${g.label}<br>%{text}<extra></extra>`,
              }) as Data)}
              onHover={onHover}
              onClick={(i) => {
                if (!reader) return;
                const p = result.points[i];
                window.location.hash = link(p.episode, p.t);
              }}
            />
            <MetricsTable panels={result.panels} index={k} feature={feature} />
          </div>
        ))}
      </div>
      <div className="legend" data-testid="emb-legend">
        {groups.map((g, gi) => (
          <span key={g.label}><span className="swatch" style={{ background: PALETTE[gi % PALETTE.length] }} />{g.label}</span>
        ))}
      </div>
      {noFrames && <p className="hint" data-testid="emb-no-frames">No frame previews or Data-tab links: {noFrames}.</p>}
      <div className="row" data-testid="emb-hover" style={{ minHeight: 120 }}>
        {hover ? (
          <>
            {hover.image && <Frame name="hovered" image={hover.image} width={112} />}
            <p>
              episode {hover.episode}, t = {hover.t}<br />
              <span className="hint">{hover.label}</span><br />
              {reader && <a href={link(hover.episode, hover.t)}>open in the Data tab</a>}
            </p>
          </>
        ) : <p className="muted">Hover a point to see its episode, time and labels{reader ? ' and its frame; click it to open the episode in the Data tab' : ''}.</p>}
      </div>
    </div>
  );
}

/** A scatter whose hover/click report the point's index into result.points (customdata). */
function Scatter({ data, onHover, onClick, testId }: { data: Data[]; onHover(i: number): void; onClick(i: number): void; testId: string }) {
  const cb = useMemo(() => ({ onHover, onClick }), [onHover, onClick]);
  const ref = (node: HTMLDivElement | null) => {
    if (!node) return;
    void loadPlotly().then(async (Plotly) => {
      const gd: PlotlyHTMLElement = await Plotly.react(node, data, { ...BASE_LAYOUT, ...scatterLayout() } as Layout, { displaylogo: false, responsive: true });
      node.dataset.points = String(data.reduce((a, t) => a + ((t as { x?: unknown[] }).x?.length ?? 0), 0));
      if (!node.dataset.bound) {
        node.dataset.bound = '1';
        // The bundled plotly typings omit customdata; it is there at runtime.
        const idx = (e: unknown) => Number((e as { points: Array<{ customdata?: unknown }> }).points[0]?.customdata);
        gd.on('plotly_hover', (e) => Number.isInteger(idx(e)) && void cb.onHover(idx(e)));
        gd.on('plotly_click', (e) => Number.isInteger(idx(e)) && cb.onClick(idx(e)));
      }
    });
  };
  return <div ref={ref} className="plot" data-testid={testId} />;
}
