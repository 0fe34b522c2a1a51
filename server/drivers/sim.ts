/**
 * The MuJoCo tabletop simulation (src/sim) as a robot, headless in Node: the default
 * driver, so the robot tab works with no hardware. It steps the world at the sim's
 * 20 Hz control rate on a timer. Commands are end-effector deltas in metres/radians per
 * step; the sim controller takes LIBERO-style normalised actions, so they are divided
 * by its per-step scales here. The camera is the sim's CPU reference ray-caster (the
 * same renderer the GPU camera is tested against), from the LIBERO-like front view.
 *
 * Hold: the EE controller re-bases every step on the measured joints and adds a
 * null-space pull toward home, so a zero delta is not "stay here": fed zero deltas, a
 * held arm crept about 2 mm/min (issue 16). A hold therefore bypasses the controller: it
 * latches the joint configuration at the moment of the hold, stops the arm there (zero
 * joint velocity, like brakes engaging) and keeps the position servos' targets on it.
 */
import type { Config } from '../config.ts';
import { sumDeltas } from '../robot/safety.ts';
import { World } from '../../src/sim/world.ts';
import { getTask, listTasks } from '../../src/sim/tasks/suites.ts';
import { getInitState, INIT_STATES_PER_TASK } from '../../src/sim/tasks/init.ts';
import type { InitState } from '../../src/sim/tasks/init.ts';
import { POS_SCALE, ROT_SCALE } from '../../src/sim/controller.ts';
import { ARM_JOINTS, ARM_RANGE, FINGER_MAX, ROBOT_BASE } from '../../src/sim/robot.ts';
import { CONTROL_HZ } from '../../src/sim/scene.ts';
import { DEFAULT_AGENT_VIEW, geomCount, lookAt, packGeoms } from '../../src/sim/camera/scene.ts';
import { DEFAULT_BACKGROUND, DEFAULT_LIGHTING, GEOM_FLOATS } from '../../src/sim/camera/types.ts';
import { renderReference } from '../../src/sim/camera/reference.ts';
import type { CameraFrame, DriverEvents, RobotDriver, RobotInfo, RobotState, SafeCommand } from './types.ts';

/** Panda joint velocity limits (rad/s). */
const PANDA_MAX_VEL = [2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61];
/**
 * The CPU ray-caster costs about 11 us a pixel on this class of machine: 64x64 is ~45 ms,
 * affordable at 2 frames/s on the server's event loop but not on every 20 Hz step, so
 * sim teleop recordings carry state and actions without images (everyStep: false).
 */
const CAMERA_SIZE = 64;

export interface SimDriverOptions {
  /** Do not start the 20 Hz timer; the owner calls `stepOnce()` (tests simulate minutes in seconds). */
  manualStep?: boolean;
}

export class SimDriver implements RobotDriver {
  readonly info: RobotInfo;
  private timer: NodeJS.Timeout | null = null;
  private events: DriverEvents = {};
  private pending: number[][] = [];
  private gripperCmd = -1;
  private holding = true;
  /** Joint configuration the arm is held at; null while commands drive it (or until the first held step). */
  private holdQ: number[] | null = null;
  private moving = false;
  private lastQ: number[] = [];
  private geoms: Float32Array;
  private frame: CameraFrame | null = null;
  private frameStep = -1;
  private stepCount = 0;

  private constructor(
    private readonly world: World,
    private readonly init: InitState,
    private readonly config: Config,
    private readonly opts: SimDriverOptions,
  ) {
    this.info = {
      name: `mujoco-panda (${world.task.id})`,
      driver: 'sim',
      jointNames: [...ARM_JOINTS],
      jointLower: ARM_RANGE.map((r) => r[0]),
      jointUpper: ARM_RANGE.map((r) => r[1]),
      jointMaxVel: PANDA_MAX_VEL,
      controlHz: CONTROL_HZ,
      eeActionNames: ['dx', 'dy', 'dz', 'drx', 'dry', 'drz', 'gripper'],
      gripperRange: [-1, 1],
      cameras: [{ name: 'agentview', width: CAMERA_SIZE, height: CAMERA_SIZE, fps: 2, everyStep: false }],
      // The sim arm is driven through its end-effector controller only.
      supportsJointTarget: false,
    };
    this.geoms = new Float32Array(geomCount(world.physics) * GEOM_FLOATS);
    this.lastQ = world.physics.armQ();
  }

  static async create(config: Config, opts: SimDriverOptions = {}): Promise<SimDriver> {
    const task = config.simTask ? getTask(config.simTask) : listTasks()[0];
    const world = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
    const init = getInitState(task, ((config.seed % INIT_STATES_PER_TASK) + INIT_STATES_PER_TASK) % INIT_STATES_PER_TASK);
    world.reset(init);
    return new SimDriver(world, init, config, opts);
  }

  async start(events: DriverEvents): Promise<void> {
    this.events = events;
    if (!this.opts.manualStep) this.timer = setInterval(() => this.stepOnce(), 1000 / CONTROL_HZ);
  }

  available(): boolean {
    return true;
  }

  state(): RobotState {
    const p = this.world.proprio();
    const pos = [p.eePos[0] - ROBOT_BASE[0], p.eePos[1] - ROBOT_BASE[1], p.eePos[2] - ROBOT_BASE[2]] as [number, number, number];
    return {
      t: performance.now(),
      q: Array.from(p.joints),
      eePos: pos,
      eeQuat: Array.from(p.eeQuat) as [number, number, number, number],
      // Finger opening mapped to the command convention: -1 fully open, +1 closed.
      gripper: 1 - p.gripperOpening / FINGER_MAX,
      moving: this.moving,
      holding: this.holding,
    };
  }

  command(cmd: SafeCommand): void {
    this.holding = false;
    this.holdQ = null;
    if (cmd.kind === 'ee_delta') this.pending.push(cmd.delta);
    else if (cmd.kind === 'gripper') this.gripperCmd = cmd.value;
    // joint_target is refused by the bridge (supportsJointTarget is false).
  }

  hold(_reason?: string): void {
    this.pending = [];
    // Already held: keep the latched configuration. Re-latching at the measured joints on
    // every hold call (the bridge sends several) would let servo error accumulate.
    if (this.holding && this.holdQ) return;
    this.holding = true;
    this.latchHold();
  }

  estop(): void {
    this.hold();
  }

  async resetScene(): Promise<void> {
    this.world.reset(this.init);
    this.pending = [];
    this.gripperCmd = -1;
    this.holding = true;
    this.holdQ = null;
    this.latchHold();
  }

  /** Latches the current joints as the hold configuration and stops the arm on it. */
  private latchHold(): void {
    const p = this.world.physics;
    this.holdQ = p.armQ();
    const qvel = p.qvel;
    for (const d of p.armDof) qvel[d] = 0;
    this.applyHoldTargets();
    // mj_step leaves site poses computed before its last integration; recompute them so the
    // state reported at the hold is the configuration actually held.
    p.forward();
  }

  private applyHoldTargets(): void {
    const p = this.world.physics;
    const ctrl = p.ctrl;
    const q = this.holdQ!;
    for (let i = 0; i < 7; i++) ctrl[p.armAct[i]] = q[i];
    // Same finger mapping as the EE controller: the gripper keeps its last command.
    const finger = (FINGER_MAX * (1 - Math.max(-1, Math.min(1, this.gripperCmd)))) / 2;
    for (const a of p.fingerAct) ctrl[a] = finger;
  }

  /** One 20 Hz control step (public for `manualStep` owners). */
  stepOnce(): void {
    if (this.holding) {
      if (!this.holdQ) this.latchHold();
      this.pending = [];
      this.applyHoldTargets();
      this.world.physics.step();
    } else {
      const d = sumDeltas(this.pending, this.config.safety);
      this.pending = [];
      if (d) this.gripperCmd = d[6];
      const a = d ?? [0, 0, 0, 0, 0, 0, this.gripperCmd];
      const action = [a[0] / POS_SCALE, a[1] / POS_SCALE, a[2] / POS_SCALE, a[3] / ROT_SCALE, a[4] / ROT_SCALE, a[5] / ROT_SCALE, a[6]];
      this.world.step(action);
    }
    this.stepCount++;
    const q = this.world.physics.armQ();
    this.moving = q.some((v, i) => Math.abs(v - this.lastQ[i]) > 1e-4);
    this.lastQ = q;
    this.events.onStep?.(this.state());
  }

  /** Renders at most once per control step, however many subscribers and recorders ask. */
  camera(index: number): CameraFrame | null {
    if (index !== 0) return null;
    if (this.frame && this.frameStep === this.stepCount) return this.frame;
    packGeoms(this.world.physics, this.geoms);
    const v = DEFAULT_AGENT_VIEW;
    const [rgb] = renderReference(
      { geoms: this.geoms, cameras: [lookAt(v.pos, v.target, v.fovyDeg)], env: { light: DEFAULT_LIGHTING, background: DEFAULT_BACKGROUND, noiseStd: 0, noiseSeed: 0 } },
      CAMERA_SIZE,
      CAMERA_SIZE,
    );
    this.frame = { camera: 0, width: CAMERA_SIZE, height: CAMERA_SIZE, rgb, t: performance.now() };
    this.frameStep = this.stepCount;
    return this.frame;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.world.delete();
  }
}
