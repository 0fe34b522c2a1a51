/**
 * The GPU worker: owns the WebGPU device and runs jobs (training, kernels) off the UI
 * thread. Exposed with comlink as GpuWorkerApi (worker/protocol.ts).
 *
 * Failure handling: a job that throws is reported as a failed job and the worker
 * carries on. What leaves the worker unusable (device loss, an error outside any job)
 * is sent to the UI's onFatal callback; the UI then terminates this worker and starts
 * a fresh one (src/ui/worker/gpuClient.ts), so the page never freezes.
 */
import * as Comlink from 'comlink';
import { acquireDevice, WebGPUUnavailableError, type AcquiredDevice } from '../src/engine/device.ts';
import { setDeviceProvider } from './jobs/gpu.ts';
import { JOBS, THROUGHPUT_UNITS } from './jobs/index.ts';
import type { AdapterReport, FatalReport, GpuWorkerApi, JobEvent, JobSpec } from './protocol.ts';
import { describeError, JobRunner } from './runner.ts';

let acquired: Promise<AcquiredDevice> | null = null;
let fatalCb: ((r: FatalReport) => void) | null = null;
// A fatal report that happens before the UI registered its callback is kept for it.
let pendingFatal: FatalReport | null = null;

function reportFatal(r: FatalReport): void {
  if (fatalCb) {
    fatalCb(r);
  } else {
    pendingFatal = r;
  }
}

self.addEventListener('error', (e) => reportFatal({ kind: 'uncaught', message: e.message || 'uncaught error in the GPU worker' }));
self.addEventListener('unhandledrejection', (e) => reportFatal({ kind: 'uncaught', message: describeError(e.reason) }));

const runner = new JobRunner(JOBS, { throughputUnit: THROUGHPUT_UNITS });

const api: GpuWorkerApi = {
  async init(): Promise<AdapterReport> {
    acquired ??= acquireDevice().then((a) => {
      a.device.lost.then((info) => {
        // 'destroyed' is our own doing (never called here); anything else is a real loss.
        if (info.reason !== 'destroyed') reportFatal({ kind: 'device-lost', message: `GPU device lost: ${info.message || info.reason}` });
      });
      a.device.addEventListener('uncapturederror', (ev) => {
        console.error('WebGPU uncaptured error:', (ev as GPUUncapturedErrorEvent).error.message);
      });
      return a;
    });
    setDeviceProvider(() => acquired ?? Promise.reject(new Error('the GPU device was not acquired')));
    try {
      const a = await acquired;
      return { ok: true, info: a.info };
    } catch (e) {
      acquired = null;
      return { ok: false, error: describeError(e), unavailable: e instanceof WebGPUUnavailableError };
    }
  },
  async onFatal(cb) {
    fatalCb = cb;
    if (pendingFatal) {
      cb(pendingFatal);
      pendingFatal = null;
    }
  },
  async jobKinds() {
    return runner.availability();
  },
  async start(spec: JobSpec, onEvent: (e: JobEvent) => void) {
    return runner.start(spec, (e) => {
      // Checkpoint arrays are moved, not copied, to the UI thread.
      if (e.type === 'checkpoint') onEvent(Comlink.transfer(e, e.tensors.map((t) => t.data.buffer as ArrayBuffer)));
      else onEvent(e);
    });
  },
  async pause(id) {
    runner.pause(id);
  },
  async resume(id) {
    runner.resume(id);
  },
  async cancel(id) {
    runner.cancel(id);
  },
  async jobs() {
    return runner.list();
  },
  async ping() {
    return performance.now();
  },
};

Comlink.expose(api);
