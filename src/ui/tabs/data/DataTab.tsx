/**
 * Data tab: datasets from the server and from folders dropped on the page; the episode
 * list; the episode player (camera frames, state/action plots under one time cursor,
 * phases); dataset statistics. The dataset and episode are in the URL (#/data?ds=..&ep=..).
 */
import { useEffect, useMemo, useState } from 'react';
import { LeRobotReader, type DatasetIO } from '../../../data/index.ts';
import { serverDatasetIO } from '../../lib/datasetIO.ts';
import { collectDropped, datasetRoots, filesIO } from '../../lib/fileIO.ts';
import { intParam } from '../../lib/route.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { useServerStore } from '../../stores/server.ts';
import { create } from 'zustand';
import { EpisodePlayer } from './EpisodePlayer.tsx';
import { DatasetStats } from './DatasetStats.tsx';
import { episodeCountLabel } from './series.ts';

interface ServerDataset {
  id: string;
  total_episodes: number | null;
  total_frames: number | null;
  fps: number | null;
  robot_type: string | null;
}

/** Dropped folders live for the session (File objects cannot be persisted). */
const useLocalDatasets = create<{ local: Record<string, DatasetIO>; add(name: string, io: DatasetIO): string }>((set, get) => ({
  local: {},
  add(name, io) {
    let id = `local:${name}`;
    for (let k = 2; id in get().local; k++) id = `local:${name}-${k}`;
    set({ local: { ...get().local, [id]: io } });
    return id;
  },
}));

export default function DataTab() {
  const [params, setParams] = useTabParams();
  const serverState = useServerStore((s) => s.state);
  const local = useLocalDatasets((s) => s.local);
  const addLocal = useLocalDatasets((s) => s.add);
  const [serverList, setServerList] = useState<ServerDataset[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const [dropError, setDropError] = useState<string | null>(null);
  const ds = params.ds ?? null;
  const ep = intParam(params, 'ep', 0, 0, 1e9);

  useEffect(() => {
    if (serverState !== 'online') return;
    let live = true;
    fetch('/api/datasets')
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`GET /api/datasets: HTTP ${r.status}`))))
      .then((b: { datasets: ServerDataset[] }) => live && (setServerList(b.datasets), setListError(null)))
      .catch((e: Error) => live && setListError(e.message));
    return () => {
      live = false;
    };
  }, [serverState]);

  const onDrop = async (e: React.DragEvent) => {
    e.preventDefault();
    setOver(false);
    setDropError(null);
    try {
      const files = await collectDropped(e.dataTransfer.items);
      const roots = datasetRoots(files);
      if (!roots.length) throw new Error('no meta/info.json among the dropped files: drop a LeRobot dataset folder');
      let first: string | null = null;
      for (const r of roots) first ??= addLocal(r.name, filesIO(r.files));
      setParams({ ds: first, ep: null, t: null });
    } catch (err) {
      setDropError((err as Error).message);
    }
  };

  const io = useMemo<DatasetIO | null>(() => {
    if (!ds) return null;
    if (ds.startsWith('local:')) return local[ds] ?? null;
    return serverDatasetIO(ds);
  }, [ds, local]);

  return (
    <div className="cols3" onDragOver={(e) => (e.preventDefault(), setOver(true))} onDragLeave={() => setOver(false)} onDrop={onDrop}>
      <div>
        <div className="panel" data-testid="dataset-list">
          <h2>Datasets</h2>
          {serverState === 'offline' && <p className="muted">Server offline: only dropped folders. Start it with <code>npm start</code>.</p>}
          {listError && <p className="field-error">{listError}</p>}
          <table className="grid">
            <tbody>
              {serverList?.map((d) => (
                <tr key={d.id} className={d.id === ds ? 'selected' : ''} onClick={() => setParams({ ds: d.id, ep: null, t: null })}>
                  <td>{d.id}</td>
                  <td className="num">{d.total_episodes ?? '?'} ep</td>
                  <td className="num">{d.total_frames ?? '?'} fr</td>
                </tr>
              ))}
              {Object.keys(local).map((id) => (
                <tr key={id} className={id === ds ? 'selected' : ''} onClick={() => setParams({ ds: id, ep: null, t: null })}>
                  <td colSpan={3}>{id.slice(6)} <span className="tag">local</span></td>
                </tr>
              ))}
            </tbody>
          </table>
          {serverState === 'online' && serverList?.length === 0 && <p className="muted">The server has no datasets yet (generate one in the Sim tab).</p>}
          <div className={`dropzone ${over ? 'over' : ''}`} style={{ marginTop: 8 }}>Drop a LeRobot dataset folder here</div>
          {dropError && <p className="field-error">{dropError}</p>}
        </div>
        {io && ds && <DatasetPanel key={ds} io={io} ep={ep} onEpisode={(i) => setParams({ ep: i, t: null })} />}
      </div>
      <div>
        {!ds && <div className="panel"><h2>No dataset selected</h2><p className="muted">Pick a dataset on the left or drop a folder.</p></div>}
        {ds && !io && <div className="panel"><p className="field-error">Local dataset "{ds}" is gone (dropped files do not survive a reload). Drop the folder again.</p></div>}
        {io && ds && <EpisodeView key={ds} io={io} ep={ep} />}
      </div>
    </div>
  );
}

/** One reader per dataset, shared by the list and the player (module-level cache keyed by io). */
const readers = new WeakMap<DatasetIO, Promise<LeRobotReader>>();
export function readerFor(io: DatasetIO): Promise<LeRobotReader> {
  let r = readers.get(io);
  if (!r) {
    r = LeRobotReader.open(io);
    readers.set(io, r);
    r.catch(() => readers.delete(io));
  }
  return r;
}

export function useReader(io: DatasetIO): { reader: LeRobotReader | null; error: string | null } {
  const [state, setState] = useState<{ reader: LeRobotReader | null; error: string | null }>({ reader: null, error: null });
  useEffect(() => {
    let live = true;
    readerFor(io).then(
      (reader) => live && setState({ reader, error: null }),
      (e: Error) => live && setState({ reader: null, error: e.message }),
    );
    return () => {
      live = false;
    };
  }, [io]);
  return state;
}

function summarizePerturbation(p: unknown): string {
  if (p === null || p === undefined) return '—';
  if (typeof p !== 'object') return String(p);
  const keys = Object.entries(p as Record<string, unknown>).filter(([, v]) => v !== null && v !== false && v !== undefined).map(([k]) => k);
  return keys.length ? keys.join(', ') : 'none';
}

function DatasetPanel({ io, ep, onEpisode }: { io: DatasetIO; ep: number; onEpisode: (i: number) => void }) {
  const { reader, error } = useReader(io);
  const [filter, setFilter] = useState('');
  if (error) return <div className="panel"><p className="field-error">{error}</p></div>;
  if (!reader) return <div className="panel"><p className="muted">Opening…</p></div>;
  const q = filter.toLowerCase();
  const eps = reader.episodes.filter((e) => !q || e.tasks.some((t) => t.toLowerCase().includes(q)));
  return (
    <div className="panel" data-testid="episode-list">
      <div className="panel-head">
        <h2 data-testid="episode-count">{episodeCountLabel(eps.length, reader.episodes.length, q !== '')}</h2>
        <input placeholder="filter by task" value={filter} onChange={(e) => setFilter(e.target.value)} />
      </div>
      <div className="scroll">
        <table className="grid">
          <thead><tr><th className="num">#</th><th>task</th><th className="num">len</th><th>ok</th><th>perturbation</th></tr></thead>
          <tbody>
            {eps.map((e) => (
              <tr key={e.index} className={e.index === ep ? 'selected' : ''} onClick={() => onEpisode(e.index)}>
                <td className="num">{e.index}</td>
                <td title={e.tasks.join('\n')} style={{ maxWidth: 220, overflow: 'hidden', textOverflow: 'ellipsis' }}>{e.tasks[0] ?? '—'}</td>
                <td className="num">{e.length}</td>
                <td>{e.meta.success === true ? <span className="tag ok">✓</span> : e.meta.success === false ? <span className="tag err">✗</span> : '—'}</td>
                <td>{summarizePerturbation(e.meta.perturbation)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function EpisodeView({ io, ep }: { io: DatasetIO; ep: number }) {
  const { reader, error } = useReader(io);
  if (error) return <div className="panel"><p className="field-error">Could not open the dataset: {error}</p></div>;
  if (!reader) return <div className="panel"><p className="muted">Opening the dataset…</p></div>;
  return (
    <>
      {ep < reader.episodes.length ? <EpisodePlayer reader={reader} episode={ep} /> : <div className="panel"><p className="field-error">Episode {ep} does not exist (the dataset has {reader.episodes.length}).</p></div>}
      <DatasetStats reader={reader} />
    </>
  );
}
