/**
 * Value tab (PRTS Fig. 9): V(s_t, a_t, l) = phi . psi at every chunk start of one dataset
 * episode, under the episode's instruction and a wrong one (another task of the dataset),
 * computed in the GPU worker; both curves over time with the expert's phases as bands,
 * the camera frame at the shared cursor, and the episode's metrics (src/analysis).
 * URL: #/value?ckpt=&ds=&ep=&wrong=&t=
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { Data, Layout } from 'plotly.js-dist-min';
import type { EpisodeData, LazyImage, LeRobotReader } from '../../../data/index.ts';
import { serverDatasetIO } from '../../lib/datasetIO.ts';
import { Plot } from '../../components/Plot.tsx';
import { useDemoDefaults, type DemoDefaults } from '../../lib/demoRun.ts';
import { intParam } from '../../lib/route.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { phasesOf } from '../data/EpisodePlayer.tsx';
import { readerFor } from '../data/DataTab.tsx';
import { JobBar } from '../sim/JobBar.tsx';
import { useServiceJob } from '../sim/useJob.ts';
import { CheckpointSelect, CheckpointSources } from './CheckpointPicker.tsx';
import { sourceFor, useCheckpoints } from './checkpoints.ts';
import { useServerDatasets } from './serverData.ts';
import { CHUNKS_LABEL, parseValueResult, valueProgressText, type ValueResult } from './result.ts';

const BAND_COLORS = ['rgba(76,139,245,0.10)', 'rgba(45,164,78,0.10)', 'rgba(191,135,0,0.12)', 'rgba(207,79,154,0.10)', 'rgba(130,80,223,0.10)'];

export function useDatasetReader(ds: string): { reader: LeRobotReader | null; error: string | null } {
  const [st, setSt] = useState<{ reader: LeRobotReader | null; error: string | null }>({ reader: null, error: null });
  useEffect(() => {
    if (!ds) return setSt({ reader: null, error: null });
    let live = true;
    readerFor(serverDatasetIO(ds)).then(
      (reader) => live && setSt({ reader, error: null }),
      (e: Error) => live && setSt({ reader: null, error: e.message }),
    );
    return () => {
      live = false;
    };
  }, [ds]);
  return st;
}

/** Entered with no choices: the shipped demo run on its held-out dataset. */
const demoParams = (d: DemoDefaults) => ({ ckpt: d.run, ds: d.dataset });

export default function ValueTab() {
  const [params, setParams] = useTabParams();
  useDemoDefaults(params, demoParams);
  const { ids, error: dsError } = useServerDatasets();
  const ds = params.ds ?? '';
  const ckpt = params.ckpt ?? '';
  const { reader, error: readerError } = useDatasetReader(ds);
  const ep = intParam(params, 'ep', 0, 0, 1e9);
  const dropped = useCheckpoints((s) => s.dropped);
  const { job, start, pause, resume, cancel, running } = useServiceJob();
  const [stride, setStride] = useState(1);

  const tasks = useMemo(() => (reader ? [...new Set(reader.episodes.flatMap((e) => e.tasks))] : []), [reader]);
  const info = reader && ep < reader.episodes.length ? reader.episodes[ep] : null;
  const trueInstr = info?.tasks[0] ?? '';
  const wrongChoices = tasks.filter((t) => t !== trueInstr);
  const wrong = params.wrong && wrongChoices.includes(params.wrong) ? params.wrong : (wrongChoices[0] ?? '');
  const source = sourceFor(ckpt, dropped);
  const problem = !ckpt ? 'choose a checkpoint' : !source ? `checkpoint "${ckpt}" is gone (dropped folders do not survive a reload)` : !ds ? 'choose a dataset' : !info ? 'choose an episode' : !wrong ? 'the dataset has a single task: a wrong instruction needs another task' : null;
  const result: ValueResult | null = job.state === 'done' && job.result ? parseValueResult(job.result) : null;

  return (
    <div className="cols3" data-testid="value-tab">
      <div>
        <div className="panel">
          <h2>Value curve</h2>
          {dsError && <p className="field-error">{dsError}</p>}
          <div className="form">
            <CheckpointSelect value={ckpt} onChange={(id) => setParams({ ckpt: id || null })} testId="value-ckpt" label="checkpoint" />
            <label htmlFor="value-ds">dataset</label>
            <select id="value-ds" value={ds} onChange={(e) => setParams({ ds: e.target.value || null, ep: null, wrong: null, t: null })} data-testid="value-ds">
              <option value="">— choose —</option>
              {ids.map((d) => <option key={d} value={d}>{d}</option>)}
            </select>
            <label htmlFor="value-ep">episode</label>
            <select id="value-ep" value={ep} onChange={(e) => setParams({ ep: Number(e.target.value), wrong: null, t: null })} data-testid="value-ep">
              {reader?.episodes.map((e) => <option key={e.index} value={e.index}>#{e.index} · {e.tasks[0]} · {e.length} frames</option>)}
            </select>
            <label htmlFor="value-wrong">wrong instruction</label>
            <select id="value-wrong" value={wrong} onChange={(e) => setParams({ wrong: e.target.value })} data-testid="value-wrong">
              {wrongChoices.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
            <label htmlFor="value-stride">chunk stride</label>
            <input id="value-stride" type="number" min={1} value={stride} onChange={(e) => setStride(Math.max(1, Math.round(Number(e.target.value)) || 1))} />
          </div>
          {readerError && <p className="field-error">{readerError}</p>}
          {problem && <p className="field-error" data-testid="value-problem">{problem}</p>}
          <button
            type="button"
            disabled={!!problem || running}
            data-testid="value-start"
            onClick={() => source && void start({ kind: 'value', params: { checkpoint: source, dataset: ds, episode: ep, wrongInstruction: wrong, stride, batch: 8 } })}
          >
            Compute V
          </button>
          <JobBar job={job} onPause={pause} onResume={resume} onCancel={cancel} testId="value-job" unit="chunks" text={job.progress ? valueProgressText(job.progress.step, job.progress.total) : undefined} />
        </div>
        <CheckpointSources datasets={ids} defaultDataset={ds} />
      </div>
      <div>
        {result && reader ? <ValueView result={result} reader={reader} /> : <div className="panel"><p className="muted">Choose a checkpoint, a dataset episode and a wrong instruction, then Compute V.</p></div>}
      </div>
    </div>
  );
}

function ValueView({ result, reader }: { result: ValueResult; reader: LeRobotReader }) {
  const [params, setParams] = useTabParams();
  const [data, setData] = useState<EpisodeData | null>(null);
  const t = intParam(params, 't', 0, 0, Math.max(0, result.T - 1));
  useEffect(() => {
    let live = true;
    reader.readEpisode(result.episode).then((d) => live && setData(d), () => live && setData(null));
    return () => {
      live = false;
    };
  }, [reader, result.episode]);
  const phases = useMemo(() => (data ? phasesOf(data) : []), [data]);
  const plotData: Data[] = useMemo(() => [
    { x: result.t, y: result.vTrue, name: `true: ${result.instruction}`, mode: 'lines', line: { color: '#2da44e' } },
    { x: result.t, y: result.vWrong, name: `wrong: ${result.wrongInstruction}`, mode: 'lines', line: { color: '#cf222e', dash: 'dot' } },
  ], [result]);
  const layout: Partial<Layout> = useMemo(() => {
    const shapes: Record<string, unknown>[] = phases.map((p, i) => ({ type: 'rect', xref: 'x', yref: 'paper', x0: p.from - 0.5, x1: p.to - 0.5, y0: 0, y1: 1, fillcolor: BAND_COLORS[p.id % BAND_COLORS.length] ?? BAND_COLORS[i % BAND_COLORS.length], line: { width: 0 }, layer: 'below' }));
    shapes.push({ type: 'line', xref: 'x', yref: 'paper', x0: t, x1: t, y0: 0, y1: 1, line: { color: '#24292f', width: 1 } });
    return { shapes, xaxis: { title: { text: 't (chunk start)' }, range: [0, result.T - 1] }, yaxis: { title: { text: 'V = φ·ψ' } } };
  }, [phases, t, result.T]);
  const images = data ? Object.entries(data.columns).filter(([, c]) => c.dtype === 'image') : [];
  const phaseAt = phases.find((p) => t >= p.from && t < p.to);
  const m = result.metrics;
  return (
    <div className="panel" data-testid="value-view">
      <div className="stats">
        <div className="stat"><div className="v" data-testid="value-frac">{(100 * m.fracTrueAbove).toFixed(1)}%</div><div className="k">frames with V_true &gt; V_wrong</div></div>
        <div className="stat"><div className="v" data-testid="value-spearman">{m.spearmanTime === null || !Number.isFinite(m.spearmanTime) ? '—' : m.spearmanTime.toFixed(3)}</div><div className="k">Spearman(V_true, t)</div></div>
        <div className="stat"><div className="v" data-testid="value-chunks">{m.frames}</div><div className="k">{CHUNKS_LABEL}</div></div>
      </div>
      <Plot data={plotData} layout={layout as Layout} height={300} onClick={(x) => setParams({ t: Math.round(x) })} testId="value-plot" />
      <input type="range" style={{ width: '100%' }} min={0} max={result.T - 1} value={t} onChange={(e) => setParams({ t: Number(e.target.value) })} data-testid="value-cursor" />
      <div className="row" style={{ alignItems: 'flex-start' }}>
        {images.map(([k, c]) => <Frame key={k} name={k} image={(c.data as LazyImage[])[t]} />)}
        <div>
          <p className="mono">t = {t} / {result.T - 1}</p>
          {phaseAt && <p><span className="tag">phase {phaseAt.id}</span> {phaseAt.label}</p>}
        </div>
      </div>
    </div>
  );
}

export function Frame({ name, image, width = 160 }: { name: string; image: LazyImage | undefined; width?: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!image || !ref.current) return;
    const f = image.decode();
    const c = ref.current;
    c.width = f.width;
    c.height = f.height;
    const img = new ImageData(f.width, f.height);
    for (let p = 0; p < f.width * f.height; p++) {
      for (let k = 0; k < 3; k++) img.data[4 * p + k] = f.data[p * f.channels + Math.min(k, f.channels - 1)];
      img.data[4 * p + 3] = 255;
    }
    c.getContext('2d')!.putImageData(img, 0, 0);
  }, [image]);
  return (
    <figure style={{ margin: 0 }}>
      <canvas ref={ref} style={{ width, imageRendering: 'pixelated' }} data-testid={`frame-${name}`} />
      <figcaption className="hint">{name.replace('observation.images.', '')}</figcaption>
    </figure>
  );
}
