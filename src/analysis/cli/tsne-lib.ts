/**
 * Pure helpers of `npm run tsne` (src/analysis/cli/tsne.ts): input checks that need no
 * GPU, the per-panel metrics, and the hand-written SVG figure (PRTS Fig. 5 layout: one
 * panel per checkpoint side by side; a row coloured by task, optionally one by phase).
 */
import type { SeparationMetrics } from '../separation.ts';
// Shared with the Embeddings tab's worker job; re-exported so the CLI's imports stay put.
export { panelMetrics, type PanelMetrics, type RowMetrics } from '../chunk-embeddings.ts';

/** What the checks need to know about a loaded checkpoint. */
export interface CheckpointSummary {
  dir: string;
  cameras: readonly string[];
  chunkLength: number;
  lambdaCrl: number;
  paramNames: readonly string[];
}

const PHI_TENSORS = ['crl.phi.w1', 'crl.phi.b1', 'crl.phi.w2'];

/**
 * Throws with the checkpoint's directory in the message unless every checkpoint has phi
 * heads and cameras the dataset has, and all agree on the cameras and chunk length
 * (otherwise they would not embed the same chunks).
 */
export function checkCheckpoints(cks: readonly CheckpointSummary[], datasetCameras: readonly string[]): void {
  for (const c of cks) {
    const missing = PHI_TENSORS.filter((n) => !c.paramNames.includes(n));
    if (missing.length) throw new RangeError(`--checkpoint ${c.dir}: no CRL phi head (model.safetensors lacks ${missing.join(', ')})`);
    const absent = c.cameras.filter((cam) => !datasetCameras.includes(cam));
    if (absent.length) throw new RangeError(`--checkpoint ${c.dir}: camera(s) ${absent.join(', ')} not in the dataset (it has ${datasetCameras.join(', ') || 'none'})`);
  }
  const a = cks[0];
  for (const c of cks.slice(1)) {
    if (c.cameras.join(',') !== a.cameras.join(',')) throw new RangeError(`cameras differ: ${a.dir} uses [${a.cameras.join(', ')}], ${c.dir} uses [${c.cameras.join(', ')}]; compare checkpoints that see the same cameras`);
    if (c.chunkLength !== a.chunkLength) throw new RangeError(`chunk lengths differ: ${a.dir} has ${a.chunkLength}, ${c.dir} has ${c.chunkLength}; the panels would not show the same chunks`);
  }
}

/** A note (long for the JSON and stderr, short for the figure) for checkpoints whose phi head never learned anything, or null. */
export function untrainedNote(c: { lambdaCrl: number; step: number }, feature: 'phi' | 'hidden'): { long: string; short: string } | null {
  if (c.step === 0) return { long: 'step 0: nothing is trained yet (initial weights)', short: 'step 0: untrained weights' };
  if (feature === 'phi' && c.lambdaCrl === 0) {
    return {
      long: 'lambda_crl = 0: the phi head is untrained (it never received a CRL gradient), so phi is a fixed random MLP of the BC-trained hidden state; this is the paper\'s "without CRL" picture',
      short: 'phi head untrained (lambda_crl = 0)',
    };
  }
  return null;
}

/** "kNN 0.83 (chance 0.17) · silh 0.21" for a panel title; NaN prints as n/a. */
export function metricLine(m: SeparationMetrics): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
  return `${m.knn.k}-NN ${f(m.knn.accuracy)} (chance ${f(m.knn.chance)}) · silhouette ${f(m.silhouette)}`;
}

// tab10, then the light tab20 shades: up to 20 distinguishable groups.
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94', '#f7b6d2', '#c7c7c7', '#dbdb8d', '#9edae5'];

export function colorOf(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface FigureRow {
  /** "task" or "phase": the row's colouring. */
  name: string;
  /** Group id per point (index into `names`), null for unlabelled points (drawn grey). */
  labels: readonly (number | null)[];
  names: readonly string[];
  /** One caption line per panel (its metrics for this row). */
  captions: readonly string[];
}

export interface FigureSpec {
  title: string;
  panels: readonly { label: string; note?: string | null; x: ArrayLike<number>; y: ArrayLike<number> }[];
  rows: readonly FigureRow[];
  /** Joint t-SNE: the panels share one coordinate frame, so they share the scale too. */
  sharedAxes?: boolean;
  panelSize?: number;
}

/**
 * A standalone SVG: one `<g class="panel">` per (row, checkpoint), each a square frame with
 * the points at equal aspect (t-SNE axes carry no units, so no ticks), the label and the
 * row's caption above, and a legend of the row's groups below the row.
 */
export function tsneFigureSvg(spec: FigureSpec): string {
  const S = spec.panelSize ?? 320;
  const gap = 24;
  const left = 16;
  const head = 48;
  const P = spec.panels.length;
  const W = left * 2 + P * S + (P - 1) * gap;
  const titleLines = wrap(spec.title, Math.floor((W - 2 * left) / 6.5));
  const out: string[] = [];
  let y0 = 12 + 16 * titleLines.length;
  const bounds = spec.panels.map((p) => box(p.x, p.y));
  const shared = spec.sharedAxes ? bounds.reduce((a, b) => ({ x0: Math.min(a.x0, b.x0), x1: Math.max(a.x1, b.x1), y0: Math.min(a.y0, b.y0), y1: Math.max(a.y1, b.y1) })) : null;
  for (const row of spec.rows) {
    const used = [...new Set(row.labels.filter((l): l is number => l !== null))].sort((a, b) => a - b);
    const entries = used.map((l) => ({ color: colorOf(l), text: row.names[l] ?? `${row.name} ${l}` }));
    if (row.labels.some((l) => l === null)) entries.push({ color: '#cccccc', text: `no ${row.name}` });
    // Columns as wide as the longest entry (about 6 px a character at 11 px), as many as fit.
    const colW = Math.min(W - 2 * left, 20 + 6 * Math.max(...entries.map((e) => e.text.length), 1));
    const cols = Math.max(1, Math.floor((W - 2 * left) / colW));
    for (let c = 0; c < P; c++) {
      const p = spec.panels[c];
      const px = left + c * (S + gap);
      const b = shared ?? bounds[c];
      const span = Math.max(b.x1 - b.x0, b.y1 - b.y0) || 1;
      const scale = (S - 16) / span;
      const cx = (b.x0 + b.x1) / 2;
      const cy = (b.y0 + b.y1) / 2;
      out.push(`<g class="panel" data-row="${esc(row.name)}" data-panel="${c}">`);
      out.push(`<text x="${px}" y="${y0 + 12}" font-size="12" font-weight="bold">${esc(p.label)} · by ${esc(row.name)}</text>`);
      out.push(`<text x="${px}" y="${y0 + 26}" fill="#444">${esc(row.captions[c] ?? '')}</text>`);
      if (p.note) out.push(`<text x="${px}" y="${y0 + 40}" fill="#a33">${esc(truncate(p.note, Math.floor(S / 6)))}</text>`);
      const top = y0 + head;
      out.push(`<rect x="${px}" y="${top}" width="${S}" height="${S}" fill="none" stroke="#bbb"/>`);
      // One <g> per colour keeps each point to ~35 bytes.
      const byColor = new Map<string, string[]>();
      for (let i = 0; i < row.labels.length; i++) {
        const l = row.labels[i];
        const col = l === null ? '#cccccc' : colorOf(l);
        const X = px + S / 2 + (p.x[i] - cx) * scale;
        const Y = top + S / 2 - (p.y[i] - cy) * scale;
        let list = byColor.get(col);
        if (!list) byColor.set(col, (list = []));
        list.push(`<circle cx="${X.toFixed(1)}" cy="${Y.toFixed(1)}" r="2.6"/>`);
      }
      for (const [col, list] of byColor) out.push(`<g fill="${col}" fill-opacity="0.8">${list.join('')}</g>`);
      out.push('</g>');
    }
    let ly = y0 + head + S + 18;
    entries.forEach((e, i) => {
      const lx = left + (i % cols) * colW;
      const yy = ly + Math.floor(i / cols) * 15;
      out.push(`<circle cx="${lx + 4}" cy="${yy - 4}" r="4" fill="${e.color}"/><text x="${lx + 12}" y="${yy}">${esc(truncate(e.text, Math.floor((colW - 16) / 5.5)))}</text>`);
    });
    ly += Math.ceil(entries.length / cols) * 15;
    y0 = ly + 12;
  }
  const H = y0;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    ...titleLines.map((l, i) => `<text x="${left}" y="${18 + 16 * i}" font-size="13">${esc(l)}</text>`),
    ...out,
    '</svg>',
  ].join('\n') + '\n';
}

function box(x: ArrayLike<number>, y: ArrayLike<number>): { x0: number; x1: number; y0: number; y1: number } {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < x.length; i++) {
    x0 = Math.min(x0, x[i]);
    x1 = Math.max(x1, x[i]);
    y0 = Math.min(y0, y[i]);
    y1 = Math.max(y1, y[i]);
  }
  return x.length ? { x0, x1, y0, y1 } : { x0: 0, x1: 1, y0: 0, y1: 1 };
}

/** Greedy word wrap into lines of at most n characters (a longer word gets its own line). */
function wrap(s: string, n: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const w of s.split(' ')) {
    if (cur && cur.length + 1 + w.length > n) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
