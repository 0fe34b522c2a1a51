/**
 * Hash routes: `#/<tab>?key=value&...`. The hash (not the path) carries the route so a
 * link works on any static host and under the server without rewrite rules, and a
 * shared link opens the same tab with the same state (preset, tile size, episode...).
 * Pure functions here; the React binding is in useRoute.ts.
 */
export interface Route {
  tab: string;
  params: Record<string, string>;
}

export function parseHash(hash: string, fallbackTab: string): Route {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const q = h.indexOf('?');
  const path = (q >= 0 ? h.slice(0, q) : h).replace(/^\/+|\/+$/g, '');
  const params: Record<string, string> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(h.slice(q + 1))) params[k] = v;
  }
  let tab = fallbackTab;
  if (path) {
    try {
      tab = decodeURIComponent(path);
    } catch {
      tab = path;
    }
  }
  return { tab, params };
}

/** Keys are sorted so the same state always gives the same link. */
export function formatHash(route: Route): string {
  const entries = Object.entries(route.params)
    .filter(([, v]) => v !== '' && v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const qs = new URLSearchParams(entries).toString();
  return `#/${encodeURIComponent(route.tab)}${qs ? `?${qs}` : ''}`;
}

/** Merges updates into params; a null or undefined value removes the key. */
export function withParams(route: Route, updates: Record<string, string | number | boolean | null | undefined>): Route {
  const params = { ...route.params };
  for (const [k, v] of Object.entries(updates)) {
    if (v === null || v === undefined) delete params[k];
    else params[k] = String(v);
  }
  return { tab: route.tab, params };
}

/** Reads an integer parameter clamped to [lo, hi]; anything unparsable gives `def`. */
export function intParam(params: Record<string, string>, key: string, def: number, lo: number, hi: number): number {
  const raw = params[key];
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!Number.isFinite(v)) return def;
  return Math.min(hi, Math.max(lo, Math.round(v)));
}

export function enumParam<T extends string>(params: Record<string, string>, key: string, allowed: readonly T[], def: T): T {
  const raw = params[key];
  return (allowed as readonly string[]).includes(raw ?? '') ? (raw as T) : def;
}
