/**
 * The worker's engine Runtime, shared by every GPU job. gpu.worker.ts installs the
 * device once it has acquired it; jobs await `runtime()`.
 */
import type { AcquiredDevice } from '../../src/engine/device.ts';
import { autotuneMatmul } from '../../src/engine/autotune.ts';
import { Runtime } from '../../src/engine/runtime.ts';

let provider: (() => Promise<AcquiredDevice>) | null = null;
let rt: Promise<Runtime> | null = null;

export function setDeviceProvider(p: () => Promise<AcquiredDevice>): void {
  provider = p;
  rt = null;
}

export function runtime(): Promise<Runtime> {
  if (!provider) return Promise.reject(new Error('the GPU worker has no device yet (init not called)'));
  // The adapter's matmul tiles are tuned once per worker (a worker has no localStorage, so
  // no cache: a sweep of well under a second on a GPU; none on a software adapter).
  rt ??= provider().then(async (a) => {
    const r = new Runtime(a.device, a.info);
    await autotuneMatmul(r);
    return r;
  });
  return rt;
}
