/**
 * Matmul tiles tuned per adapter (issue 11). The tiled kernels take their tile as
 * parameters (MatmulTile). No one tile is best on every GPU: the register pressure,
 * shared memory and occupancy trade-offs differ. So when a device opens, every candidate
 * in MATMUL_TILE_VARIANTS is timed on one large and one small product, and the fastest of
 * each becomes the runtime's `large` and `small` tile (setMatmulTiles). The winners are
 * cached per adapter, so the sweep runs once per machine and browser profile. Node
 * caches in a JSON file, the browser in localStorage.
 *
 * Software adapters skip it: they run the direct kernel family, where no tile applies.
 */
import { fromArray, type Tensor } from './tensor';
import type { AcquireOptions, DeviceInfo } from './device';
import { Runtime } from './runtime';
import { MATMUL_TILE_VARIANTS, matmul, matmulKernels, matmulTilesFor, setMatmulTiles, type MatmulTile } from './ops/matmul';
import { Rng } from './random';

/** Where tuned tiles persist between processes. */
export interface TileStore {
  get(key: string): string | null;
  set(key: string, value: string): void;
}

export interface TunedTiles {
  large: MatmulTile;
  small: MatmulTile;
  /** Milliseconds per product of every variant, per shape (for the record). */
  ms: { large: number[]; small: number[] };
  shapes: { large: [number, number, number]; small: [number, number, number] };
}

const CACHE_VERSION = 1;

/** One cache entry per adapter and kernel revision. */
export function tileCacheKey(info: Pick<DeviceInfo, 'vendor' | 'architecture' | 'device' | 'description'>): string {
  return `prts-matmul-tiles@${CACHE_VERSION}|${info.vendor}|${info.architecture}|${info.device}|${info.description}`;
}

export function memoryTileStore(): TileStore {
  const m = new Map<string, string>();
  return { get: (k) => m.get(k) ?? null, set: (k, v) => void m.set(k, v) };
}

/** localStorage in a browser (null where there is none, e.g. in Node or a worker). */
export function browserTileStore(): TileStore | null {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (!ls) return null;
  return { get: (k) => ls.getItem(k), set: (k, v) => ls.setItem(k, v) };
}

/** A JSON file holding every adapter's entry (Node). Reads and writes are synchronous and
 * best-effort: an unreadable or unwritable cache means a sweep, never an error. */
export async function fileTileStore(path: string): Promise<TileStore> {
  const fs = await import(/* @vite-ignore */ 'node:fs');
  const pathMod = await import(/* @vite-ignore */ 'node:path');
  const read = (): Record<string, string> => {
    try {
      return JSON.parse(fs.readFileSync(path, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  };
  return {
    get: (k) => read()[k] ?? null,
    set: (k, v) => {
      try {
        fs.mkdirSync(pathMod.dirname(path), { recursive: true });
        const all = { ...read(), [k]: v };
        const tmp = `${path}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(all, null, 1));
        fs.renameSync(tmp, path);
      } catch {
        // A read-only home: tune again next time.
      }
    },
  };
}

/** The default store of this host: localStorage, or ~/.cache/prts-workbench/matmul-tiles.json. */
export async function defaultTileStore(): Promise<TileStore> {
  const browser = browserTileStore();
  if (browser) return browser;
  if (typeof process === 'undefined' || !process.versions?.node) return memoryTileStore();
  const os = await import(/* @vite-ignore */ 'node:os');
  const base = process.env.XDG_CACHE_HOME || `${os.homedir()}/.cache`;
  return fileTileStore(`${base}/prts-workbench/matmul-tiles.json`);
}

function parseTuned(text: string | null): TunedTiles | null {
  if (!text) return null;
  try {
    const t = JSON.parse(text) as TunedTiles;
    const known = (x: MatmulTile) => MATMUL_TILE_VARIANTS.some((v) => v.wgX === x?.wgX && v.wgY === x?.wgY && v.tk === x?.tk);
    return known(t.large) && known(t.small) ? t : null;
  } catch {
    return null;
  }
}

export interface TuneOptions {
  /** [M, N, K] of the large and small products (defaults: 1024 cubed and 256 cubed). */
  shapes?: { large: [number, number, number]; small: [number, number, number] };
  /** Products per timing (default 8) and timings per variant, the best kept (default 2). */
  iters?: number;
  rounds?: number;
}

async function timeTile(rt: Runtime, a: Tensor, b: Tensor, tile: MatmulTile, iters: number): Promise<number> {
  await rt.sync();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) matmul(a, b, {}, tile).dispose();
  await rt.sync();
  return (performance.now() - t0) / iters;
}

/** Times every variant on both shapes and returns the fastest of each (no side effects). */
export async function tuneMatmulTiles(rt: Runtime, opts: TuneOptions = {}): Promise<TunedTiles> {
  const shapes = opts.shapes ?? { large: [1024, 1024, 1024], small: [256, 256, 256] };
  const iters = opts.iters ?? 8;
  const rounds = opts.rounds ?? 2;
  const rng = new Rng(7);
  const ms: TunedTiles['ms'] = { large: [], small: [] };
  const best: Partial<Record<'large' | 'small', MatmulTile>> = {};
  for (const which of ['large', 'small'] as const) {
    const [M, N, K] = shapes[which];
    const a = fromArray(rt, new Float32Array(M * K).map(() => rng.uniform(-1, 1)), [M, K]);
    const b = fromArray(rt, new Float32Array(K * N).map(() => rng.uniform(-1, 1)), [K, N]);
    try {
      // The first product of a variant compiles its pipeline: not timed.
      for (const tile of MATMUL_TILE_VARIANTS) matmul(a, b, {}, tile).dispose();
      const times = MATMUL_TILE_VARIANTS.map(() => Infinity);
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < MATMUL_TILE_VARIANTS.length; i++) {
          times[i] = Math.min(times[i], await timeTile(rt, a, b, MATMUL_TILE_VARIANTS[i], iters));
        }
      }
      ms[which] = times.map((t) => Number(t.toFixed(4)));
      best[which] = MATMUL_TILE_VARIANTS[times.indexOf(Math.min(...times))];
    } finally {
      a.dispose();
      b.dispose();
    }
  }
  return { large: best.large!, small: best.small!, ms, shapes };
}

export interface AutotuneResult {
  source: 'cache' | 'tuned' | 'skipped';
  tiles: { large: MatmulTile; small: MatmulTile };
  tuned?: TunedTiles;
  ms: number;
}

/**
 * What a runtime does once its device opens: take the adapter's tiles from the store,
 * or tune and store them. Skipped on software adapters and when the kernel family is
 * forced to 'direct' (no tiles apply), unless `force`.
 */
export async function autotuneMatmul(
  rt: Runtime,
  opts: TuneOptions & { store?: TileStore; force?: boolean; retune?: boolean } = {},
): Promise<AutotuneResult> {
  const t0 = performance.now();
  if (!opts.force && (rt.info.software || matmulKernels.variant === 'direct')) {
    return { source: 'skipped', tiles: matmulTilesFor(rt), ms: 0 };
  }
  const store = opts.store ?? (await defaultTileStore());
  const key = tileCacheKey(rt.info);
  const cached = opts.retune ? null : parseTuned(store.get(key));
  if (cached) {
    setMatmulTiles(rt, cached);
    return { source: 'cache', tiles: { large: cached.large, small: cached.small }, tuned: cached, ms: performance.now() - t0 };
  }
  const tuned = await tuneMatmulTiles(rt, opts);
  setMatmulTiles(rt, tuned);
  store.set(key, JSON.stringify(tuned));
  return { source: 'tuned', tiles: { large: tuned.large, small: tuned.small }, tuned, ms: performance.now() - t0 };
}

/** Runtime.create plus the adapter's tuned matmul tiles: how CLIs and workers open a device.
 * PRTS_AUTOTUNE=0 skips the tuning, PRTS_AUTOTUNE=retune sweeps again. */
export async function openRuntime(opts?: AcquireOptions): Promise<Runtime> {
  const rt = await Runtime.create(opts);
  const env = typeof process !== 'undefined' ? process.env?.PRTS_AUTOTUNE : undefined;
  if (env !== '0') await autotuneMatmul(rt, { retune: env === 'retune' });
  return rt;
}
