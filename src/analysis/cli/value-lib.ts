/**
 * Pure helpers of `npm run value` (src/analysis/cli/value.ts): episode selection, the
 * automatic wrong instruction, and a hand-written SVG of one value curve (docs/figures).
 */

/**
 * Dataset episode indices to evaluate: `indices` (null = all) intersected with the
 * episodes whose meta.init_index is in `initStates` (null = no filter).
 */
export function selectEpisodes(
  episodes: readonly { index: number; meta?: Record<string, unknown> }[],
  indices: readonly number[] | null,
  initStates: readonly number[] | null,
): number[] {
  const known = new Set(episodes.map((e) => e.index));
  if (indices) for (const i of indices) if (!known.has(i)) throw new RangeError(`episode ${i} does not exist (dataset has ${episodes.length} episodes)`);
  const want = indices ? new Set(indices) : null;
  const inits = initStates ? new Set(initStates) : null;
  return episodes
    .filter((e) => (!want || want.has(e.index)) && (!inits || (typeof e.meta?.init_index === 'number' && inits.has(e.meta.init_index as number))))
    .map((e) => e.index);
}

/** The next task after `own` in `tasks` (cyclically) that differs from it. */
export function autoWrongInstruction(tasks: readonly string[], own: string): string {
  const i = tasks.indexOf(own);
  for (let k = 1; k <= tasks.length; k++) {
    const t = tasks[(Math.max(i, 0) + k) % tasks.length];
    if (t !== own) return t;
  }
  throw new RangeError('the dataset has a single task; give --wrong-task "<instruction>"');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A small standalone SVG: V_true and V_wrong against t, with the y range of the data. */
export function valueCurveSvg(
  c: { t: readonly number[]; vTrue: readonly number[]; vWrong: readonly number[]; instruction: string; wrongInstruction: string; metrics: { fracTrueAbove: number; spearmanTime: number } },
  opts: { title?: string; width?: number; height?: number } = {},
): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 320;
  const m = { l: 56, r: 16, t: 40, b: 64 };
  const all = [...c.vTrue, ...c.vWrong];
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const t0 = c.t[0];
  const t1 = c.t[c.t.length - 1] > t0 ? c.t[c.t.length - 1] : t0 + 1;
  const x = (t: number) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - ((v - lo) / (hi - lo)) * (H - m.t - m.b);
  const path = (vs: readonly number[]) => vs.map((v, i) => `${i ? 'L' : 'M'}${x(c.t[i]).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const ticks = [lo + pad, (lo + hi) / 2, hi - pad];
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="16" font-size="12">${esc(opts.title ?? 'CRL value curve')}</text>`,
    `<text x="${m.l}" y="31" fill="#555">frac V_true &gt; V_wrong ${c.metrics.fracTrueAbove.toFixed(2)}, Spearman(V_true, t) ${Number.isNaN(c.metrics.spearmanTime) ? 'n/a' : c.metrics.spearmanTime.toFixed(2)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#888"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#888"/>`,
    ...ticks.map((v) => `<text x="${m.l - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(3)}</text>`),
    `<text x="${m.l}" y="${H - m.b + 14}">t = ${t0}</text>`,
    `<text x="${W - m.r}" y="${H - m.b + 14}" text-anchor="end">t = ${t1}</text>`,
    `<path d="${path(c.vTrue)}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
    `<path d="${path(c.vWrong)}" fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="5,3"/>`,
    `<line x1="${m.l}" y1="${H - 30}" x2="${m.l + 24}" y2="${H - 30}" stroke="#1f77b4" stroke-width="2"/>`,
    `<text x="${m.l + 30}" y="${H - 26}">V(true: "${esc(c.instruction)}")</text>`,
    `<line x1="${m.l}" y1="${H - 12}" x2="${m.l + 24}" y2="${H - 12}" stroke="#d62728" stroke-width="2" stroke-dasharray="5,3"/>`,
    `<text x="${m.l + 30}" y="${H - 8}">V(wrong: "${esc(c.wrongInstruction)}")</text>`,
    '</svg>',
  ];
  return lines.join('\n') + '\n';
}
