/**
 * The drawer cabinet: a static housing and a drawer on a slide joint that opens toward
 * the robot (-x), with a bar handle standing off the front so closed fingers can hook
 * behind it. All dimensions live here so the MJCF, the predicates and the experts agree.
 */
import type { FixtureSpec, Vec3 } from './tasks/spec';

export const DRAWER = {
  /** Housing half extents (x, y) and height. */
  halfX: 0.11,
  halfY: 0.13,
  height: 0.13,
  /** Slide travel (m). */
  travel: 0.16,
  /** Drawer floor top height above the table (world z) and inner half extents. */
  floorZ: 0.02,
  innerHalfX: 0.095,
  innerHalfY: 0.105,
  wallTopZ: 0.08,
  /** Handle bar: distance in front of the closed front face, height, half length along y. */
  handleOut: 0.06,
  handleZ: 0.065,
  handleHalfY: 0.05,
  /** Open(d) holds above this fraction of the travel, Close(d) below this one. */
  openFrac: 0.75,
  closeFrac: 0.08,
} as const;

const WOOD = '0.55 0.38 0.22 1';
const WOOD_DARK = '0.45 0.3 0.17 1';
const METAL = '0.7 0.7 0.72 1';

/** Front face x of the closed drawer for a cabinet at `pos`. */
export function drawerFrontX(f: FixtureSpec): number {
  return f.pos[0] - DRAWER.halfX;
}

/** Handle bar centre in world coordinates for a given opening (m). */
export function drawerHandlePos(f: FixtureSpec, opening: number): Vec3 {
  return [drawerFrontX(f) - DRAWER.handleOut - opening, f.pos[1], DRAWER.handleZ];
}

export function drawerJointName(f: FixtureSpec): string {
  return `${f.name}_slide`;
}

export function drawerMjcf(f: FixtureSpec): string {
  const [cx, cy] = f.pos;
  const { halfX: hx, halfY: hy, height: h } = DRAWER;
  const t = 0.005;
  const s = (v: number) => v.toFixed(4);
  // Drawer-body frame: origin at the housing centre on the floor plate; the slide axis
  // is -x, so a positive joint value is the opening in metres.
  const dh = 0.05; // drawer wall half height
  const ihx = DRAWER.innerHalfX;
  const ihy = DRAWER.innerHalfY;
  const fz = DRAWER.floorZ;
  return `
  <body name="${f.name}" pos="${s(cx)} ${s(cy)} 0">
    <geom name="${f.name}_top" type="box" size="${hx} ${hy} ${t}" pos="0 0 ${h - t}" rgba="${WOOD}"/>
    <geom name="${f.name}_side_l" type="box" size="${hx} ${t} ${s(h / 2)}" pos="0 ${hy - t} ${s(h / 2)}" rgba="${WOOD}"/>
    <geom name="${f.name}_side_r" type="box" size="${hx} ${t} ${s(h / 2)}" pos="0 ${-(hy - t)} ${s(h / 2)}" rgba="${WOOD}"/>
    <geom name="${f.name}_back" type="box" size="${t} ${hy} ${s(h / 2)}" pos="${hx - t} 0 ${s(h / 2)}" rgba="${WOOD}"/>
    <geom name="${f.name}_base" type="box" size="${hx} ${hy} ${t}" pos="0 0 ${t}" rgba="${WOOD}"/>
    <body name="${f.name}_drawer" pos="0 0 0">
      <joint name="${f.name}_slide" type="slide" axis="-1 0 0" range="0 ${DRAWER.travel}" damping="8" frictionloss="0.3" armature="0.05"/>
      <inertial pos="0 0 0.05" mass="0.6" diaginertia="0.005 0.005 0.005"/>
      <geom name="${f.name}_floor" type="box" size="${ihx} ${ihy} ${t}" pos="0 0 ${fz - t}" rgba="${WOOD_DARK}"/>
      <geom name="${f.name}_front" type="box" size="${t} ${hy - 2 * t} ${s((h - 2 * t - 0.012) / 2)}" pos="${s(-hx + t)} 0 ${s((h - 0.012) / 2 + 0.004)}" rgba="${WOOD}"/>
      <geom name="${f.name}_rear" type="box" size="${t} ${ihy} ${dh / 2 + 0.005}" pos="${s(ihx + t)} 0 ${s(fz + dh / 2)}" rgba="${WOOD_DARK}"/>
      <geom name="${f.name}_wall_l" type="box" size="${ihx} ${t} ${dh / 2 + 0.005}" pos="0 ${s(ihy + t)} ${s(fz + dh / 2)}" rgba="${WOOD_DARK}"/>
      <geom name="${f.name}_wall_r" type="box" size="${ihx} ${t} ${dh / 2 + 0.005}" pos="0 ${s(-(ihy + t))} ${s(fz + dh / 2)}" rgba="${WOOD_DARK}"/>
      <geom name="${f.name}_handle" type="box" size="0.006 ${DRAWER.handleHalfY} 0.01" pos="${s(-hx - DRAWER.handleOut)} 0 ${DRAWER.handleZ}" rgba="${METAL}"/>
      <geom name="${f.name}_post_l" type="box" size="${s(DRAWER.handleOut / 2)} 0.005 0.005" pos="${s(-hx - DRAWER.handleOut / 2)} ${DRAWER.handleHalfY - 0.008} ${DRAWER.handleZ}" rgba="${METAL}"/>
      <geom name="${f.name}_post_r" type="box" size="${s(DRAWER.handleOut / 2)} 0.005 0.005" pos="${s(-hx - DRAWER.handleOut / 2)} ${-(DRAWER.handleHalfY - 0.008)} ${DRAWER.handleZ}" rgba="${METAL}"/>
    </body>
  </body>`;
}
