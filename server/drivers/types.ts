/**
 * The one interface every robot driver implements. The bridge (server/robot/bridge.ts)
 * owns all safety decisions: a driver only ever receives commands that were already
 * validated and clamped, plus explicit hold/estop calls. Drivers still re-clamp what
 * they accumulate per control step (defence in depth; see `sumDeltas` in safety.ts).
 */

export interface CameraInfo {
  name: string;
  width: number;
  height: number;
  /** Frames per second the server streams to subscribers (lower than the control rate). */
  fps: number;
  /** Cheap enough to render on every control step, so teleop recordings include it. */
  everyStep: boolean;
}

export interface RobotInfo {
  /** Human-readable robot name, e.g. "kinematic-gantry", "mujoco-panda". */
  name: string;
  driver: 'sim' | 'rosbridge' | 'kinematic';
  jointNames: string[];
  jointLower: number[];
  jointUpper: number[];
  /** Joint velocity limits, rad/s (or m/s for prismatic joints). */
  jointMaxVel: number[];
  controlHz: number;
  /** Names of the 7-D end-effector-delta action, in order. */
  eeActionNames: string[];
  /** Gripper command range: [open, closed]. */
  gripperRange: [number, number];
  cameras: CameraInfo[];
  /** Whether joint_target commands are supported (some drivers only take EE deltas). */
  supportsJointTarget: boolean;
}

export interface RobotState {
  /** Server clock (performance.now()) when this state was produced or received. */
  t: number;
  q: number[];
  /** End-effector position (m) and orientation quaternion [w, x, y, z]. */
  eePos: [number, number, number];
  eeQuat: [number, number, number, number];
  gripper: number;
  /** True while the robot is converging to a target; false when settled or held. */
  moving: boolean;
  /** True once the driver has applied a hold (target = current state) and not moved since. */
  holding: boolean;
}

export interface CameraFrame {
  camera: number;
  width: number;
  height: number;
  /** Packed RGB, 3 bytes a pixel, row-major, top row first. */
  rgb: Uint8Array;
  t: number;
}

/** Commands after the safety layer. `seq` is the client's sequence number, for tracing. */
export type SafeCommand =
  | { kind: 'ee_delta'; seq: number; delta: number[] }
  | { kind: 'joint_target'; seq: number; q: number[]; gripper?: number }
  | { kind: 'gripper'; seq: number; value: number };

export interface DriverEvents {
  /** Called after each control step (sim, kinematic) or state message (rosbridge). */
  onStep?: (s: RobotState) => void;
  /** Connection to the robot changed (rosbridge). */
  onAvailability?: (available: boolean, reason: string) => void;
}

export interface RobotDriver {
  readonly info: RobotInfo;
  start(events: DriverEvents): Promise<void>;
  /** Latest known state, or null when none yet (e.g. rosbridge not connected). */
  state(): RobotState | null;
  /** Whether commands can be delivered right now. */
  available(): boolean;
  /** Queue a command for the next control step. */
  command(cmd: SafeCommand): void;
  /** Stop all motion now: discard queued commands and make the current state the target. */
  hold(reason: string): void;
  /** Like hold, but also tells the hardware side that an e-stop is latched (where it has one). */
  estop(): void;
  /** Put the robot/scene back to its initial state (sim and kinematic only). */
  resetScene?(): Promise<void>;
  /** Latest camera image (sim only). */
  camera?(index: number): CameraFrame | null;
  close(): Promise<void>;
}

/** Position-only forward kinematics for workspace checks of joint targets, where available. */
export interface HasFk {
  fk(q: number[]): [number, number, number];
}

export function hasFk(d: unknown): d is HasFk {
  return typeof (d as HasFk).fk === 'function';
}
