/**
 * 20 Hz end-effector-delta control like LIBERO's OSC setup: an action is
 * [dx, dy, dz, rx, ry, rz, gripper] in [-1, 1]; translations scale to at most 5 cm and
 * rotations (world-frame axis-angle) to 0.5 rad per step; gripper -1 opens, +1 closes.
 * Damped least squares on the tool-site Jacobian turns the Cartesian delta into joint
 * targets for the arm's position servos, with a null-space pull toward the home
 * posture to keep the redundant seventh joint from drifting.
 */
import type { MjData } from '@mujoco/mujoco';
import type { Physics } from './physics';
import { ARM_RANGE, FINGER_MAX, HOME_QPOS } from './robot';
import { solve } from './math';

export const POS_SCALE = 0.05;
export const ROT_SCALE = 0.5;
const DAMPING = 0.01;
const NULL_GAIN = 0.05;

export const ACTION_DIM = 7;

/** Clamps and validates an action; throws on wrong length or non-finite values. */
export function checkAction(a: ArrayLike<number>): void {
  if (a.length !== ACTION_DIM) throw new Error(`action must have ${ACTION_DIM} values, got ${a.length}`);
  for (let i = 0; i < ACTION_DIM; i++)
    if (!Number.isFinite(a[i])) throw new Error(`action[${i}] is not a finite number (${a[i]})`);
}

const clamp1 = (v: number) => Math.max(-1, Math.min(1, v));

/**
 * Like LIBERO's OSC, a delta is applied to the measured pose: the Jacobian is taken at
 * the measured joints and the servo targets are the measured joints plus the DLS step.
 * Nothing integrates across steps, so servo lag shortens a motion but never winds up
 * into overshoot, and a blocked arm pushes only as hard as one step's delta.
 */
export class EEController {
  constructor(private readonly sim: Physics) {}

  /** Sets the servo targets to the measured joints (after a reset or a state restore). */
  syncToMeasured(gripper = -1): void {
    const q = this.sim.armQ();
    const ctrl = this.sim.ctrl;
    for (let i = 0; i < 7; i++) ctrl[this.sim.armAct[i]] = q[i];
    const finger = (FINGER_MAX * (1 - clamp1(gripper))) / 2;
    for (const a of this.sim.fingerAct) ctrl[a] = finger;
  }

  /** Sets the servo targets for one control step from an action (does not step physics). */
  apply(action: ArrayLike<number>): void {
    checkAction(action);
    const sim = this.sim;
    const e = new Float64Array(6);
    for (let i = 0; i < 3; i++) e[i] = clamp1(action[i]) * POS_SCALE;
    for (let i = 0; i < 3; i++) e[3 + i] = clamp1(action[3 + i]) * ROT_SCALE;
    const ctrl = sim.ctrl;
    const q = sim.armQ();
    const dq = dlsStep(sim, sim.data, q, e);
    for (let i = 0; i < 7; i++) {
      const [lo, hi] = ARM_RANGE[i];
      ctrl[sim.armAct[i]] = Math.min(hi, Math.max(lo, q[i] + dq[i]));
    }
    const finger = (FINGER_MAX * (1 - clamp1(action[6]))) / 2;
    for (const a of sim.fingerAct) ctrl[a] = finger;
  }

}

/**
 * dq = J^T (J J^T + lambda^2 I)^-1 (e - J z) + z with z a small pull toward the home
 * posture: the pull acts (up to damping) only in the null space of the tool Jacobian.
 */
export function dlsStep(sim: Physics, data: MjData, q: number[], e: Float64Array): Float64Array {
  const { jacp, jacr } = sim.siteJacobian(sim.tcpSite, data);
  const nv = sim.nv;
  const J = new Float64Array(42);
  for (let j = 0; j < 7; j++) {
    const d = sim.armDof[j];
    for (let r = 0; r < 3; r++) {
      J[r * 7 + j] = jacp[r * nv + d];
      J[(3 + r) * 7 + j] = jacr[r * nv + d];
    }
  }
  const JJt = new Float64Array(36);
  for (let a = 0; a < 6; a++)
    for (let b = 0; b < 6; b++) {
      let s = 0;
      for (let k = 0; k < 7; k++) s += J[a * 7 + k] * J[b * 7 + k];
      JJt[a * 6 + b] = s + (a === b ? DAMPING * DAMPING : 0);
    }
  const z = new Float64Array(7);
  for (let i = 0; i < 7; i++) z[i] = NULL_GAIN * (HOME_QPOS[i] - q[i]);
  const e2 = new Float64Array(6);
  for (let a = 0; a < 6; a++) {
    let s = 0;
    for (let k = 0; k < 7; k++) s += J[a * 7 + k] * z[k];
    e2[a] = e[a] - s;
  }
  const y = solve(JJt, e2, 6);
  const dq = new Float64Array(7);
  for (let k = 0; k < 7; k++) {
    let s = z[k];
    for (let a = 0; a < 6; a++) s += J[a * 7 + k] * y[a];
    dq[k] = s;
  }
  return dq;
}
