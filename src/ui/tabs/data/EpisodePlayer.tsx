/** Camera frames and state/action plots of one episode under a shared time cursor (URL `t`). */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ColumnData, EpisodeData, LazyImage, LeRobotReader } from '../../../data/index.ts';
import { Plot } from '../../components/Plot.tsx';
import { intParam } from '../../lib/route.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { channelSeries, dimNames, seriesAxes, unwrapNote } from './series.ts';

const SKIP = new Set(['timestamp', 'frame_index', 'episode_index', 'index', 'task_index', 'phase', 'phase_description']);
const PHASE_COLORS = ['rgba(76,139,245,0.08)', 'rgba(45,164,78,0.08)', 'rgba(191,135,0,0.10)', 'rgba(207,79,154,0.08)', 'rgba(130,80,223,0.08)'];

interface Phase {
  from: number;
  to: number;
  id: number;
  label: string;
}

export function phasesOf(data: EpisodeData): Phase[] {
  const col = data.columns.phase;
  if (!col || col.dtype === 'string' || col.dtype === 'image') return [];
  const desc = data.columns.phase_description;
  const label = (t: number) => (desc?.dtype === 'string' ? desc.data[t] : '');
  const out: Phase[] = [];
  for (let t = 0; t < data.length; t++) {
    const id = Number(col.data[t]);
    if (!out.length || out[out.length - 1].id !== id) out.push({ from: t, to: t + 1, id, label: label(t) || `phase ${id}` });
    else out[out.length - 1].to = t + 1;
  }
  return out;
}

export function EpisodePlayer({ reader, episode }: { reader: LeRobotReader; episode: number }) {
  const [params, setParams] = useTabParams();
  const [data, setData] = useState<EpisodeData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [playing, setPlaying] = useState(false);
  const info = reader.episode(episode);
  const t = intParam(params, 't', 0, 0, Math.max(0, info.length - 1));

  useEffect(() => {
    let live = true;
    setData(null);
    setError(null);
    reader.readEpisode(episode).then(
      (d) => live && setData(d),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [reader, episode]);

  // Playback advances the URL's t at the dataset's fps.
  const tRef = useRef(t);
  tRef.current = t;
  useEffect(() => {
    if (!playing) return;
    const id = setInterval(() => {
      const next = tRef.current + 1;
      if (next >= info.length) setPlaying(false);
      else setParams({ t: next });
    }, 1000 / (reader.info.fps || 20));
    return () => clearInterval(id);
  }, [playing, info.length, reader.info.fps, setParams]);

  const phases = useMemo(() => (data ? phasesOf(data) : []), [data]);
  const series = useMemo(() => {
    if (!data) return [];
    return Object.entries(data.columns)
      .filter(([k, c]) => !SKIP.has(k) && c.dtype !== 'image' && c.dtype !== 'string')
      .map(([k, c]) => ({ key: k, col: c as Exclude<ColumnData, { dtype: 'image' | 'string' }> }));
  }, [data]);
  const images = data ? Object.entries(data.columns).filter(([, c]) => c.dtype === 'image') : [];
  const videos = Object.entries(reader.features).filter(([, f]) => f.dtype === 'video').map(([k]) => k);
  const phaseAt = phases.find((p) => t >= p.from && t < p.to);

  return (
    <div className="panel" data-testid="episode-player">
      <div className="panel-head">
        <h2>Episode {episode}</h2>
        <span className="muted">{info.tasks.join(' / ')}</span>
        {info.meta.success === true && <span className="tag ok">success</span>}
        {info.meta.success === false && <span className="tag err">failure</span>}
      </div>
      {error && <p className="field-error">{error}</p>}
      <div className="row">
        <button type="button" onClick={() => setPlaying((p) => !p)} disabled={!data} data-testid="play">{playing ? 'Pause' : 'Play'}</button>
        <button type="button" onClick={() => setParams({ t: Math.max(0, t - 1) })}>◀</button>
        <input type="range" className="grow" min={0} max={Math.max(0, info.length - 1)} value={t} onChange={(e) => setParams({ t: e.target.value })} data-testid="time" style={{ width: 'auto' }} />
        <button type="button" onClick={() => setParams({ t: Math.min(info.length - 1, t + 1) })}>▶</button>
        <span className="mono">t = {t} / {info.length - 1} ({(t / (reader.info.fps || 20)).toFixed(2)} s)</span>
      </div>
      {phaseAt && <p><span className="tag">phase {phaseAt.id}</span> {phaseAt.label}</p>}
      <div className="row" style={{ alignItems: 'flex-start', margin: '8px 0' }}>
        {images.map(([k, c]) => (
          <Frame key={k} name={k} image={(c.data as LazyImage[])[t]} />
        ))}
        {videos.length > 0 && <p className="muted">Video features ({videos.join(', ')}) are not decoded in the player yet; image features are.</p>}
      </div>
      {!data && !error && <p className="muted">Loading episode…</p>}
      {series.map(({ key, col }) => (
        <SeriesPlot key={key} name={key} col={col} length={data!.length} t={t} phases={phases} names={dimNames(reader.features[key], key, col.shape.reduce((a, b) => a * b, 1))} onPick={(x) => setParams({ t: Math.round(x) })} />
      ))}
    </div>
  );
}

function Frame({ name, image }: { name: string; image: LazyImage | undefined }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    if (!image || !ref.current) return;
    try {
      const f = image.decode();
      const c = ref.current;
      c.width = f.width;
      c.height = f.height;
      const img = new ImageData(f.width, f.height);
      for (let i = 0, n = f.width * f.height; i < n; i++) {
        const s = i * f.channels;
        img.data[4 * i] = f.data[s];
        img.data[4 * i + 1] = f.data[f.channels >= 3 ? s + 1 : s];
        img.data[4 * i + 2] = f.data[f.channels >= 3 ? s + 2 : s];
        img.data[4 * i + 3] = f.channels === 4 ? f.data[s + 3] : 255;
      }
      c.getContext('2d')!.putImageData(img, 0, 0);
      setErr(null);
    } catch (e) {
      setErr((e as Error).message);
    }
  }, [image]);
  return (
    <figure style={{ margin: 0 }}>
      <canvas ref={ref} className="mask" style={{ width: 192, imageRendering: 'pixelated' }} data-testid={`frame-${name}`} />
      <figcaption className="hint">{name.replace('observation.images.', '')}</figcaption>
      {err && <p className="field-error">{err}</p>}
    </figure>
  );
}

function SeriesPlot({ name, col, length, t, phases, names, onPick }: {
  name: string;
  col: Exclude<ColumnData, { dtype: 'image' | 'string' }>;
  length: number;
  t: number;
  phases: Phase[];
  names: string[];
  onPick: (x: number) => void;
}) {
  const dim = names.length;
  // The names array is rebuilt on every render of the player; its content is what matters.
  const nameKey = names.join('\u0000');
  const series = useMemo(() => channelSeries(col.data as ArrayLike<number | bigint>, length, names), [col, length, nameKey]);
  const traces = useMemo(() => {
    const x = Array.from({ length }, (_, i) => i);
    return series.map((s) => ({ type: 'scatter', mode: 'lines', name: s.name, x, y: s.y, line: { width: 1.2 } }));
  }, [series, length]);
  const note = unwrapNote(series);
  const layout = useMemo(
    () => ({
      title: { text: name, font: { size: 12 }, x: 0.01, y: 0.98 },
      ...seriesAxes(length),
      showlegend: dim <= 10,
      legend: { orientation: 'v', x: 1.01, y: 1, font: { size: 10 } },
      shapes: [
        ...phases.map((p, i) => ({ type: 'rect', xref: 'x', yref: 'paper', x0: p.from - 0.5, x1: p.to - 0.5, y0: 0, y1: 1, fillcolor: PHASE_COLORS[i % PHASE_COLORS.length], line: { width: 0 }, layer: 'below' })),
        { type: 'line', xref: 'x', yref: 'paper', x0: t, x1: t, y0: 0, y1: 1, line: { color: '#cf222e', width: 1.5 } },
      ],
    }),
    [name, phases, t, dim, length],
  );
  return (
    <>
      <Plot data={traces} layout={layout} height={200} onClick={onPick} testId={`plot-${name}`} />
      {note && <p className="hint" data-testid={`unwrapped-${name}`}>{note}</p>}
    </>
  );
}
