/** Dataset statistics from meta/stats.json (ranges, quantiles) and the episode index (per-task counts). */
import { useMemo, useState } from 'react';
import type { LeRobotReader } from '../../../data/index.ts';
import { formatNumber } from '../../lib/format.ts';
import { dimNames } from './series.ts';

export function DatasetStats({ reader }: { reader: LeRobotReader }) {
  const numeric = Object.entries(reader.stats).filter(([k]) => reader.features[k] && reader.features[k].dtype !== 'image' && reader.features[k].dtype !== 'video');
  const [key, setKey] = useState(numeric.find(([k]) => k === 'action')?.[0] ?? numeric[0]?.[0] ?? '');
  const perTask = useMemo(() => {
    const m = new Map<string, { episodes: number; frames: number; success: number; known: number }>();
    for (const e of reader.episodes) {
      const task = e.tasks[0] ?? '(none)';
      const r = m.get(task) ?? { episodes: 0, frames: 0, success: 0, known: 0 };
      r.episodes++;
      r.frames += e.length;
      if (typeof e.meta.success === 'boolean') {
        r.known++;
        if (e.meta.success) r.success++;
      }
      m.set(task, r);
    }
    return [...m.entries()].sort((a, b) => b[1].episodes - a[1].episodes);
  }, [reader]);
  const s = reader.stats[key];
  const names = s ? dimNames(reader.features[key], key, s.min.length) : [];

  return (
    <div className="panel" data-testid="dataset-stats">
      <h2>Dataset statistics</h2>
      <div className="stats">
        <div className="stat"><div className="v">{reader.info.total_episodes}</div><div className="k">episodes</div></div>
        <div className="stat"><div className="v">{reader.info.total_frames}</div><div className="k">frames</div></div>
        <div className="stat"><div className="v">{reader.info.fps}</div><div className="k">fps</div></div>
        <div className="stat"><div className="v">{reader.tasks.length}</div><div className="k">tasks</div></div>
        <div className="stat"><div className="v">{reader.version}</div><div className="k">format ({reader.info.robot_type ?? 'robot ?'})</div></div>
      </div>
      <h3>Per task</h3>
      <div className="scroll" style={{ maxHeight: 200 }}>
        <table className="grid">
          <thead><tr><th>task</th><th className="num">episodes</th><th className="num">frames</th><th className="num">success</th></tr></thead>
          <tbody>
            {perTask.map(([task, r]) => (
              <tr key={task}><td>{task}</td><td className="num">{r.episodes}</td><td className="num">{r.frames}</td><td className="num">{r.known ? `${((100 * r.success) / r.known).toFixed(0)}%` : '—'}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
      {numeric.length > 0 && (
        <>
          <h3>
            Ranges and quantiles of{' '}
            <select value={key} onChange={(e) => setKey(e.target.value)}>
              {numeric.map(([k]) => <option key={k} value={k}>{k}</option>)}
            </select>
          </h3>
          {s && (
            <div className="scroll" style={{ maxHeight: 260 }}>
              <table className="grid">
                <thead><tr><th>channel</th>{['min', 'q01', 'q10', 'q50', 'q90', 'q99', 'max', 'mean', 'std'].map((h) => <th key={h} className="num">{h}</th>)}</tr></thead>
                <tbody>
                  {s.min.map((_, d) => (
                    <tr key={d}>
                      <td title={`dimension ${d}`}>{names[d]}</td>
                      {[s.min, s.q01, s.q10, s.q50, s.q90, s.q99, s.max, s.mean, s.std].map((arr, i) => <td key={i} className="num">{formatNumber(arr?.[d], 3)}</td>)}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </div>
  );
}
