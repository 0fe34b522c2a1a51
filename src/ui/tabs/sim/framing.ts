/**
 * Where the Sim tab's viewer camera looks: the whole visible scene, arm included, fitted
 * into the frustum. The viewer's fixed default pose cut off the top of the arm, whose
 * height differs by task and robot initial state.
 */
import type { World } from '../../../sim/world.ts';

type V3 = [number, number, number];

const GEOM = { plane: 0, sphere: 2, capsule: 3, ellipsoid: 4, cylinder: 5, box: 6 } as const;
/** The arm rises above its initial pose while it works; room for that above the scene. */
const HEADROOM_M = 0.08;

/** Half-extents of a geom in its own frame (MuJoCo geom_size conventions), or null when unknown. */
function localHalf(type: number, s: ArrayLike<number>): V3 | null {
  switch (type) {
    case GEOM.sphere:
      return [s[0], s[0], s[0]];
    case GEOM.capsule:
      return [s[0], s[0], s[1] + s[0]];
    case GEOM.cylinder:
      return [s[0], s[0], s[1]];
    case GEOM.ellipsoid:
    case GEOM.box:
      return [s[0], s[1], s[2]];
    default:
      return null;
  }
}

/**
 * World-axis half-extents of a geom: its local box turned by its rotation R (row-major,
 * local to world), |R| h per axis. A bounding sphere would do, but a wide table's sphere
 * reaches far above and below it and made the framing needlessly distant.
 */
export function worldHalf(type: number, size: ArrayLike<number>, R: ArrayLike<number>, rbound: number): V3 {
  const h = localHalf(type, size);
  if (!h) return [rbound, rbound, rbound];
  return [0, 1, 2].map((i) => Math.abs(R[3 * i]) * h[0] + Math.abs(R[3 * i + 1]) * h[1] + Math.abs(R[3 * i + 2]) * h[2]) as V3;
}

/**
 * Corners bounding the visible geoms of the robot, the objects and the fixtures, in the
 * viewer's three.js frame: MuJoCo (x, y, z) is three (x, z, -y). Geoms of the world body
 * (floor, table, walls) are left out: they reach past the view on every side, and
 * fitting them would push the camera far from what moves.
 */
export function scenePoints(world: World): V3[] {
  const m = world.physics.model;
  const type = m.geom_type as Int32Array;
  const size = m.geom_size as Float64Array;
  const rgba = m.geom_rgba as Float32Array;
  const rbound = m.geom_rbound as Float64Array;
  const xpos = world.physics.data.geom_xpos as Float64Array;
  const xmat = world.physics.data.geom_xmat as Float64Array;
  const body = m.geom_bodyid as Int32Array;
  const out: V3[] = [];
  for (let g = 0; g < m.ngeom; g++) {
    if (body[g] === 0 || type[g] === GEOM.plane || rgba[4 * g + 3] <= 0) continue;
    const [hx, hy, hz] = worldHalf(type[g], size.subarray(3 * g, 3 * g + 3), xmat.subarray(9 * g, 9 * g + 9), rbound[g]);
    const [x, y, z] = [xpos[3 * g], xpos[3 * g + 1], xpos[3 * g + 2]];
    for (const sx of [-1, 1]) for (const sy of [-1, 1]) for (const sz of [-1, 1]) {
      const top = sz > 0 ? HEADROOM_M : 0;
      out.push([x + sx * hx, z + sz * hz + top, -(y + sy * hy)]);
    }
  }
  return out;
}

const sub = (a: V3, b: V3): V3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: V3, b: V3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const unit = (a: V3): V3 => {
  const n = Math.hypot(...a) || 1;
  return [a[0] / n, a[1] / n, a[2] / n];
};

/**
 * A camera looking along `-back` (y up) at the scene, at the nearest distance from which
 * every point is inside the vertical and horizontal field of view, with `margin` to
 * spare. Per point (x right, y up, z toward the camera, relative to the target), the
 * camera must stand at least z + |x| / tan(hfov / 2) and z + |y| / tan(vfov / 2) away.
 * The target starts at the centre of the points' box and is then moved so the points'
 * angular extent is centred in the view: near objects at the bottom take more of the
 * view than the far top of the arm, and a box-centred target left the top half empty.
 */
export function fitCamera(points: readonly V3[], back: V3, fovDeg: number, aspect: number, margin = 1.06): { position: V3; target: V3 } | null {
  if (!points.length) return null;
  const lo: V3 = [Infinity, Infinity, Infinity];
  const hi: V3 = [-Infinity, -Infinity, -Infinity];
  for (const p of points) for (let k = 0; k < 3; k++) {
    lo[k] = Math.min(lo[k], p[k]);
    hi[k] = Math.max(hi[k], p[k]);
  }
  let target: V3 = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2];
  const b = unit(back);
  const right = unit(cross([0, 1, 0], b));
  const up = cross(b, right);
  const tanV = Math.tan((fovDeg * Math.PI) / 360) / margin;
  const tanH = tanV * aspect;
  const distance = (t: V3) => {
    let dist = 0;
    for (const p of points) {
      const q = sub(p, t);
      const z = dot(q, b);
      dist = Math.max(dist, z + Math.abs(dot(q, right)) / tanH, z + Math.abs(dot(q, up)) / tanV);
    }
    return dist;
  };
  const at = (t: V3, d: number): V3 => [t[0] + b[0] * d, t[1] + b[1] * d, t[2] + b[2] * d];
  let dist = distance(target);
  for (let iter = 0; iter < 8; iter++) {
    // The points' extent in tangent units seen from the camera; shift the target by its middle.
    const cam = at(target, dist);
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const p of points) {
      const q = sub(p, cam);
      const depth = -dot(q, b);
      if (depth <= 0) continue;
      const tx = dot(q, right) / depth;
      const ty = dot(q, up) / depth;
      [x0, x1, y0, y1] = [Math.min(x0, tx), Math.max(x1, tx), Math.min(y0, ty), Math.max(y1, ty)];
    }
    if (!Number.isFinite(x0) || !Number.isFinite(y0)) break;
    const [mx, my] = [((x0 + x1) / 2) * dist, ((y0 + y1) / 2) * dist];
    if (Math.abs(mx) < 1e-4 && Math.abs(my) < 1e-4) break;
    target = [target[0] + right[0] * mx + up[0] * my, target[1] + right[1] * mx + up[1] * my, target[2] + right[2] * mx + up[2] * my];
    dist = distance(target);
  }
  return { position: at(target, dist), target };
}

/** True when every point projects inside the camera's view (for tests). */
export function inView(points: readonly V3[], cam: { position: V3; target: V3 }, fovDeg: number, aspect: number): boolean {
  const back = unit(sub(cam.position, cam.target));
  const right = unit(cross([0, 1, 0], back));
  const up = cross(back, right);
  const tanV = Math.tan((fovDeg * Math.PI) / 360);
  return points.every((p) => {
    const q = sub(p, cam.position);
    const depth = -dot(q, back);
    return depth > 0 && Math.abs(dot(q, right)) <= tanV * aspect * depth + 1e-9 && Math.abs(dot(q, up)) <= tanV * depth + 1e-9;
  });
}
