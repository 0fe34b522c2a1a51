/** Pure helpers of the Embeddings tab (unit-tested in tests/unit/ui/embeddings.test.ts). */
import type { TsnePoint } from './result.ts';

// The result types and their parser live in result.ts (shared by the job and loaded files).
export { parseTsneResult, type TsnePoint, type TsneResult } from './result.ts';

/** "0-3,7" -> [0,1,2,3,7]; empty -> every episode. Errors name the bad part. */
export function parseEpisodeList(text: string, count: number): { episodes: number[]; error: string | null } {
  const s = text.trim();
  if (!s) return { episodes: Array.from({ length: count }, (_, i) => i), error: null };
  const out = new Set<number>();
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) return { episodes: [], error: `episodes: "${part}" is not a number or a range like 2-5` };
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return { episodes: [], error: `episodes: range "${part}" runs backwards` };
    if (b >= count) return { episodes: [], error: `episodes: ${b} is past the last episode (${count - 1})` };
    for (let i = a; i <= b; i++) out.add(i);
  }
  return { episodes: [...out].sort((x, y) => x - y), error: null };
}

/** Point indices per colour group (one legend entry each), in first-seen order; phases named from `phaseNames` when given. */
export function groupPoints(points: readonly TsnePoint[], by: 'task' | 'phase', phaseNames?: readonly string[] | null): { label: string; idx: number[] }[] {
  const groups = new Map<string, number[]>();
  points.forEach((p, i) => {
    const name = p.phase === null ? undefined : phaseNames?.[p.phase];
    const key = by === 'task' ? p.instruction : p.phase === null ? 'no phase' : name ? `phase ${p.phase} · ${name}` : `phase ${p.phase}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  });
  return [...groups].map(([label, idx]) => ({ label, idx }));
}

/**
 * Progress units the tsne job (worker/jobs/tsne.ts) spends on embedding each panel's
 * chunks before its iterations; its total is (iterations + EMBED_UNITS) per checkpoint.
 */
export const EMBED_UNITS = 10;

export interface TsneStage {
  /** 0-based panel (checkpoint) the job is on. */
  panel: number;
  phase: 'embedding' | 'tsne';
  /** t-SNE iteration within the panel (0 while embedding). */
  iteration: number;
}

export function tsneStage(step: number, iterations: number): TsneStage {
  const per = iterations + EMBED_UNITS;
  // A panel's last iteration lands on the next panel's first unit: count it to its own panel.
  const panel = step <= 0 ? 0 : Math.floor((step - 1) / per);
  const within = step - panel * per;
  return within < EMBED_UNITS ? { panel, phase: 'embedding', iteration: 0 } : { panel, phase: 'tsne', iteration: within - EMBED_UNITS };
}

/**
 * The progress line in the user's own units. The job's step counts embedding units and
 * both panels' iterations together (620 for 300 iterations and two checkpoints), which
 * read as "620 iterations" next to a 300-iteration setting.
 */
export function tsneProgressText(step: number, iterations: number, panels: number): string {
  const s = tsneStage(step, iterations);
  const panel = Math.min(s.panel, panels - 1);
  const of = panels > 1 ? `panel ${panel + 1} of ${panels}: ` : '';
  if (s.phase === 'embedding' && s.panel < panels) return `${of}embedding chunks`;
  return `${of}iteration ${Math.min(s.iteration, iterations)} / ${iterations}`;
}

/** What the ETA is estimated from: the first panel's embedding time and t-SNE pace. */
export interface TsnePace {
  /** Seconds until the first panel's iterations started (checkpoint load, embedding). */
  embedSec: number | null;
  /** The first t-SNE sample of the first panel. */
  anchor: { iteration: number; elapsed: number } | null;
  /** Seconds per iteration measured on the first panel since the anchor. */
  secPerIter: number | null;
  /** Iterations measured since the anchor. */
  measured: number;
}

export const NO_PACE: TsnePace = { embedSec: null, anchor: null, secPerIter: null, measured: 0 };

/** Iterations to measure before an ETA is shown. */
export const ETA_AFTER_ITERATIONS = 20;

export function trackTsnePace(pace: TsnePace, p: { step: number; elapsedSeconds: number }, iterations: number): TsnePace {
  const s = tsneStage(p.step, iterations);
  if (s.panel !== 0 || s.phase !== 'tsne') return pace;
  if (!pace.anchor) return { ...pace, embedSec: p.elapsedSeconds, anchor: { iteration: s.iteration, elapsed: p.elapsedSeconds } };
  const measured = s.iteration - pace.anchor.iteration;
  if (measured <= 0) return pace;
  return { ...pace, secPerIter: (p.elapsedSeconds - pace.anchor.elapsed) / measured, measured };
}

/**
 * Seconds left, from the t-SNE pace alone, or null until enough iterations are measured.
 * The runner's generic ETA multiplies every remaining unit by the pace of the first few,
 * which were the slow embedding ones: its first estimate came out about twice too long.
 */
export function tsneEta(pace: TsnePace, step: number, iterations: number, panels: number): number | null {
  if (pace.secPerIter === null || pace.embedSec === null || pace.measured < ETA_AFTER_ITERATIONS) return null;
  const s = tsneStage(step, iterations);
  const itersLeftHere = s.phase === 'embedding' ? iterations : Math.max(0, iterations - s.iteration);
  const laterPanels = Math.max(0, panels - s.panel - 1);
  const embedLeft = (s.phase === 'embedding' ? 1 : 0) + laterPanels;
  return (itersLeftHere + laterPanels * iterations) * pace.secPerIter + embedLeft * pace.embedSec;
}
