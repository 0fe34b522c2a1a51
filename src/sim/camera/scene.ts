/** Packing a MuJoCo world into the camera's geom list, and the two camera poses. */
import type { Physics } from '../physics';
import type { Vec3 } from '../tasks/spec';
import { cross, norm, scale, add } from '../math';
import { GEOM_FLOATS, GEOM_TYPES, type CameraPose } from './types';

const SUPPORTED = new Set<number>([GEOM_TYPES.plane, GEOM_TYPES.sphere, GEOM_TYPES.capsule, GEOM_TYPES.cylinder, GEOM_TYPES.box]);

/** Number of packed geoms for a model (every geom; unsupported ones pack as NONE). */
export function geomCount(p: Physics): number {
  return p.model.ngeom;
}

/** Writes the world's geoms (current poses, model colours) into `out` at `offset` floats. */
export function packGeoms(p: Physics, out: Float32Array, offset = 0): void {
  const m = p.model;
  const n = m.ngeom;
  const type = m.geom_type as Int32Array;
  const size = m.geom_size as Float64Array;
  const rgba = m.geom_rgba as Float32Array;
  const xpos = p.data.geom_xpos as Float64Array;
  const xmat = p.data.geom_xmat as Float64Array;
  for (let g = 0; g < n; g++) {
    const o = offset + g * GEOM_FLOATS;
    const visible = SUPPORTED.has(type[g]) && rgba[4 * g + 3] > 0;
    out[o] = xpos[3 * g];
    out[o + 1] = xpos[3 * g + 1];
    out[o + 2] = xpos[3 * g + 2];
    out[o + 3] = visible ? type[g] : GEOM_TYPES.none;
    for (let r = 0; r < 3; r++) {
      out[o + 4 + 4 * r] = xmat[9 * g + 3 * r];
      out[o + 5 + 4 * r] = xmat[9 * g + 3 * r + 1];
      out[o + 6 + 4 * r] = xmat[9 * g + 3 * r + 2];
      out[o + 7 + 4 * r] = size[3 * g + r];
    }
    out[o + 16] = rgba[4 * g];
    out[o + 17] = rgba[4 * g + 1];
    out[o + 18] = rgba[4 * g + 2];
    // Bounding radius (slightly inflated so the rejection test never clips a real hit).
    const [a, b, c] = [size[3 * g], size[3 * g + 1], size[3 * g + 2]];
    let r = 0;
    if (type[g] === GEOM_TYPES.box) r = Math.hypot(a, b, c);
    else if (type[g] === GEOM_TYPES.sphere) r = a;
    else if (type[g] === GEOM_TYPES.capsule) r = a + b;
    else if (type[g] === GEOM_TYPES.cylinder) r = Math.hypot(a, b);
    out[o + 19] = r > 0 ? r * 1.01 + 1e-4 : 0;
  }
}

export interface AgentViewSpec {
  pos: Vec3;
  target: Vec3;
  fovyDeg: number;
}

/** LIBERO-like front view: in front of the table, looking back at the robot. */
export const DEFAULT_AGENT_VIEW: AgentViewSpec = { pos: [0.6, 0, 0.5], target: [-0.12, 0, 0.0], fovyDeg: 45 };
export const WRIST_FOVY = 75;

export function lookAt(pos: Vec3, target: Vec3, fovyDeg: number, worldUp: Vec3 = [0, 0, 1]): CameraPose {
  const f = add(target, scale(pos, -1));
  const fwd = scale(f, 1 / norm(f));
  let right = cross(fwd, worldUp);
  right = scale(right, 1 / norm(right));
  const up = cross(right, fwd);
  return { pos, fwd, right, up, fovyDeg };
}

/** Wrist camera: on the hand's back, looking past the fingertips. */
export function wristCamera(p: Physics, fovyDeg = WRIST_FOVY): CameraPose {
  const s = p.wristCamSite;
  const xpos = p.data.site_xpos as Float64Array;
  const m = p.data.site_xmat as Float64Array;
  const pos: Vec3 = [xpos[3 * s], xpos[3 * s + 1], xpos[3 * s + 2]];
  // Columns of the site frame: hand x (toward the camera side) and z (toward the fingers).
  const hx: Vec3 = [m[9 * s], m[9 * s + 3], m[9 * s + 6]];
  const hz: Vec3 = [m[9 * s + 2], m[9 * s + 5], m[9 * s + 8]];
  let fwd = add(scale(hz, 0.12), scale(hx, -0.06));
  fwd = scale(fwd, 1 / norm(fwd));
  let right = cross(fwd, hx);
  right = scale(right, 1 / norm(right));
  const up = cross(right, fwd);
  return { pos, fwd, right, up, fovyDeg };
}
