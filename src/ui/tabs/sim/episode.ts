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
 */
import { createExpert, getInitState, getTask, samplePerturbation, SimEnv, type Perturbation, type PerturbationKind, type Phase } from '../../../sim/index.ts';

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
  if (!s.perturb.length) return null;
  const spec = getTask(s.task);
  return samplePerturbation(spec, getInitState(spec, s.state), s.perturb, s.seed);
}

export class LiveEpisode {
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
    const f = this.frames[Math.max(0, Math.min(this.frames.length - 1, i))];
    const d = this.env.world.physics.data;
    (d.geom_xpos as Float64Array).set(f.geomXpos);
    (d.geom_xmat as Float64Array).set(f.geomXmat);
    return f;
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
