/**
 * A task instance in physics: Physics + the end-effector controller + the task spec,
 * reset to an initial state. This is the camera-free core that SimEnv and BatchEnv
 * wrap; the experts and predicate checks work on it directly.
 */
import { EEController } from './controller';
import { matMul, matToAxisAngle, yawQuat } from './math';
import { Physics } from './physics';
import { FINGER_MAX } from './robot';
import type { SceneSpec } from './scene';
import type { InitState } from './tasks/init';
import { goalSatisfied } from './tasks/predicates';
import type { Predicate, TaskSpec, Vec3 } from './tasks/spec';

/** The tool frame pointing straight down with yaw 0 (x along world x, z along world -z); row-major, its own inverse. */
export const TOOL_DOWN = [1, 0, 0, 0, -1, 0, 0, 0, -1];

/** Rotation vector (world frame) taking TOOL_DOWN to the tool matrix `m`: the state's rotation part. */
export function toolRotationVector(m: number[]): [number, number, number] {
  return matToAxisAngle(matMul(m, TOOL_DOWN)) as [number, number, number];
}

/** Control periods the scene settles for after placing objects (objects drop 0.5 mm). */
export const SETTLE_STEPS = 6;

/** Proprioception (LIBERO's robot0_* observations). */
export interface Proprio {
  /** Arm joint positions (7). */
  joints: Float32Array;
  /** Finger joint positions (2). */
  gripper: Float32Array;
  /** Tool-centre point position (3) and orientation quaternion w, x, y, z (4). */
  eePos: Float32Array;
  eeQuat: Float32Array;
  /** Opening between the pads (m). */
  gripperOpening: number;
  /**
   * The policy's 8-D state, LIBERO's layout: ee pos (3), ee rotation (3), finger joints
   * (2). The rotation is the world-frame rotation vector from the tool-down pose
   * (TOOL_DOWN) to the tool's pose, not LIBERO's absolute axis-angle: the tool points
   * down in every task, where the absolute rotation is near pi and its axis-angle jumps
   * between +pi and -pi inside one episode (issue 10), sending its proprio token between
   * the extreme bins. Relative to tool-down the vector is small (yaw within +-pi/2 in
   * every expert motion) and continuous.
   */
  state: Float32Array;
}

export class World {
  readonly controller: EEController;
  private constructor(
    readonly physics: Physics,
    readonly task: TaskSpec,
    /** Goal after perturbations (a novel-task perturbation replaces it). */
    readonly goal: Predicate[],
  ) {
    this.controller = new EEController(physics);
  }

  static async create(task: TaskSpec, scene: SceneSpec, goal: Predicate[] = task.goal): Promise<World> {
    return new World(await Physics.create(scene), task, goal);
  }

  /** Puts the world in `init` and lets objects settle with the arm holding still. */
  reset(init: InitState): void {
    const p = this.physics;
    p.resetData();
    const q = p.qpos;
    if (init.arm.length !== 7) throw new Error(`init state arm must have 7 joints, got ${init.arm.length}`);
    p.armQpos.forEach((a, i) => (q[a] = init.arm[i]));
    p.fingerQpos.forEach((a) => (q[a] = FINGER_MAX));
    for (const name of p.objects.keys()) {
      const pose = init.objects[name];
      if (!pose) throw new Error(`init state ${init.taskId}#${init.index} has no pose for object '${name}'`);
      p.setObjectPose(name, pose.pos, yawQuat(pose.yaw));
    }
    for (const name of p.drawers.keys()) p.setDrawerOpening(name, init.drawers[name] ?? 0);
    p.forward();
    this.controller.syncToMeasured(-1);
    p.step(SETTLE_STEPS * 25);
    p.data.time = 0;
  }

  /** One 20 Hz control step. */
  step(action: ArrayLike<number>): void {
    this.controller.apply(action);
    this.physics.step();
  }

  success(): boolean {
    return goalSatisfied(this.task, this.physics, this.goal);
  }

  proprio(): Proprio {
    const p = this.physics;
    const pos = p.tcpPos();
    const mat = p.tcpMat();
    const quat = matToQuat(mat);
    const aa = toolRotationVector(mat);
    const q = p.qpos;
    const fingers = p.fingerQpos.map((a) => q[a]);
    return {
      joints: Float32Array.from(p.armQ()),
      gripper: Float32Array.from(fingers),
      eePos: Float32Array.from(pos),
      eeQuat: Float32Array.from(quat),
      gripperOpening: fingers[0] + fingers[1],
      state: Float32Array.from([...pos, ...aa, ...fingers]),
    };
  }

  objectPos(name: string): Vec3 {
    return this.physics.objectPos(name);
  }

  delete(): void {
    this.physics.delete();
  }
}

/** Quaternion (w, x, y, z) of a row-major rotation matrix (Shepperd's method). */
export function matToQuat(m: number[]): [number, number, number, number] {
  const tr = m[0] + m[4] + m[8];
  let w: number, x: number, y: number, z: number;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    w = s / 4;
    x = (m[7] - m[5]) / s;
    y = (m[2] - m[6]) / s;
    z = (m[3] - m[1]) / s;
  } else if (m[0] > m[4] && m[0] > m[8]) {
    const s = Math.sqrt(1 + m[0] - m[4] - m[8]) * 2;
    w = (m[7] - m[5]) / s;
    x = s / 4;
    y = (m[1] + m[3]) / s;
    z = (m[2] + m[6]) / s;
  } else if (m[4] > m[8]) {
    const s = Math.sqrt(1 + m[4] - m[0] - m[8]) * 2;
    w = (m[2] - m[6]) / s;
    x = (m[1] + m[3]) / s;
    y = s / 4;
    z = (m[5] + m[7]) / s;
  } else {
    const s = Math.sqrt(1 + m[8] - m[0] - m[4]) * 2;
    w = (m[3] - m[1]) / s;
    x = (m[2] + m[6]) / s;
    y = (m[5] + m[7]) / s;
    z = s / 4;
  }
  return w < 0 ? [-w, -x, -y, -z] : [w, x, y, z];
}

