/**
 * The separation metrics under a t-SNE panel (src/analysis/separation.ts via panelMetrics):
 * by task and by phase, on the embedding and on the 2-D map. Each header's title says what
 * the number means; the better of two checkpoints is highlighted per cell.
 */
import { bestPanel, betterPanel, metricValue, RANKED, type MetricKey, type MetricRow, type TsnePanel } from './result.ts';

const COLUMNS = (f: string, k: number): { key: MetricKey; head: string; title: string }[] => [
  { key: 'knn', head: `${k}-NN ${f}`, title: `Leave-one-episode-out ${k}-NN accuracy on ${f} (cosine distance): the ${k} nearest chunks from OTHER episodes vote for a chunk's label (its own episode holds near-copies). 1 = every chunk classified right; compare with chance.` },
  { key: 'chance', head: 'chance', title: 'Expected accuracy of one neighbour drawn at random from the other episodes: the k-NN value an embedding that ignores the label would get.' },
  { key: 'silhouette', head: `silh. ${f}`, title: `Mean silhouette on ${f} (cosine distance), in [-1, 1]: 1 = tight, far-apart groups, 0 = overlapping, < 0 = mixed up. Same-episode chunks count, unlike k-NN.` },
  { key: 'knnMap', head: `${k}-NN map`, title: `The same ${k}-NN accuracy on the 2-D t-SNE map (euclidean). t-SNE keeps neighbourhoods, not distances: prefer the ${f} numbers.` },
  { key: 'silhouetteMap', head: 'silh. map', title: 'The silhouette on the 2-D t-SNE map (euclidean); cluster sizes and gaps in a t-SNE map mean little, so read it with care.' },
  { key: 'excluded', head: 'left out', title: 'Chunks left out of k-NN because their label occurs in one episode only: no other episode can vote for it. All left out = k-NN n/a (choose several episodes per task).' },
];

const ROW_TITLE: Record<MetricRow, string> = {
  task: 'Labels = the episode\'s task (instruction).',
  phase: 'Labels = the scripted expert\'s phase at the chunk start (dataset column "phase").',
};

function fmt(key: MetricKey, v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return key === 'excluded' ? String(v) : v.toFixed(2);
}

/** The metrics of panel `index` among `panels` (all of them, so cells can say which is best). */
export function MetricsTable({ panels, index, feature }: { panels: readonly TsnePanel[]; index: number; feature: string }) {
  const m = panels[index].metrics;
  if (!m) return <p className="hint" data-testid={`emb-metrics-${index}`}>no separation metrics in this result</p>;
  const cols = COLUMNS(feature, m.task.embedding.knn.k);
  const rows = (['task', 'phase'] as const).filter((r) => m[r]);
  return (
    <table className="grid" data-testid={`emb-metrics-${index}`} style={{ marginTop: 4 }}>
      <thead>
        <tr>
          <th />
          {cols.map((c) => <th key={c.key} className="num" title={c.title} style={{ cursor: 'help' }}>{c.head}</th>)}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r} style={{ cursor: 'default' }}>
            <th title={ROW_TITLE[r]}>{r}</th>
            {cols.map((c) => {
              const v = metricValue(m, r, c.key);
              const best = RANKED.includes(c.key) && bestPanel(panels.map((p) => (p.metrics ? metricValue(p.metrics, r, c.key) : NaN))) === index;
              return (
                <td key={c.key} className="num" data-metric={`${r}.${c.key}`} title={best ? 'higher than the other checkpoint' : undefined} style={best ? { fontWeight: 600, color: 'var(--ok)' } : undefined}>
                  {fmt(c.key, v)}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One line per label kind naming the checkpoint that separates it better (on the embedding), or nothing for one panel. */
export function Verdict({ panels, feature }: { panels: readonly TsnePanel[]; feature: string }) {
  const lines = (['task', 'phase'] as const).flatMap((row) => {
    const b = betterPanel(panels, row);
    if (!b) return [];
    const m = panels[b.index].metrics!;
    const what = b.by === 'knn' ? `${m.task.embedding.knn.k}-NN on ${feature}` : `silhouette on ${feature}`;
    const values = `${what} ${b.values.map((v) => v.toFixed(2)).join(' vs ')}`;
    const label = row === 'task' ? 'Tasks' : 'Phases';
    if (!b.separates) {
      const floor = b.by === 'knn' ? `chance ${m[row]!.embedding.knn.chance.toFixed(2)}` : '0';
      return [`${label}: neither checkpoint separates them (${values}; none above ${floor}).`];
    }
    return [`${label}: ${panels[b.index].label} separates better (${values}).`];
  });
  if (!lines.length) return null;
  return (
    <p data-testid="emb-verdict" style={{ margin: '4px 0' }}>
      {lines.map((l) => <span key={l} style={{ display: 'block' }}>{l}</span>)}
    </p>
  );
}
