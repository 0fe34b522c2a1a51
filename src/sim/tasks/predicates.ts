/**
 * Goal predicates evaluated on the physical state. Thresholds follow LIBERO's spirit
 * (geometric containment plus a tolerance of about a centimetre): an object is On a
 * support when its centre lies over the support and its bottom rests within 1.5 cm of
 * the support's top; In when it rests inside a tray's walls or a drawer's interior;
 * a drawer is Open past 75% of its travel and Closed under 8%; Up means the object's
 * bottom is at least 5 cm above the table; Touch means the fingertips are over the
 * object's top face (5 mm margin) and at most 1 cm above it (or pressed up to 1 cm in).
 */
import { DRAWER } from '../fixtures';
import { quatYaw } from '../math';
import { objectFootprint, objectHalfHeight, objectSize, type Predicate, type TaskSpec, type Vec3 } from './spec';

/** What the predicates read; Physics implements it. */
export interface WorldState {
  objectPos(name: string): Vec3;
  objectQuat(name: string): [number, number, number, number];
  drawerOpening(name: string): number;
  /** Tool-centre point and its rotation (row-major; the z column points toward the fingertips). */
  tcpPos(): Vec3;
  tcpMat(): number[];
}

/** Fingertips beyond the tool-centre point along the tool's z axis (m): src/sim/robot.ts's finger boxes. */
export const FINGERTIP_OFFSET = 0.009;

/** Where the closed fingertips are: the tool point moved FINGERTIP_OFFSET along the tool's z axis. */
export function fingertipPos(w: Pick<WorldState, 'tcpPos' | 'tcpMat'>): Vec3 {
  const p = w.tcpPos();
  const m = w.tcpMat();
  return [p[0] + FINGERTIP_OFFSET * m[2], p[1] + FINGERTIP_OFFSET * m[5], p[2] + FINGERTIP_OFFSET * m[8]];
}

export const THRESHOLDS = {
  onVertical: 0.015,
  inVertical: 0.03,
  upHeight: 0.05,
  /** Touch: how far the fingertips may be above the top face, how far pressed into it, and the margin around the face (m). */
  touchAbove: 0.01,
  touchBelow: 0.01,
  touchMargin: 0.005,
  /** A resting object's z axis stays within this angle of vertical (rad) for On/In. */
  tilt: 0.5,
} as const;

function uprightEnough(q: readonly number[]): boolean {
  // cos(angle between body z and world z) = 1 - 2(x^2 + y^2)
  return 1 - 2 * (q[1] * q[1] + q[2] * q[2]) > Math.cos(THRESHOLDS.tilt);
}

/** Offset of p from the centre c expressed in a frame rotated by yaw. */
function localXY(p: Vec3, c: Vec3, yaw: number): [number, number] {
  const dx = p[0] - c[0];
  const dy = p[1] - c[1];
  const cs = Math.cos(yaw);
  const sn = Math.sin(yaw);
  return [cs * dx + sn * dy, -sn * dx + cs * dy];
}

export function evalPredicate(task: TaskSpec, w: WorldState, p: Predicate): boolean {
  const obj = (n: string) => {
    const o = task.objects.find((x) => x.name === n);
    if (!o) throw new Error(`task '${task.id}': predicate ${p.pred} names unknown object '${n}'`);
    return o;
  };
  switch (p.pred) {
    case 'Up': {
      const a = obj(p.args[0]);
      return w.objectPos(a.name)[2] - objectHalfHeight(a) >= THRESHOLDS.upHeight;
    }
    case 'Touch': {
      const a = obj(p.args[0]);
      const pa = w.objectPos(a.name);
      const tip = fingertipPos(w);
      const [lx, ly] = localXY(tip, pa, quatYaw(w.objectQuat(a.name)));
      const [fx, fy] = objectFootprint(a);
      const round = a.kind === 'cylinder' || a.kind === 'plate';
      const m = THRESHOLDS.touchMargin;
      const over = round ? Math.hypot(lx, ly) <= fx + m : Math.abs(lx) <= fx + m && Math.abs(ly) <= fy + m;
      const dz = tip[2] - (pa[2] + objectHalfHeight(a));
      return over && dz <= THRESHOLDS.touchAbove && dz >= -THRESHOLDS.touchBelow;
    }
    case 'Open':
    case 'Close': {
      const v = w.drawerOpening(p.args[0]) / DRAWER.travel;
      return p.pred === 'Open' ? v >= DRAWER.openFrac : v <= DRAWER.closeFrac;
    }
    case 'On':
    case 'In': {
      const a = obj(p.args[0]);
      const pa = w.objectPos(a.name);
      const qa = w.objectQuat(a.name);
      if (!uprightEnough(qa)) return false;
      const bottom = pa[2] - objectHalfHeight(a);
      const fixture = task.fixtures.find((f) => f.name === p.args[1]);
      if (fixture) {
        if (p.pred !== 'In') return false;
        const open = w.drawerOpening(fixture.name);
        const c: Vec3 = [fixture.pos[0] - open, fixture.pos[1], 0];
        const [lx, ly] = localXY(pa, c, 0);
        const inside = Math.abs(lx) <= DRAWER.innerHalfX && Math.abs(ly) <= DRAWER.innerHalfY;
        return inside && bottom >= DRAWER.floorZ - 0.01 && bottom <= DRAWER.floorZ + THRESHOLDS.inVertical;
      }
      const b = obj(p.args[1]);
      const pb = w.objectPos(b.name);
      const qb = w.objectQuat(b.name);
      const [lx, ly] = localXY(pa, pb, quatYaw(qb));
      if (p.pred === 'In') {
        if (b.kind !== 'tray') return false;
        const s = objectSize(b);
        const floor = pb[2] - s[2] + 0.005;
        const inside = Math.abs(lx) <= s[0] - 0.01 && Math.abs(ly) <= s[1] - 0.01;
        return inside && bottom >= floor - 0.01 && bottom <= floor + THRESHOLDS.inVertical;
      }
      const top = pb[2] + objectHalfHeight(b);
      const [fx, fy] = objectFootprint(b);
      const over = b.kind === 'plate' || b.kind === 'cylinder' ? Math.hypot(lx, ly) <= fx : Math.abs(lx) <= fx && Math.abs(ly) <= fy;
      return over && Math.abs(bottom - top) <= THRESHOLDS.onVertical;
    }
  }
}

/** Whether every goal predicate holds (the task's success check). */
export function goalSatisfied(task: TaskSpec, w: WorldState, goal: Predicate[] = task.goal): boolean {
  return goal.every((g) => evalPredicate(task, w, g));
}
