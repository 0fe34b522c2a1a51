/**
 * The per-adapter matmul autotune (src/engine/autotune.ts). On SwiftShader it is skipped
 * by default (the direct kernels run there, no tile applies), so these tests force it
 * with small shapes. The tune picks one of the variants the matmul tests check, and
 * the runtime's tiled products then use the picked tiles. A second open takes them from
 * the store without timing anything. A corrupt or unknown cache entry means a fresh
 * sweep, never an error.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { autotuneMatmul, fileTileStore, memoryTileStore, tileCacheKey } from '../../../src/engine/autotune';
import { MATMUL_TILE_VARIANTS, matmul, matmulTiles, matmulTilesFor } from '../../../src/engine/ops/matmul';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, tidy } from '../../../src/engine/tensor';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

const small = { shapes: { large: [64, 64, 32] as [number, number, number], small: [16, 16, 16] as [number, number, number] }, iters: 1, rounds: 1 };
const isVariant = (t: unknown) => MATMUL_TILE_VARIANTS.some((v) => JSON.stringify(v) === JSON.stringify(t));

describe('matmul autotune', () => {
  test('skipped on a software adapter unless forced: the default tiles stay', async () => {
    expect(rt.info.software).toBe(true);
    const r = await autotuneMatmul(rt, { store: memoryTileStore() });
    expect(r.source).toBe('skipped');
    expect(r.tiles).toEqual({ large: matmulTiles.large, small: matmulTiles.small });
  });

  test('forced: picks variants, the runtime uses them, and a second open reads the store without timing', async () => {
    const store = memoryTileStore();
    const first = await autotuneMatmul(rt, { ...small, store, force: true });
    expect(first.source).toBe('tuned');
    expect(isVariant(first.tiles.large) && isVariant(first.tiles.small)).toBe(true);
    expect(first.tuned!.ms.large).toHaveLength(MATMUL_TILE_VARIANTS.length);
    expect(first.tuned!.ms.large.every((ms) => ms > 0 && Number.isFinite(ms))).toBe(true);
    expect(matmulTilesFor(rt)).toEqual(first.tiles);
    expect(JSON.parse(store.get(tileCacheKey(rt.info))!).large).toEqual(first.tiles.large);

    // A tiled product without an explicit tile dispatches with the tuned tile's workgroup.
    const spy = vi.spyOn(rt, 'dispatch');
    const { matmulKernels } = await import('../../../src/engine/ops/matmul');
    matmulKernels.variant = 'tiled';
    try {
      tidy(() => matmul(fromArray(rt, new Float32Array(16 * 16), [16, 16]), fromArray(rt, new Float32Array(16 * 16), [16, 16])));
    } finally {
      matmulKernels.variant = 'auto';
    }
    const spec = spy.mock.calls.map(([s]) => s).find((s) => s.kernel.startsWith('matmul'))!;
    spy.mockRestore();
    expect(spec.constants).toMatchObject({ WG_X: first.tiles.small.wgX, WG_Y: first.tiles.small.wgY, TK: first.tiles.small.tk });

    const other = await Runtime.create();
    try {
      const d0 = other.dispatchCount;
      const again = await autotuneMatmul(other, { ...small, store, force: true });
      expect(again.source).toBe('cache');
      expect(again.tiles).toEqual(first.tiles);
      expect(other.dispatchCount).toBe(d0);
      expect(matmulTilesFor(other)).toEqual(first.tiles);
    } finally {
      other.destroy();
    }
  }, 120_000);

  test('a file store survives a corrupt file and an entry for unknown tiles by tuning again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prts-tiles-'));
    try {
      const path = join(dir, 'sub', 'tiles.json');
      const store = await fileTileStore(path);
      expect(store.get('x')).toBeNull();
      const key = tileCacheKey(rt.info);
      store.set(key, JSON.stringify({ large: { wgX: 3, wgY: 3, tk: 5 }, small: { wgX: 3, wgY: 3, tk: 5 } }));
      const r = await autotuneMatmul(rt, { ...small, store, force: true });
      expect(r.source).toBe('tuned');
      expect(JSON.parse(readFileSync(path, 'utf8'))[key]).toContain('"large"');
      writeFileSync(path, '{ not json');
      const again = await fileTileStore(path);
      expect(again.get(key)).toBeNull();
      expect((await autotuneMatmul(rt, { ...small, store: again, force: true })).source).toBe('tuned');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
