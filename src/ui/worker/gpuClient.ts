/**
 * The UI's handle on the GPU worker. Starts it, asks for the adapter, watches its
 * health and restarts it when it dies: an uncaught error, device loss, or no answer
 * to a ping for WATCHDOG_MS. Running jobs are then reported failed with the reason,
 * so the UI shows what happened instead of freezing on a silent worker.
 */
import * as Comlink from 'comlink';
import type { FatalReport, GpuWorkerApi, JobEvent, JobSpec } from '../../../worker/protocol.ts';
import { useGpuStore } from '../stores/gpu.ts';

const PING_EVERY_MS = 5_000;
const WATCHDOG_MS = 30_000;
/** Restarts after repeated crashes back off so a crash loop does not spin the CPU. */
const RESTART_DELAYS_MS = [200, 1_000, 5_000, 15_000];

type JobListener = (e: JobEvent) => void;

export interface WorkerCrash {
  message: string;
  /** Ids of the jobs that were running when the worker died. */
  jobIds: string[];
}

class GpuClient {
  private worker: Worker | null = null;
  private remote: Comlink.Remote<GpuWorkerApi> | null = null;
  private generation = 0;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastPong = 0;
  private liveJobs = new Set<string>();
  private crashListeners = new Set<(c: WorkerCrash) => void>();
  private ready: Promise<Comlink.Remote<GpuWorkerApi>> | null = null;
  private consecutiveCrashes = 0;

  /** Starts the worker (idempotent) and resolves once it answered init. */
  start(): Promise<Comlink.Remote<GpuWorkerApi>> {
    this.ready ??= this.spawn();
    return this.ready;
  }

  onCrash(cb: (c: WorkerCrash) => void): () => void {
    this.crashListeners.add(cb);
    return () => this.crashListeners.delete(cb);
  }

  /**
   * Starts a job; the returned id is unique for the page's lifetime. A restarted worker
   * numbers its jobs from 1 again, so worker ids are prefixed with the worker generation.
   */
  async startJob(spec: JobSpec, listener: JobListener): Promise<string> {
    const remote = await this.start();
    const gen = this.generation;
    const uiId = (workerId: string) => `w${gen}.${workerId}`;
    const workerId = await remote.start(
      spec,
      Comlink.proxy((e: JobEvent) => {
        const ev = { ...e, jobId: uiId(e.jobId) } as JobEvent;
        if (ev.type === 'state' && ev.state !== 'running' && ev.state !== 'paused') this.liveJobs.delete(ev.jobId);
        listener(ev);
      }),
    );
    const id = uiId(workerId);
    this.liveJobs.add(id);
    return id;
  }

  /** Forwards a control call to the worker that runs the job; jobs of a dead worker are gone. */
  private async control(id: string, op: 'pause' | 'resume' | 'cancel'): Promise<void> {
    const m = /^w(\d+)\.(.+)$/.exec(id);
    if (!m || Number(m[1]) !== this.generation || !this.remote) return;
    await this.remote[op](m[2]);
  }
  pause(id: string) {
    return this.control(id, 'pause');
  }
  resume(id: string) {
    return this.control(id, 'resume');
  }
  cancel(id: string) {
    return this.control(id, 'cancel');
  }
  async jobKinds() {
    return (await this.start()).jobKinds();
  }

  /** Kills the worker on purpose (the status bar's restart button, tests). */
  restart(reason = 'restarted by the user'): void {
    this.crash({ kind: 'uncaught', message: reason }, false);
  }

  private spawn(): Promise<Comlink.Remote<GpuWorkerApi>> {
    const gen = ++this.generation;
    const worker = new Worker(new URL('../../../worker/gpu.worker.ts', import.meta.url), { type: 'module', name: 'gpu' });
    this.worker = worker;
    const remote = Comlink.wrap<GpuWorkerApi>(worker);
    this.remote = remote;
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      if (gen === this.generation) this.crash({ kind: 'uncaught', message: e.message || 'the GPU worker failed to load or threw' });
    });
    this.lastPong = performance.now();
    this.pingTimer = setInterval(() => {
      if (gen !== this.generation) return;
      if (performance.now() - this.lastPong > WATCHDOG_MS) {
        this.crash({ kind: 'uncaught', message: `the GPU worker stopped answering for ${WATCHDOG_MS / 1000} s` });
        return;
      }
      remote.ping().then(
        () => {
          this.lastPong = performance.now();
        },
        () => undefined,
      );
    }, PING_EVERY_MS);

    return (async () => {
      await remote.onFatal(
        Comlink.proxy((r: FatalReport) => {
          if (gen === this.generation) this.crash(r);
        }),
      );
      const report = await remote.init();
      if (gen !== this.generation) return remote;
      if (report.ok) {
        this.consecutiveCrashes = 0;
        useGpuStore.setState({ status: 'ready', info: report.info, error: null });
      } else {
        useGpuStore.setState({ status: report.unavailable ? 'unavailable' : 'error', info: null, error: report.error });
      }
      return remote;
    })();
  }

  private crash(r: FatalReport, counts = true): void {
    const message = r.kind === 'device-lost' ? r.message : `GPU worker crashed: ${r.message}`;
    const jobIds = [...this.liveJobs];
    this.liveJobs.clear();
    for (const cb of this.crashListeners) cb({ message, jobIds });
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.remote?.[Comlink.releaseProxy]();
    this.worker?.terminate();
    this.worker = null;
    this.remote = null;
    this.generation++;
    const st = useGpuStore.getState();
    useGpuStore.setState({
      status: 'restarting',
      error: message,
      restarts: st.restarts + 1,
      crashes: counts ? [...st.crashes, { at: Date.now(), message }].slice(-20) : st.crashes,
    });
    const delay = RESTART_DELAYS_MS[Math.min(this.consecutiveCrashes, RESTART_DELAYS_MS.length - 1)];
    if (counts) this.consecutiveCrashes++;
    this.ready = new Promise((resolve) => setTimeout(resolve, delay)).then(() => this.spawn());
  }
}

export const gpuClient = new GpuClient();
