/**
 * Loading MuJoCo's official wasm build once per process/tab. The same wasm runs in
 * Node and in the browser, which is what makes rollouts bit-identical across hosts
 * (DESIGN.md 5). Only the way the .wasm file is located differs per host.
 */
import loadMujocoModule, { type MainModule } from '@mujoco/mujoco';
// Vite turns this into the file's served URL: /node_modules/... under the dev server, a
// hashed copy under dist/assets in a production build (what `npm start` serves).
import bundledWasmUrl from '@mujoco/mujoco/mujoco.wasm?url';

export type Mujoco = MainModule;

let pending: Promise<Mujoco> | null = null;
let wasmUrlOverride: string | null = null;

/** Where the browser fetches mujoco.wasm from, when not from the app's own bundle. */
export function setMujocoWasmUrl(url: string): void {
  if (pending) throw new Error('setMujocoWasmUrl must be called before the first loadMujoco()');
  wasmUrlOverride = url;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
}

/** The shared MuJoCo module (loaded on first call). */
export function loadMujoco(): Promise<Mujoco> {
  if (!pending) {
    const opts: Record<string, unknown> = {};
    if (!isNode()) {
      // Vite pre-bundles dependencies into .vite/deps, which breaks the module's own
      // `new URL('mujoco.wasm', import.meta.url)`; point at the bundled file instead.
      const url = wasmUrlOverride ?? bundledWasmUrl;
      opts.locateFile = (p: string) => (p.endsWith('.wasm') ? url : p);
    }
    pending = loadMujocoModule(opts).catch((e: unknown) => {
      pending = null;
      throw new Error(`Failed to load the MuJoCo wasm module: ${e instanceof Error ? e.message : String(e)}`);
    });
  }
  return pending;
}
