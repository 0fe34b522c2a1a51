/** Layout and text of the Embeddings tab's view that do not need React (unit-tested). */
import type { Layout } from 'plotly.js-dist-min';

/**
 * The scatter's plotly layout. The legend is drawn by the tab in HTML below the panels:
 * plotly's own, placed over the plot area, covered the points, and it cut long task
 * instructions short.
 */
export function scatterLayout(): Partial<Layout> {
  return { height: 360, showlegend: false, margin: { l: 10, r: 10, t: 10, b: 10 }, xaxis: { visible: false }, yaxis: { visible: false }, hovermode: 'closest' };
}

/** The text where the panels will be, by the job's state. */
export function viewPlaceholder(state: string): string {
  if (state === 'starting' || state === 'running') return 'Computing the t-SNE: the panels appear here when it is done.';
  if (state === 'paused') return 'The t-SNE is paused: resume it to see the panels.';
  return 'Choose one or two checkpoints (e.g. with and without CRL), a dataset and episodes of several tasks (two or more episodes each, so k-NN has other episodes to ask), then Run t-SNE; or load the JSON of npm run tsne --out.';
}
