/**
 * A live scripted-expert episode for the Sim tab, with every step recorded so the user
 * can scrub back through it.
 *
 * Physics runs on the main thread at 20 Hz. The sim is cheap (well under a millisecond
 * per control step) and SimViewer mirrors the live MuJoCo data every animation frame;
 * in a worker, every frame's geom poses would have to be posted across for no gain.
 * The policy cameras render on a GPU device owned by src/sim's camera; only the
 * read-back RGB arrays reach the UI.
 *
 * Scrubbing shows a recorded frame by writing its geom poses into MuJoCo's geom_xpos /
 * geom_xmat (what the viewer reads). Those arrays are derived data that mj_step
 * recomputes from qpos before using them, so the dynamics of the live episode are not
 * touched; stepping on from the end restores the newest poses first.
 *
 * A checkpoint's rollout runs in the GPU worker (worker/jobs/rollout.ts) and comes back
 * recorded; ReplayEpisode turns its per-step qpos into the same frames (mj_forward on a
 * camera-less copy of the scene) with the policy's own input images, so the Player
 * shows both kinds of episode the same way.
 */
import { ACTION_DIM, SimEnv, createExpert, type Perturbation, type PerturbationKind, type Phase, type World } from '../../../sim/index.ts';
import { frameAtStep, simPerturbation, type RolloutResult } from '../../../train/rollout-record.ts';

export const IMAGE_SIZE = 64;

export interface SimFrame {
  step: number;
  geomXpos: Float64Array;
  geomXmat: Float64Array;
  agentview: Uint8Array;
  wrist: Uint8Array;
  /** Phase and description of the action that led here (null for the initial frame). */
  phase: Phase | null;
  description: string | null;
  success: boolean;
}

export interface EpisodeSetup {
  task: string;
  state: number;
  perturb: PerturbationKind[];
  seed: number;
}

/** The perturbation record an episode runs with (null when no axis is chosen). */
export function perturbationFor(s: EpisodeSetup): Perturbation | null {
  return simPerturbation(s.task, s.state, s.perturb, s.seed);
}

/** Writes frame i's (clamped) geom poses where the viewer reads them. */
function showRecorded(env: SimEnv, frames: readonly SimFrame[], i: number): SimFrame {
  const f = frames[Math.max(0, Math.min(frames.length - 1, i))];
  const d = env.world.physics.data;
  (d.geom_xpos as Float64Array).set(f.geomXpos);
  (d.geom_xmat as Float64Array).set(f.geomXmat);
  return f;
}

/** What the Player shows: a live expert episode or a recorded rollout. */
export interface PlayableEpisode {
  readonly frames: SimFrame[];
  /** No more frames will come (a recording is done from the start). */
  readonly done: boolean;
  /** Whether advance() runs the simulation (the expert) rather than replaying. */
  readonly live: boolean;
  readonly instruction: string;
  readonly perturbation: Perturbation | null;
  readonly world: World;
  /** Side of the camera images in the frames. */
  readonly imageSize: number;
  advance(): Promise<boolean>;
  showFrame(i: number): SimFrame;
  dispose(): void;
}

export class LiveEpisode implements PlayableEpisode {
  readonly live = true;
  readonly imageSize = IMAGE_SIZE;
  readonly frames: SimFrame[] = [];
  done = false;
  private expert: { nextAction(): { action: Float32Array; phase: Phase; description: string } };

  private constructor(
    readonly env: SimEnv,
    readonly perturbation: Perturbation | null,
  ) {
    this.expert = createExpert(env);
  }

  static async create(setup: EpisodeSetup, device: GPUDevice): Promise<LiveEpisode> {
    const perturbation = perturbationFor(setup);
    const env = await SimEnv.create({ task: setup.task, initState: setup.state, perturbation, camera: { device, width: IMAGE_SIZE, height: IMAGE_SIZE } });
    const ep = new LiveEpisode(env, perturbation);
    const obs = await env.reset();
    ep.record(obs.images!, null, null, env.success());
    return ep;
  }

  get instruction(): string {
    return this.env.instruction;
  }

  get world(): World {
    return this.env.world;
  }

  get maxSteps(): number {
    return this.env.config.task.maxSteps;
  }

  /** One 20 Hz control step of the expert; false once the episode is over. */
  async advance(): Promise<boolean> {
    if (this.done) return false;
    this.showFrame(this.frames.length - 1);
    const a = this.expert.nextAction();
    if (a.phase === 'done') {
      this.done = true;
      return false;
    }
    const r = await this.env.step(a.action, a);
    this.record(r.obs.images!, a.phase, a.description, r.success);
    if (r.done) this.done = true;
    return !this.done;
  }

  /** Puts recorded frame i's poses where the viewer reads them. */
  showFrame(i: number): SimFrame {
    return showRecorded(this.env, this.frames, i);
  }

  dispose(): void {
    this.env.dispose();
  }

  private record(images: { agentview: Uint8Array; wrist: Uint8Array }, phase: Phase | null, description: string | null, success: boolean): void {
    const d = this.env.world.physics.data;
    this.frames.push({
      step: this.frames.length,
      geomXpos: new Float64Array(d.geom_xpos as Float64Array),
      geomXmat: new Float64Array(d.geom_xmat as Float64Array),
      agentview: images.agentview.slice(),
      wrist: images.wrist.slice(),
      phase,
      description,
      success,
    });
  }
}

const fmt = (a: ArrayLike<number>) => Array.from(a, (v) => v.toFixed(2)).join(', ');

/** A recorded checkpoint rollout, every frame rebuilt from its qpos up front. */
export class ReplayEpisode implements PlayableEpisode {
  readonly live = false;
  readonly done = true;

  private constructor(
    readonly env: SimEnv,
    readonly result: RolloutResult,
    readonly frames: SimFrame[],
  ) {}

  static async create(r: RolloutResult): Promise<ReplayEpisode> {
    const env = await SimEnv.create({ task: r.spec.task, initState: r.spec.initState, perturbation: r.perturbation, camera: false });
    try {
      await env.reset();
      const phys = env.world.physics;
      if (phys.nq !== r.nq) throw new Error(`the rollout recorded ${r.nq} qpos values per step, this scene has ${phys.nq}: it was recorded with another version of the scene`);
      const frames: SimFrame[] = [];
      const planned = new Set(r.frames.map((f) => f.step));
      const blank = new Uint8Array(r.imageSize * r.imageSize * 3);
      for (let i = 0; i <= r.steps; i++) {
        (phys.data.qpos as Float64Array).set(r.qpos.subarray(i * r.nq, (i + 1) * r.nq));
        phys.forward();
        const seen = frameAtStep(r.frames, i);
        const a = i > 0 ? r.actions.subarray((i - 1) * ACTION_DIM, i * ACTION_DIM) : null;
        frames.push({
          step: i,
          geomXpos: new Float64Array(phys.data.geom_xpos as Float64Array),
          geomXmat: new Float64Array(phys.data.geom_xmat as Float64Array),
          agentview: seen?.agentview ?? blank,
          wrist: seen?.wrist ?? blank,
          phase: null,
          description: a ? `action [${fmt(a)}]${planned.has(i - 1) ? ' (first of a new chunk)' : ''}` : null,
          success: r.successStep !== null && i >= r.successStep,
        });
      }
      return new ReplayEpisode(env, r, frames);
    } catch (e) {
      env.dispose();
      throw e;
    }
  }

  get instruction(): string {
    return this.result.instruction;
  }
  get perturbation(): Perturbation | null {
    return this.result.perturbation;
  }
  get world(): World {
    return this.env.world;
  }
  get imageSize(): number {
    return this.result.imageSize;
  }

  async advance(): Promise<boolean> {
    return false;
  }

  showFrame(i: number): SimFrame {
    return showRecorded(this.env, this.frames, i);
  }

  dispose(): void {
    this.env.dispose();
  }
}
