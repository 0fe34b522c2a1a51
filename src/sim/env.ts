/**
 * The environment API everyone else uses. SimEnv is one episode; BatchEnv steps N of
 * them and renders all their cameras in one GPU dispatch, leaving the images in a GPU
 * buffer for the model (and reading them back only when asked).
 */
import { Rng } from '../engine/random';
import { GpuCamera } from './camera/gpu';
import { geomCount, lookAt, packGeoms, wristCamera } from './camera/scene';
import { GEOM_FLOATS, type RenderFrame } from './camera/types';
import { Expert, type ExpertAction, type Phase } from './experts/expert';
import { applyPerturbation, type EpisodeConfig, type Perturbation } from './perturb';
import { getInitState, hashString, type InitState } from './tasks/init';
import { getTask } from './tasks/suites';
import type { TaskSpec } from './tasks/spec';
import { World, type Proprio } from './world';

export const CAMERA_NAMES = ['agentview', 'wrist'] as const;

export interface CameraOptions {
  /** Image size in pixels (default 64, at most 256). */
  width?: number;
  height?: number;
  /** GPU device; acquired with acquireDevice() when omitted. */
  device?: GPUDevice;
  /** Copy images back to the CPU on every reset/step (default true). */
  readback?: boolean;
  /**
   * Reuse an existing camera (same size, enough environments and geoms) instead of
   * compiling a new pipeline: episode loops create one environment per episode.
   */
  reuse?: GpuCamera;
}

export interface EnvOptions {
  /** Task id ("goal/open_drawer") or spec. */
  task: string | TaskSpec;
  /** Index of a fixed initial state (0..49, default 0) or an explicit state. */
  initState?: number | InitState;
  perturbation?: Perturbation | null;
}

export interface Observation {
  proprio: Proprio;
  /** RGB images (H*W*3), present when the cameras are on and read back. */
  images?: { agentview: Uint8Array; wrist: Uint8Array };
  instruction: string;
  step: number;
}

/** Annotation carried with an action (the expert's phase and description). */
export interface ActionAnnotation {
  phase?: Phase;
  description?: string;
}

export interface StepResult {
  obs: Observation;
  /** 1 on the step the goal first holds, else 0 (LIBERO's sparse reward). */
  reward: number;
  /** Success or the step limit. */
  done: boolean;
  success: boolean;
  phase?: Phase;
  description?: string;
}

/** Everything needed to replay an episode exactly; JSON-serializable. */
export interface EpisodeRecord {
  version: 1;
  taskId: string;
  instruction: string;
  /** The fixed initial state before the perturbation is applied. */
  initState: InitState;
  perturbation: Perturbation | null;
  actions: number[][];
  phases: Array<Phase | null>;
  descriptions: Array<string | null>;
  success: boolean;
  steps: number;
  finalStateHash: string;
}

/** One episode's world and bookkeeping, without a camera. */
class EnvCore {
  stepCount = 0;
  succeeded = false;
  private noiseRng: Rng;
  actions: number[][] = [];
  phases: Array<Phase | null> = [];
  descriptions: Array<string | null> = [];

  private constructor(
    readonly world: World,
    readonly config: EpisodeConfig,
    readonly perturbation: Perturbation | null,
    /** The initial state before perturbations (what a record stores). */
    readonly baseInit: InitState,
  ) {
    this.noiseRng = new Rng(0);
  }

  static async create(o: EnvOptions): Promise<EnvCore> {
    const task = typeof o.task === 'string' ? getTask(o.task) : o.task;
    const init = typeof o.initState === 'object' ? o.initState : getInitState(task, o.initState ?? 0);
    const cfg = applyPerturbation(task, init, o.perturbation ?? null);
    const world = await World.create(cfg.task, cfg.scene, cfg.goal);
    return new EnvCore(world, cfg, o.perturbation ?? null, init);
  }

  reset(): void {
    this.world.reset(this.config.init);
    this.stepCount = 0;
    this.succeeded = false;
    this.actions = [];
    this.phases = [];
    this.descriptions = [];
    this.noiseRng = new Rng(hashString(`noise|${this.config.task.id}|${this.config.init.index}|${this.perturbation?.seed ?? 0}`));
  }

  step(action: ArrayLike<number>, ann?: ActionAnnotation): { reward: number; done: boolean; success: boolean } {
    this.world.step(action);
    this.stepCount++;
    this.actions.push(Array.from(action, Number));
    this.phases.push(ann?.phase ?? null);
    this.descriptions.push(ann?.description ?? null);
    const success = this.world.success();
    const reward = success && !this.succeeded ? 1 : 0;
    if (success) this.succeeded = true;
    return { reward, done: success || this.stepCount >= this.config.task.maxSteps, success };
  }

  proprio(): Proprio {
    const p = this.world.proprio();
    const s = this.config.proprioNoiseStd;
    if (s > 0) {
      for (const arr of [p.joints, p.gripper, p.eePos, p.state]) for (let i = 0; i < arr.length; i++) arr[i] += s * this.noiseRng.normal();
    }
    return p;
  }

  frame(): RenderFrame {
    const phys = this.world.physics;
    const geoms = new Float32Array(geomCount(phys) * GEOM_FLOATS);
    packGeoms(phys, geoms);
    const v = this.config.agentView;
    return {
      geoms,
      cameras: [lookAt(v.pos, v.target, v.fovyDeg), wristCamera(phys)],
      env: {
        light: this.config.lighting,
        background: this.config.background,
        noiseStd: this.config.imageNoiseStd,
        noiseSeed: hashString(`img|${this.config.task.id}|${this.config.init.index}|${this.perturbation?.seed ?? 0}`),
      },
    };
  }

  record(): EpisodeRecord {
    return {
      version: 1,
      taskId: this.config.task.id,
      instruction: this.config.instruction,
      initState: structuredClone(this.baseInit),
      perturbation: this.perturbation ? structuredClone(this.perturbation) : null,
      actions: this.actions.map((a) => [...a]),
      phases: [...this.phases],
      descriptions: [...this.descriptions],
      success: this.succeeded,
      steps: this.stepCount,
      finalStateHash: this.world.physics.stateHash(),
    };
  }
}

/**
 * N environments stepped together; their cameras render in one dispatch.
 * Environments may run different tasks; each keeps its own step count.
 */
export class BatchEnv {
  readonly camera: GpuCamera | null;
  private readonly readback: boolean;

  private constructor(
    private readonly cores: EnvCore[],
    camera: GpuCamera | null,
    readback: boolean,
    private readonly sharedCamera: boolean,
  ) {
    this.camera = camera;
    this.readback = readback;
  }

  /** camera: false turns the cameras off (proprioception only). */
  static async create(envs: EnvOptions[], camera: CameraOptions | false = {}): Promise<BatchEnv> {
    if (envs.length === 0) throw new Error('BatchEnv needs at least one environment');
    const cores: EnvCore[] = [];
    for (const o of envs) cores.push(await EnvCore.create(o));
    let cam: GpuCamera | null = null;
    if (camera !== false && camera.reuse) {
      const o = camera.reuse.opts;
      const need = Math.max(...cores.map((c) => geomCount(c.world.physics)));
      if (o.maxEnvs < cores.length || o.maxGeoms < need) throw new Error(`camera.reuse holds ${o.maxEnvs} envs / ${o.maxGeoms} geoms; this batch needs ${cores.length} / ${need}`);
      cam = camera.reuse;
    } else if (camera !== false) {
      const device = camera.device ?? (await (await import('../engine/device')).acquireDevice()).device;
      const maxGeoms = Math.max(...cores.map((c) => geomCount(c.world.physics)));
      cam = await GpuCamera.create(device, {
        width: camera.width ?? 64,
        height: camera.height ?? camera.width ?? 64,
        camerasPerEnv: CAMERA_NAMES.length,
        maxEnvs: cores.length,
        maxGeoms,
      });
    }
    return new BatchEnv(cores, cam, camera === false ? false : camera.readback ?? true, camera !== false && !!camera.reuse);
  }

  get size(): number {
    return this.cores.length;
  }

  /** The worlds (physics + task), e.g. for the viewer or for experts. */
  get worlds(): World[] {
    return this.cores.map((c) => c.world);
  }

  configs(): EpisodeConfig[] {
    return this.cores.map((c) => c.config);
  }

  /** GPU buffer with the last rendered images: RGBA8 in u32, [env][camera][row][col]. */
  get imageBuffer(): GPUBuffer | null {
    return this.camera?.output ?? null;
  }

  async reset(): Promise<Observation[]> {
    for (const c of this.cores) c.reset();
    return this.observe();
  }

  /** Steps every environment with its action (Float32Array(7) each). */
  async step(actions: ArrayLike<number>[], annotations?: Array<ActionAnnotation | undefined>): Promise<StepResult[]> {
    if (actions.length !== this.cores.length) throw new Error(`step: got ${actions.length} actions for ${this.cores.length} environments`);
    const res = this.cores.map((c, i) => c.step(actions[i], annotations?.[i]));
    const obs = await this.observe();
    return res.map((r, i) => ({ ...r, obs: obs[i], phase: annotations?.[i]?.phase, description: annotations?.[i]?.description }));
  }

  /** Renders the cameras (if on) and gathers observations. */
  async observe(): Promise<Observation[]> {
    let images: Uint8Array[][] | null = null;
    if (this.camera) {
      this.camera.render(this.cores.map((c) => c.frame()), this.cores[0].stepCount);
      if (this.readback) images = await this.camera.readback();
    }
    return this.cores.map((c, i) => ({
      proprio: c.proprio(),
      images: images ? { agentview: images[i][0], wrist: images[i][1] } : undefined,
      instruction: c.config.instruction,
      step: c.stepCount,
    }));
  }

  /** Reads the last rendered images back: result[env] = { agentview, wrist }. */
  async readImages(): Promise<Array<{ agentview: Uint8Array; wrist: Uint8Array }>> {
    if (!this.camera) throw new Error('readImages: this BatchEnv was created with camera: false');
    const im = await this.camera.readback();
    return im.map((v) => ({ agentview: v[0], wrist: v[1] }));
  }

  records(): EpisodeRecord[] {
    return this.cores.map((c) => c.record());
  }

  stateHashes(): string[] {
    return this.cores.map((c) => c.world.physics.stateHash());
  }

  successes(): boolean[] {
    return this.cores.map((c) => c.world.success());
  }

  /** Frees the worlds and the camera's buffers (not the device, nor a reused camera). */
  dispose(): void {
    for (const c of this.cores) c.world.delete();
    if (!this.sharedCamera) this.camera?.destroy();
  }
}

/** A single environment. */
export class SimEnv {
  private constructor(private readonly batch: BatchEnv) {}

  static async create(opts: EnvOptions & { camera?: CameraOptions | false }): Promise<SimEnv> {
    return new SimEnv(await BatchEnv.create([opts], opts.camera ?? {}));
  }

  get world(): World {
    return this.batch.worlds[0];
  }
  get config(): EpisodeConfig {
    return this.batch.configs()[0];
  }
  get instruction(): string {
    return this.config.instruction;
  }
  get imageBuffer(): GPUBuffer | null {
    return this.batch.imageBuffer;
  }

  async reset(): Promise<Observation> {
    return (await this.batch.reset())[0];
  }

  async step(action: ArrayLike<number>, annotation?: ActionAnnotation): Promise<StepResult> {
    return (await this.batch.step([action], [annotation]))[0];
  }

  stateHash(): string {
    return this.batch.stateHashes()[0];
  }

  success(): boolean {
    return this.batch.successes()[0];
  }

  record(): EpisodeRecord {
    return this.batch.records()[0];
  }

  dispose(): void {
    this.batch.dispose();
  }
}

/** The scripted expert for an environment (call nextAction once per step, after reset). */
export function createExpert(env: SimEnv | World): { nextAction(): ExpertAction } {
  return new Expert(env instanceof SimEnv ? env.world : env);
}

/**
 * Replays a record's actions without cameras and returns the final state hash; equal
 * to record.finalStateHash when physics is bit-identical on this host.
 */
export async function replayEpisode(rec: EpisodeRecord): Promise<{ stateHash: string; finalSuccess: boolean }> {
  const env = await SimEnv.create({ task: rec.taskId, initState: rec.initState, perturbation: rec.perturbation, camera: false });
  try {
    await env.reset();
    for (const a of rec.actions) env.world.step(a);
    return { stateHash: env.stateHash(), finalSuccess: env.success() };
  } finally {
    env.dispose();
  }
}
