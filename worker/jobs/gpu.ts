/**
 * The worker's engine Runtime, shared by every GPU job. gpu.worker.ts installs the
 * device once it has acquired it; jobs await `runtime()`.
 */
import type { AcquiredDevice } from '../../src/engine/device.ts';
import { Runtime } from '../../src/engine/runtime.ts';

let provider: (() => Promise<AcquiredDevice>) | null = null;
let rt: Promise<Runtime> | null = null;

export function setDeviceProvider(p: () => Promise<AcquiredDevice>): void {
  provider = p;
  rt = null;
}

export function runtime(): Promise<Runtime> {
  if (!provider) return Promise.reject(new Error('the GPU worker has no device yet (init not called)'));
  rt ??= provider().then((a) => new Runtime(a.device, a.info));
  return rt;
}
