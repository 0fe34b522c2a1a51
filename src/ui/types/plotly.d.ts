/** The slice of plotly.js the workbench uses (the dist bundle ships no types). */
declare module 'plotly.js-dist-min' {
  export interface PlotlyHTMLElement extends HTMLElement {
    on(event: 'plotly_click' | 'plotly_hover', cb: (e: { points: { x: number | string; y: number; curveNumber: number }[] }) => void): void;
    removeAllListeners?(event: string): void;
  }
  export type Data = Record<string, unknown>;
  export type Layout = Record<string, unknown>;
  export type Config = Record<string, unknown>;
  const Plotly: {
    react(el: HTMLElement, data: Data[], layout?: Layout, config?: Config): Promise<PlotlyHTMLElement>;
    purge(el: HTMLElement): void;
    Plots: { resize(el: HTMLElement): void };
  };
  export default Plotly;
}
