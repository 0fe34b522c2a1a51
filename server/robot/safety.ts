/**
 * Command clamping. Pure functions of (command, current state, limits) so they can be
 * tested exhaustively and reasoned about without timers. Every change made to a command
 * is returned as a `Clamp` record: the bridge reports it to the client and the audit log,
 * because an operator who does not know a command was cut short will misread the robot.
 */
import type { SafetyConfig } from '../config.ts';
import type { RobotInfo, RobotState } from '../drivers/types.ts';

export type ClampRule = 'ee_step' | 'ee_rot_step' | 'workspace' | 'joint_limit' | 'joint_step' | 'gripper_range';

export interface Clamp {
  field: string;
  index: number;
  requested: number;
  applied: number;
  rule: ClampRule;
}

const clampTo = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

function gripperClamp(v: number, info: RobotInfo, field: string, index: number, clamps: Clamp[]): number {
  const lo = Math.min(info.gripperRange[0], info.gripperRange[1]);
  const hi = Math.max(info.gripperRange[0], info.gripperRange[1]);
  const g = clampTo(v, lo, hi);
  if (g !== v) clamps.push({ field, index, requested: v, applied: g, rule: 'gripper_range' });
  return g;
}

/**
 * The box a position may move to: the configured workspace, widened to include the
 * current position. A robot that starts (or was pushed) outside the box may then move
 * back toward it but never further away.
 */
function allowedBox(pos: readonly number[], cfg: SafetyConfig): { lo: number[]; hi: number[] } {
  return {
    lo: [0, 1, 2].map((i) => Math.min(cfg.workspaceMin[i], pos[i])),
    hi: [0, 1, 2].map((i) => Math.max(cfg.workspaceMax[i], pos[i])),
  };
}

/** ee_delta [dx,dy,dz,drx,dry,drz,gripper]: per-step limits, then the workspace box, then the gripper range. */
export function clampEeDelta(delta: readonly number[], state: RobotState, info: RobotInfo, cfg: SafetyConfig) {
  const clamps: Clamp[] = [];
  const out = delta.slice();
  for (let i = 0; i < 6; i++) {
    const lim = i < 3 ? cfg.maxEeStep : cfg.maxEeRotStep;
    const v = clampTo(out[i], -lim, lim);
    if (v !== out[i]) clamps.push({ field: 'delta', index: i, requested: out[i], applied: v, rule: i < 3 ? 'ee_step' : 'ee_rot_step' });
    out[i] = v;
  }
  const box = allowedBox(state.eePos, cfg);
  for (let i = 0; i < 3; i++) {
    const target = state.eePos[i] + out[i];
    const t = clampTo(target, box.lo[i], box.hi[i]);
    if (t !== target) {
      const v = t - state.eePos[i];
      clamps.push({ field: 'delta', index: i, requested: delta[i], applied: v, rule: 'workspace' });
      out[i] = v;
    }
  }
  out[6] = gripperClamp(out[6], info, 'delta', 6, clamps);
  return { delta: out, clamps };
}

/** Per-step joint change allowed for joint i: the configured step, tightened by the velocity limit. */
export function jointStepLimit(i: number, info: RobotInfo, cfg: SafetyConfig): number {
  return Math.min(cfg.maxJointStep, info.jointMaxVel[i] / info.controlHz);
}

/**
 * joint_target: joint limits, then per-step change from the current joints, then (when
 * the driver has forward kinematics) the workspace box, by shortening the step along
 * the straight line in joint space until the end-effector is inside.
 */
export function clampJointTarget(
  q: readonly number[],
  gripper: number | undefined,
  state: RobotState,
  info: RobotInfo,
  cfg: SafetyConfig,
  fk?: (q: number[]) => [number, number, number],
) {
  const clamps: Clamp[] = [];
  const out = q.slice();
  for (let i = 0; i < out.length; i++) {
    const lim = clampTo(out[i], info.jointLower[i], info.jointUpper[i]);
    if (lim !== out[i]) clamps.push({ field: 'q', index: i, requested: q[i], applied: lim, rule: 'joint_limit' });
    out[i] = lim;
    const step = jointStepLimit(i, info, cfg);
    const st = clampTo(out[i], state.q[i] - step, state.q[i] + step);
    if (st !== out[i]) clamps.push({ field: 'q', index: i, requested: q[i], applied: st, rule: 'joint_step' });
    out[i] = st;
  }
  if (fk) {
    const box = allowedBox(state.eePos, cfg);
    const inside = (p: [number, number, number]) => p.every((v, i) => v >= box.lo[i] - 1e-12 && v <= box.hi[i] + 1e-12);
    const at = (a: number) => out.map((v, i) => state.q[i] + a * (v - state.q[i]));
    if (!inside(fk(out))) {
      // Bisection on the fraction of the step: 30 halvings pin it to ~1e-9 of the step.
      let lo = 0;
      let hi = 1;
      for (let k = 0; k < 30; k++) {
        const mid = (lo + hi) / 2;
        if (inside(fk(at(mid)))) lo = mid;
        else hi = mid;
      }
      const shortened = at(lo);
      for (let i = 0; i < out.length; i++) {
        if (shortened[i] !== out[i]) clamps.push({ field: 'q', index: i, requested: q[i], applied: shortened[i], rule: 'workspace' });
        out[i] = shortened[i];
      }
    }
  }
  const g = gripper === undefined ? undefined : gripperClamp(gripper, info, 'gripper', 0, clamps);
  return { q: out, gripper: g, clamps };
}

export function clampGripper(v: number, info: RobotInfo) {
  const clamps: Clamp[] = [];
  const value = gripperClamp(v, info, 'value', 0, clamps);
  return { value, clamps };
}

/**
 * Sum of the EE deltas a driver received within one control step, re-clamped to the
 * per-step limits. Clients may send faster than the control rate; this keeps a fast
 * sender from moving the robot faster than one step's worth per step. The gripper
 * channel is absolute, so the last value wins.
 */
export function sumDeltas(deltas: readonly (readonly number[])[], cfg: SafetyConfig): number[] | null {
  if (deltas.length === 0) return null;
  const s = [0, 0, 0, 0, 0, 0, deltas[deltas.length - 1][6]];
  for (const d of deltas) for (let i = 0; i < 6; i++) s[i] += d[i];
  for (let i = 0; i < 6; i++) {
    const lim = i < 3 ? cfg.maxEeStep : cfg.maxEeRotStep;
    s[i] = clampTo(s[i], -lim, lim);
  }
  return s;
}
