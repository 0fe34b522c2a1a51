/**
 * Teleop input: held keys and the first gamepad mapped to a 6-D end-effector delta plus
 * an absolute gripper target, as fractions of the server's per-step limits. Pure
 * mapping functions, so they are unit-tested without a browser.
 */
export const KEYMAP: Record<string, [axis: number, sign: 1 | -1]> = {
  KeyW: [0, 1],
  KeyS: [0, -1],
  KeyA: [1, 1],
  KeyD: [1, -1],
  KeyR: [2, 1],
  KeyF: [2, -1],
  KeyJ: [3, 1],
  KeyL: [3, -1],
  KeyI: [4, 1],
  KeyK: [4, -1],
  KeyQ: [5, 1],
  KeyE: [5, -1],
};
export const GRIPPER_CLOSE = 'KeyG';
export const GRIPPER_OPEN = 'KeyH';

/** Axis values in [-1, 1] for the six EE axes from held keys and gamepad axes. */
export function teleopAxes(held: ReadonlySet<string>, pad: { axes: readonly number[] } | null, deadzone = 0.15): number[] {
  const a = [0, 0, 0, 0, 0, 0];
  for (const code of held) {
    const m = KEYMAP[code];
    if (m) a[m[0]] += m[1];
  }
  if (pad) {
    const dz = (v: number | undefined) => (v === undefined || Math.abs(v) < deadzone ? 0 : v);
    // Standard mapping: left stick x/y -> y/x, right stick y -> z, right stick x -> yaw.
    a[0] += -dz(pad.axes[1]);
    a[1] += -dz(pad.axes[0]);
    a[2] += -dz(pad.axes[3]);
    a[5] += -dz(pad.axes[2]);
  }
  // "+ 0" turns -0 into 0 so a centred stick sends plain zeros.
  return a.map((v) => Math.max(-1, Math.min(1, v)) + 0);
}

/** Scales axes to the action space; `speed` in (0, 1] is the share of the per-step limit. */
export function deltaFromAxes(axes: number[], high: number[], speed: number, gripper: number): number[] {
  return [...axes.map((v, i) => v * speed * (high[i] ?? 0)), gripper];
}

export interface TeleopInput {
  axes: number[];
  /** The gripper target sent last. */
  gripper: number;
  closing: boolean;
  opening: boolean;
  gripperRange: [number, number];
  hz: number;
  /** The server's e-stop is latched: it refuses every motion command until reset. */
  estopped: boolean;
}

/**
 * One control-loop tick: the new gripper target and whether to send a command. Nothing is
 * sent while the e-stop is latched, since each command would only come back refused, and
 * the gripper target does not creep meanwhile, so a reset does not make it jump.
 */
export function teleopTick(t: TeleopInput): { gripper: number; send: boolean } {
  if (t.estopped) return { gripper: t.gripper, send: false };
  const [lo, hi] = t.gripperRange;
  // A full open-to-close sweep takes one second whatever the control rate.
  const step = Math.abs(hi - lo) / t.hz;
  let g = t.gripper;
  if (t.closing) g = Math.min(Math.max(lo, hi), g + step);
  if (t.opening) g = Math.max(Math.min(lo, hi), g - step);
  return { gripper: g, send: t.axes.some((v) => v !== 0) || g !== t.gripper };
}
