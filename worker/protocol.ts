/**
 * Typed contract between the UI thread and the GPU worker (comlink RPC). Only plain
 * data crosses: numbers, strings, JSON and transferable typed arrays. GPU buffers stay
 * in the worker (DESIGN.md 1); checkpoints are read back to Float32Arrays first.
 *
 * Adding a job type: add its parameter type to JobParams, its function to
 * worker/jobs/index.ts, and (for the UI) an entry in src/ui/tabs/train/jobs.ts.
 */
import type { DeviceInfo } from '../src/engine/device.ts';
import type { WorkbenchConfig } from '../src/model/config.ts';
import type { PerturbationKind } from '../src/sim/perturb.ts';
import type { RolloutSpec } from '../src/train/rollout-record.ts';
import type { CheckpointSource } from './jobs/runs.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Parameters of each job kind. */
export interface JobParams {
  /**
   * The engine's tiny end-to-end check (src/train/tinycheck.ts): a 2-layer transformer
   * with the PRTS role layout trained for a few steps on synthetic documents.
   */
  tinycheck: { config: WorkbenchConfig; checkpointEvery: number };
  /**
   * A small MLP fitted on the CPU inside the worker (no GPU): exercises progress,
   * pause/resume/cancel and checkpoints end to end on any machine, and is a baseline
   * for how fast the worker loop itself can go.
   */
  /**
   * Scripted-expert dataset generation (worker/jobs/gen.ts): episodesPerTask episodes of
   * each task from fixed initial states 0.., perturbed per episode from `seed`, uploaded
   * to the server as dataset `datasetId` with the operator token.
   */
  gen: { tasks: string[]; episodesPerTask: number; size: number; perturb: PerturbationKind[]; seed: number; datasetId: string; token: string };
  /**
   * PRTS pre-training on a server dataset for `steps` steps (worker/jobs/pretrain.ts);
   * the checkpoint is kept in IndexedDB as browser run `name`, saved every
   * `checkpointEvery` steps (0 or absent: at the end), at the end and on cancel.
   * `resume`: continue run `name` from its saved checkpoint, with its saved config
   * and tokenizers (`config`, needed for a new run, is then not read), until step `steps`.
   */
  pretrain: { dataset: string; config?: WorkbenchConfig; steps: number; name: string; checkpointEvery?: number; resume?: boolean };
  /**
   * PRTS post-training (worker/jobs/posttrain.ts): a fresh DiT on pre-training run
   * `source`, flow matching on a server dataset for `steps` steps, saved as a new browser
   * run `name` every `checkpointEvery` steps (0: at the end), at the end and on cancel.
   * `resume`: continue post-training run `name` until step `steps` (`source`, `seed` and
   * `freezeBackbone` then come from its checkpoint).
   */
  posttrain: { source: string; dataset: string; steps: number; seed: number; freezeBackbone: boolean; name: string; checkpointEvery: number; resume?: boolean };
  /**
   * One episode of a PRTS checkpoint in the simulation for the Sim tab's viewer
   * (worker/jobs/rollout.ts, src/train/rollout.ts); the result is a RolloutResultJson.
   */
  rollout: RolloutSpec & { checkpoint: CheckpointSource; criticCheckpoint?: CheckpointSource };
  /** V = phi . psi over one episode under its instruction and a wrong one (worker/jobs/value.ts). */
  value: { checkpoint: CheckpointSource; dataset: string; episode: number; wrongInstruction: string; stride: number; batch: number };
  /** t-SNE of phi for the chunks of `episodes`, one panel per checkpoint (worker/jobs/tsne.ts). */
  tsne: {
    checkpoints: CheckpointSource[];
    dataset: string;
    episodes: number[];
    stride: number;
    batch: number;
    perplexity: number;
    iterations: number;
    earlyExaggeration: number;
    seed: number;
  };
  /** Engine kernels vs their float64 references, on this browser's WebGPU (worker/jobs/selftest.ts). */
  selftest: { seed: number };
  'cpu-mlp': {
    hidden: number;
    steps: number;
    batchSize: number;
    lr: number;
    seed: number;
    checkpointEvery: number;
    /** Continue from a checkpoint's weights (names mlp.w1, mlp.b1, mlp.w2, mlp.b2). */
    init?: TensorRecord[];
  };
}

export type JobKind = keyof JobParams;
export type JobSpec = { [K in JobKind]: { kind: K; params: JobParams[K] } }[JobKind];

export type JobState = 'running' | 'paused' | 'done' | 'cancelled' | 'failed';

export interface JobProgress {
  step: number;
  total: number;
  /** Named scalar losses of this step (e.g. { total, bc, crl }). */
  losses: Record<string, number>;
  /** Items per second over recent steps (excludes time spent paused). */
  throughput: number;
  /** What `throughput` counts, e.g. "tokens" or "samples". */
  throughputUnit: string;
  /** Seconds left at the recent pace; null until a pace is known. */
  etaSeconds: number | null;
  /** Seconds spent running (paused time excluded). */
  elapsedSeconds: number;
}

/** A named f32 tensor read back from the GPU; `data` is transferred, not copied. */
export interface TensorRecord {
  name: string;
  shape: number[];
  data: Float32Array;
}

export type JobEvent =
  | { type: 'progress'; jobId: string; progress: JobProgress }
  | { type: 'state'; jobId: string; state: JobState; error?: string }
  | { type: 'log'; jobId: string; message: string }
  | { type: 'checkpoint'; jobId: string; step: number; tensors: TensorRecord[]; metadata: Record<string, string> }
  | { type: 'result'; jobId: string; result: JsonValue };

export interface JobStatus {
  id: string;
  kind: JobKind;
  state: JobState;
  step: number;
  total: number;
  error?: string;
}

/** What the worker reports once it holds a device. */
export type AdapterReport = { ok: true; info: DeviceInfo } | { ok: false; error: string; unavailable: boolean };

/** Why the worker became unusable; the UI then terminates and restarts it. */
export interface FatalReport {
  kind: 'device-lost' | 'uncaught';
  message: string;
}

/** Which job kinds this build can run, and why not where it cannot. */
export type JobAvailability = Record<JobKind, { available: true } | { available: false; reason: string }>;

export interface GpuWorkerApi {
  /** Acquires the WebGPU device (once) and reports the adapter. */
  init(): Promise<AdapterReport>;
  /** Registers the callback that hears about device loss and uncaught worker errors. */
  onFatal(cb: (r: FatalReport) => void): Promise<void>;
  jobKinds(): Promise<JobAvailability>;
  start(spec: JobSpec, onEvent: (e: JobEvent) => void): Promise<string>;
  pause(jobId: string): Promise<void>;
  resume(jobId: string): Promise<void>;
  cancel(jobId: string): Promise<void>;
  jobs(): Promise<JobStatus[]>;
  /** Liveness probe: answers with the worker's clock. */
  ping(): Promise<number>;
}
