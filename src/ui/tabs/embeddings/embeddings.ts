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
