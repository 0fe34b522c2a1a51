/**
 * A plotly chart that redraws with Plotly.react (cheap diffing) at most once per
 * animation frame, however often the data changes. plotly is loaded on first use.
 */
import { useEffect, useRef } from 'react';
import type { Config, Data, Layout, PlotlyHTMLElement } from 'plotly.js-dist-min';

type PlotlyT = typeof import('plotly.js-dist-min').default;
let plotlyP: Promise<PlotlyT> | null = null;
export function loadPlotly(): Promise<PlotlyT> {
  plotlyP ??= import('plotly.js-dist-min').then((m) => m.default);
  return plotlyP;
}

export const BASE_LAYOUT: Layout = {
  margin: { l: 50, r: 10, t: 10, b: 36 },
  font: { size: 11, family: 'system-ui, sans-serif' },
  paper_bgcolor: 'rgba(0,0,0,0)',
  plot_bgcolor: '#fff',
  legend: { orientation: 'h', y: 1.12 },
  xaxis: { gridcolor: '#eee', zeroline: false },
  yaxis: { gridcolor: '#eee', zeroline: false },
};

export function Plot({ data, layout, height = 280, onClick, testId }: {
  data: Data[];
  layout?: Layout;
  height?: number;
  onClick?: (x: number) => void;
  testId?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const frame = useRef<number | null>(null);
  const latest = useRef({ data, layout });
  latest.current = { data, layout };
  const clickRef = useRef(onClick);
  clickRef.current = onClick;

  useEffect(() => {
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      const node = el.current;
      if (!node) return;
      void loadPlotly().then(async (Plotly) => {
        const { data: d, layout: l } = latest.current;
        const gd: PlotlyHTMLElement = await Plotly.react(node, d, { ...BASE_LAYOUT, ...l, height }, { displaylogo: false, responsive: true } as Config);
        if (!node.dataset.bound) {
          node.dataset.bound = '1';
          gd.on('plotly_click', (e) => {
            const x = e.points[0]?.x;
            if (typeof x === 'number') clickRef.current?.(x);
          });
        }
        node.dataset.points = String(d.reduce((a, t) => a + (Array.isArray(t.x) ? t.x.length : 0), 0));
        // The traces' names, for tests and for reading the page without the SVG.
        node.dataset.series = d.map((t) => String((t as { name?: unknown }).name ?? '')).join('|');
      });
    });
  }, [data, layout, height]);

  useEffect(() => {
    const node = el.current;
    return () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      // StrictMode unmounts and remounts: a stale id here would block every later redraw.
      frame.current = null;
      if (node) {
        void loadPlotly().then((P) => P.purge(node));
        delete node.dataset.bound;
      }
    };
  }, []);

  return <div ref={el} className="plot" style={{ height }} data-testid={testId} />;
}
