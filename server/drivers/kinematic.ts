/**
 * Deterministic kinematic test driver: a 6-axis Cartesian "gantry" (x, y, z prismatic,
 * roll, pitch, yaw revolute) plus a gripper, integrated at the control rate with
 * per-joint velocity limits. Forward kinematics is the identity on the first three
 * joints, which makes workspace clamping exact and easy to assert. No physics, no
 * randomness: the unit tests use it wherever MuJoCo is not the point.
 */
import type { SafetyConfig } from '../config.ts';
import { sumDeltas } from '../robot/safety.ts';
import type { CameraFrame, DriverEvents, RobotDriver, RobotInfo, RobotState, SafeCommand } from './types.ts';

export interface KinematicOptions {
  controlHz?: number;
  /** Keep a trace of received commands (seq and arrival time) for tests and benchmarks. */
  trace?: boolean;
  /** Do not start a timer; the owner calls `stepOnce()` (for deterministic unit tests). */
  manualStep?: boolean;
  initialQ?: number[];
  cameraWidth?: number;
  cameraHeight?: number;
}

export function rpyToQuat(r: number, p: number, y: number): [number, number, number, number] {
  const cr = Math.cos(r / 2), sr = Math.sin(r / 2);
  const cp = Math.cos(p / 2), sp = Math.sin(p / 2);
  const cy = Math.cos(y / 2), sy = Math.sin(y / 2);
  return [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy];
}

export class KinematicDriver implements RobotDriver {
  readonly info: RobotInfo;
  readonly trace: { seq: number; t: number; kind: SafeCommand['kind'] }[] = [];
  readonly holds: { t: number; reason: string }[] = [];
  /** Number of control steps on which any joint actually changed. */
  movedSteps = 0;
  private q: number[];
  private target: number[];
  private gripper = -1;
  private gripperTarget = -1;
  private pendingDeltas: number[][] = [];
  private holding = true;
  private timer: NodeJS.Timeout | null = null;
  private events: DriverEvents = {};
  private readonly initialQ: number[];
  private stepCount = 0;

  constructor(private readonly safety: SafetyConfig, private readonly opts: KinematicOptions = {}) {
    this.info = {
      name: 'kinematic-gantry',
      driver: 'kinematic',
      jointNames: ['x', 'y', 'z', 'roll', 'pitch', 'yaw'],
      jointLower: [-0.5, -0.5, 0.0, -Math.PI, -Math.PI / 2, -Math.PI],
      jointUpper: [0.8, 0.5, 1.0, Math.PI, Math.PI / 2, Math.PI],
      jointMaxVel: [0.5, 0.5, 0.5, 2, 2, 2],
      controlHz: opts.controlHz ?? 50,
      eeActionNames: ['dx', 'dy', 'dz', 'drx', 'dry', 'drz', 'gripper'],
      gripperRange: [-1, 1],
      cameras: [{ name: 'scene', width: opts.cameraWidth ?? 32, height: opts.cameraHeight ?? 24, fps: 5, everyStep: true }],
      supportsJointTarget: true,
    };
    this.initialQ = opts.initialQ ?? [0.3, 0, 0.4, Math.PI, 0, 0];
    this.q = this.initialQ.slice();
    this.target = this.q.slice();
  }

  fk(q: number[]): [number, number, number] {
    return [q[0], q[1], q[2]];
  }

  async start(events: DriverEvents): Promise<void> {
    this.events = events;
    if (!this.opts.manualStep) {
      this.timer = setInterval(() => this.stepOnce(), 1000 / this.info.controlHz);
    }
  }

  available(): boolean {
    return true;
  }

  state(): RobotState {
    const moving = this.target.some((v, i) => Math.abs(v - this.q[i]) > 1e-9) || Math.abs(this.gripperTarget - this.gripper) > 1e-9 || this.pendingDeltas.length > 0;
    return {
      t: performance.now(),
      q: this.q.slice(),
      eePos: this.fk(this.q),
      eeQuat: rpyToQuat(this.q[3], this.q[4], this.q[5]),
      gripper: this.gripper,
      moving,
      holding: this.holding,
    };
  }

  command(cmd: SafeCommand): void {
    if (this.opts.trace) this.trace.push({ seq: cmd.seq, t: performance.now(), kind: cmd.kind });
    this.holding = false;
    switch (cmd.kind) {
      case 'ee_delta':
        this.pendingDeltas.push(cmd.delta);
        break;
      case 'joint_target':
        this.target = cmd.q.slice();
        if (cmd.gripper !== undefined) this.gripperTarget = cmd.gripper;
        break;
      case 'gripper':
        this.gripperTarget = cmd.value;
        break;
    }
  }

  hold(reason: string): void {
    this.pendingDeltas = [];
    this.target = this.q.slice();
    this.gripperTarget = this.gripper;
    this.holding = true;
    this.holds.push({ t: performance.now(), reason });
  }

  estop(): void {
    this.hold('estop');
  }

  async resetScene(): Promise<void> {
    this.q = this.initialQ.slice();
    this.target = this.q.slice();
    this.gripper = this.gripperTarget = -1;
    this.pendingDeltas = [];
    this.holding = true;
  }

  /** One control step: fold queued EE deltas into the target, then move at bounded velocity. */
  stepOnce(): void {
    const dt = 1 / this.info.controlHz;
    const d = sumDeltas(this.pendingDeltas, this.safety);
    this.pendingDeltas = [];
    if (d) {
      for (let i = 0; i < 6; i++) this.target[i] = this.q[i] + d[i];
      this.gripperTarget = d[6];
    }
    let moved = false;
    for (let i = 0; i < this.q.length; i++) {
      const lim = this.info.jointMaxVel[i] * dt;
      const err = Math.min(Math.max(this.target[i], this.info.jointLower[i]), this.info.jointUpper[i]) - this.q[i];
      const step = Math.max(-lim, Math.min(lim, err));
      if (step !== 0) moved = true;
      this.q[i] += step;
    }
    const gErr = this.gripperTarget - this.gripper;
    const gStep = Math.max(-5 * dt, Math.min(5 * dt, gErr));
    if (gStep !== 0) moved = true;
    this.gripper += gStep;
    if (moved) this.movedSteps++;
    this.stepCount++;
    this.events.onStep?.(this.state());
  }

  /** A synthetic image: dark background, a bright square where the end-effector is in x/y. */
  camera(index: number): CameraFrame | null {
    if (index !== 0) return null;
    const { width: w, height: h } = this.info.cameras[0];
    const rgb = new Uint8Array(w * h * 3);
    const u = Math.round(((this.q[0] - this.info.jointLower[0]) / (this.info.jointUpper[0] - this.info.jointLower[0])) * (w - 1));
    const v = Math.round(((this.q[1] - this.info.jointLower[1]) / (this.info.jointUpper[1] - this.info.jointLower[1])) * (h - 1));
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        const hit = Math.abs(x - u) <= 1 && Math.abs(y - v) <= 1;
        rgb[o] = hit ? 255 : 20;
        rgb[o + 1] = hit ? 200 : 20 + (this.stepCount & 15);
        rgb[o + 2] = hit ? 0 : 40;
      }
    }
    return { camera: 0, width: w, height: h, rgb, t: performance.now() };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
