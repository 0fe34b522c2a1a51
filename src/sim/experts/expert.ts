/**
 * Scripted experts: a plan of skills derived from the goal predicates (in order, which
 * makes long tasks two-stage), each skill a small phase machine. Every action carries
 * its atomic phase and a short low-level description ("move down toward the red
 * block"), the language-action segments LA4VLA pre-trains on.
 */
import { POS_SCALE, ROT_SCALE } from '../controller';
import { DRAWER, drawerFrontX } from '../fixtures';
import { matMul, matToAxisAngle, quatYaw, transpose, wrapAngle } from '../math';
import { evalPredicate, FINGERTIP_OFFSET } from '../tasks/predicates';
import { describe, objectHalfHeight, objectSize, type ObjectSpec, type Predicate, type Vec3 } from '../tasks/spec';
import type { World } from '../world';

export type Phase =
  | 'approach'
  | 'descend'
  | 'grasp'
  | 'lift'
  | 'transport'
  | 'place'
  | 'release'
  | 'retreat'
  | 'pull'
  | 'push'
  | 'hold'
  | 'done';

export const PHASES: readonly Phase[] = ['approach', 'descend', 'grasp', 'lift', 'transport', 'place', 'release', 'retreat', 'pull', 'push', 'hold', 'done'];

export interface ExpertAction {
  action: Float32Array;
  phase: Phase;
  description: string;
}

const SAFE_Z = 0.2;
const OPEN = -1;
const CLOSE = 1;

interface Skill {
  /** Returns the next action, or null when the skill is finished. */
  next(w: World): ExpertAction | null;
}

/** P-control toward a tool pose (position, yaw about the vertical, gripper down). */
function moveTo(w: World, target: Vec3, yaw: number, grip: number, speed = 1): Float32Array {
  const p = w.physics.tcpPos();
  const a = new Float32Array(7);
  const gain = 0.8;
  let dx = ((target[0] - p[0]) * gain) / POS_SCALE;
  let dy = ((target[1] - p[1]) * gain) / POS_SCALE;
  let dz = ((target[2] - p[2]) * gain) / POS_SCALE;
  const n = Math.hypot(dx, dy, dz);
  if (n > speed) {
    dx *= speed / n;
    dy *= speed / n;
    dz *= speed / n;
  }
  a[0] = dx;
  a[1] = dy;
  a[2] = dz;
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  // Desired tool frame: x along the yaw direction, z pointing down.
  const Rdes = [c, s, 0, s, -c, 0, 0, 0, -1];
  const err = matToAxisAngle(matMul(Rdes, transpose(w.physics.tcpMat())));
  for (let i = 0; i < 3; i++) a[3 + i] = Math.max(-1, Math.min(1, (err[i] * 0.8) / ROT_SCALE));
  a[6] = grip;
  return a;
}

function dist(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

function toolYaw(w: World): number {
  const m = w.physics.tcpMat();
  return Math.atan2(m[3], m[0]);
}

/** Gripper yaw for grasping: blocks have 90-degree symmetry, round things any. */
function graspYaw(w: World, o: ObjectSpec): number {
  if (o.kind !== 'block') return 0;
  const y = quatYaw(w.physics.objectQuat(o.name));
  let best = 0;
  let bestErr = Infinity;
  for (let k = -2; k <= 2; k++) {
    const cand = wrapAngle(y + (k * Math.PI) / 2);
    if (Math.abs(cand) < bestErr) {
      bestErr = Math.abs(cand);
      best = cand;
    }
  }
  return best;
}

/** Where and how high to put an object for an On/In goal (tool xy, object-bottom height). */
function placeTarget(w: World, pred: Predicate): { xy: [number, number]; surface: number; name: string } {
  const t = w.task;
  const fixture = t.fixtures.find((f) => f.name === pred.args[1]);
  if (fixture) {
    const open = w.physics.drawerOpening(fixture.name);
    // Middle of the part of the drawer that sticks out of the housing.
    const back = fixture.pos[0] - DRAWER.innerHalfX - open;
    const front = drawerFrontX(fixture) - 0.025;
    return { xy: [(back + front) / 2, fixture.pos[1]], surface: DRAWER.floorZ, name: `the ${fixture.name}` };
  }
  const b = t.objects.find((o) => o.name === pred.args[1])!;
  const pb = w.objectPos(b.name);
  const surface = b.kind === 'tray' ? pb[2] - objectSize(b)[2] + 0.005 : pb[2] + objectHalfHeight(b);
  return { xy: [pb[0], pb[1]], surface, name: describe(b) };
}

class PickPlace implements Skill {
  private phase: Phase = 'approach';
  private timer = 0;
  private yaw = 0;
  private retries = 0;
  private liftStartZ = 0;
  private offsetZ = 0;
  private dest: { xy: [number, number]; surface: number; name: string } | null = null;
  private lastZ = Infinity;
  private stall = 0;
  private readonly obj: ObjectSpec;

  /** pred: On/In(object, target) or Up(object). */
  constructor(
    w: World,
    private readonly pred: Predicate,
  ) {
    this.obj = w.task.objects.find((o) => o.name === pred.args[0])!;
  }

  /** Tool xy when the phase began: vertical moves hold it rather than chase drift. */
  private anchor: [number, number, number] = [0, 0, 0];

  private go(phase: Phase, w?: World): void {
    this.phase = phase;
    this.timer = 0;
    if (w) this.anchor = w.physics.tcpPos();
    this.stall = 0;
    this.lastZ = Infinity;
  }

  next(w: World): ExpertAction | null {
    const o = this.obj;
    const name = describe(o);
    const po = w.objectPos(o.name);
    const tcp = w.physics.tcpPos();
    const hh = objectHalfHeight(o);
    // Grasp at the object's centre, but never let the fingertips (9 mm under the
    // tool point) touch the table.
    const graspZ = Math.max(po[2] + (o.kind === 'cylinder' ? 0.008 : 0), 0.018);
    this.timer++;
    const act = (a: Float32Array, description: string): ExpertAction => ({ action: a, phase: this.phase, description });
    switch (this.phase) {
      case 'approach': {
        if (this.timer === 1) this.yaw = graspYaw(w, o);
        const target: Vec3 = [po[0], po[1], Math.max(po[2] + 0.1, 0.12)];
        if (dist(tcp, target) < 0.012 && Math.abs(wrapAngle(toolYaw(w) - this.yaw)) < 0.05) {
          this.go('descend');
          return this.next(w);
        }
        return act(moveTo(w, target, this.yaw, OPEN, 1), `move above ${name}`);
      }
      case 'descend': {
        const target: Vec3 = [po[0], po[1], graspZ];
        if (Math.abs(tcp[2] - this.lastZ) < 0.0005) this.stall++;
        this.lastZ = tcp[2];
        if ((Math.abs(tcp[2] - graspZ) < 0.004 && Math.hypot(tcp[0] - po[0], tcp[1] - po[1]) < 0.006) || this.stall > 4 || this.timer > 40) {
          this.go('grasp');
          return this.next(w);
        }
        return act(moveTo(w, target, this.yaw, OPEN, 0.5), `move down toward ${name}`);
      }
      case 'grasp': {
        if (this.timer > 7) {
          this.liftStartZ = po[2];
          this.go('lift', w);
          return this.next(w);
        }
        return act(moveTo(w, [po[0], po[1], graspZ], this.yaw, CLOSE, 0.2), `close the gripper on ${name}`);
      }
      case 'lift': {
        const liftZ = this.pred.pred === 'Up' ? 0.16 : SAFE_Z;
        const target: Vec3 = [this.anchor[0], this.anchor[1], liftZ];
        if (this.timer > 4 && po[2] < this.liftStartZ + 0.01 && tcp[2] > graspZ + 0.04) return this.regrasp(w);
        if (Math.abs(tcp[2] - liftZ) < 0.015) {
          this.offsetZ = po[2] - tcp[2];
          if (this.pred.pred === 'Up') this.go('hold', w);
          else {
            this.dest = placeTarget(w, this.pred);
            this.go('transport');
          }
          return this.next(w);
        }
        return act(moveTo(w, target, this.yaw, CLOSE, 0.7), `lift ${name}`);
      }
      case 'hold':
        if (this.timer > 6) return null;
        return act(moveTo(w, [this.anchor[0], this.anchor[1], 0.16], this.yaw, CLOSE, 0.3), `hold ${name} up`);
      case 'transport': {
        const d = this.dest!;
        if (dist(po, tcp) > 0.06) return this.regrasp(w);
        const target: Vec3 = [d.xy[0], d.xy[1], SAFE_Z];
        if (Math.hypot(tcp[0] - d.xy[0], tcp[1] - d.xy[1]) < 0.008) {
          this.go('place');
          return this.next(w);
        }
        return act(moveTo(w, target, this.yaw, CLOSE, 1), `carry ${name} to ${d.name}`);
      }
      case 'place': {
        const d = this.dest!;
        // Tool height at which the object's bottom hangs 8 mm above the surface.
        const z = d.surface + hh + 0.008 - this.offsetZ;
        if (Math.abs(tcp[2] - this.lastZ) < 0.0005) this.stall++;
        this.lastZ = tcp[2];
        if (Math.abs(tcp[2] - z) < 0.005 || this.stall > 4 || this.timer > 40) {
          this.go('release', w);
          return this.next(w);
        }
        return act(moveTo(w, [d.xy[0], d.xy[1], z], this.yaw, CLOSE, 0.5), `lower ${name} onto ${d.name}`);
      }
      case 'release':
        if (this.timer > 5) {
          this.go('retreat', w);
          return this.next(w);
        }
        return act(moveTo(w, this.anchor, this.yaw, OPEN, 0.2), `open the gripper to release ${name}`);
      case 'retreat': {
        const target: Vec3 = [this.anchor[0], this.anchor[1], SAFE_Z];
        if (tcp[2] > SAFE_Z - 0.03) return null;
        return act(moveTo(w, target, this.yaw, OPEN, 0.8), `move up away from ${this.dest?.name ?? name}`);
      }
      default:
        return null;
    }
  }

  private regrasp(w: World): ExpertAction | null {
    if (++this.retries > 3) return null;
    this.go('approach');
    const tcp = w.physics.tcpPos();
    const a = moveTo(w, [tcp[0], tcp[1], Math.max(tcp[2], 0.14)], this.yaw, OPEN, 0.6);
    return { action: a, phase: 'approach', description: `open the gripper and go back above ${describe(this.obj)}` };
  }
}

/**
 * Touch: with the fingers closed, move above the object and lower the fingertips onto
 * its top face. The tool keeps the yaw it starts with, so the rotation channels stay
 * near zero and the motion is a straight line a small policy can learn.
 */
class TouchSkill implements Skill {
  private phase: Phase = 'approach';
  private yaw = 0;
  private started = false;
  private readonly obj: ObjectSpec;

  constructor(
    w: World,
    private readonly pred: Predicate,
  ) {
    this.obj = w.task.objects.find((o) => o.name === pred.args[0])!;
  }

  next(w: World): ExpertAction | null {
    if (!this.started) {
      this.started = true;
      this.yaw = toolYaw(w);
    }
    if (evalPredicate(w.task, w.physics, this.pred)) return null;
    const o = this.obj;
    const name = describe(o);
    const po = w.objectPos(o.name);
    const tcp = w.physics.tcpPos();
    const top = po[2] + objectHalfHeight(o);
    // Tool height with the fingertips 3 mm into the top face: a light press that the
    // touch predicate accepts whatever the servo lag.
    const touchZ = top + FINGERTIP_OFFSET - 0.003;
    const act = (a: Float32Array, description: string): ExpertAction => ({ action: a, phase: this.phase, description });
    if (this.phase === 'approach') {
      const above: Vec3 = [po[0], po[1], top + FINGERTIP_OFFSET + 0.06];
      if (Math.hypot(tcp[0] - po[0], tcp[1] - po[1]) < 0.01 && Math.abs(tcp[2] - above[2]) < 0.03) {
        this.phase = 'descend';
        return this.next(w);
      }
      return act(moveTo(w, above, this.yaw, CLOSE, 1), `move above ${name}`);
    }
    return act(moveTo(w, [po[0], po[1], touchZ], this.yaw, CLOSE, 0.6), `move down and touch ${name}`);
  }
}

/** Hooks the closed fingers behind the handle bar and pulls (open) or pushes the bar (close). */
class DrawerSkill implements Skill {
  private phase: Phase = 'approach';
  private timer = 0;
  private stage = 0;
  private anchor: Vec3 = [0, 0, 0];
  private readonly name: string;
  constructor(
    w: World,
    private readonly fixture: string,
    private readonly open: boolean,
  ) {
    this.name = `the ${w.task.fixtures.find((f) => f.name === fixture)!.kind}`;
  }

  next(w: World): ExpertAction | null {
    const f = w.task.fixtures.find((x) => x.name === this.fixture)!;
    const opening = w.physics.drawerOpening(f.name);
    const tcp = w.physics.tcpPos();
    const face = drawerFrontX(f) - opening;
    const barX = face - DRAWER.handleOut;
    // Open: fingers between bar and face. Close: fingers in front of the bar.
    const workX = this.open ? face - 0.028 : barX - 0.03;
    const z = this.open ? DRAWER.handleZ - 0.015 : DRAWER.handleZ;
    this.timer++;
    const act = (a: Float32Array, description: string): ExpertAction => ({ action: a, phase: this.phase, description });
    const goalMet = () => (this.open ? opening >= DRAWER.travel * 0.88 : opening <= 0.004);
    switch (this.phase) {
      case 'approach': {
        const target: Vec3 = this.stage === 0 ? [workX, f.pos[1], z + 0.1] : [workX, f.pos[1], z];
        if (dist(tcp, target) < (this.stage === 0 ? 0.006 : 0.006)) {
          if (this.stage === 0) this.stage = 1;
          else {
            this.phase = this.open ? 'pull' : 'push';
            this.timer = 0;
          }
          return this.next(w);
        }
        const where = this.open ? `behind the handle of ${this.name}` : `in front of the handle of ${this.name}`;
        return act(moveTo(w, target, 0, CLOSE, this.stage === 0 ? 1 : 0.3), this.stage === 0 ? `move above ${this.name}` : `move down ${where}`);
      }
      case 'pull':
      case 'push': {
        if (goalMet() || this.timer > 60) {
          this.phase = 'retreat';
          this.timer = 0;
          this.anchor = tcp;
          return this.next(w);
        }
        // Aim where the fingers sit at full travel (open) or where the bar is when closed.
        const goalX = this.open ? drawerFrontX(f) - 0.028 - DRAWER.travel * 0.95 : drawerFrontX(f) - DRAWER.handleOut - 0.02;
        return act(moveTo(w, [goalX, f.pos[1], z], 0, CLOSE, 0.3), this.open ? `pull ${this.name} open` : `push ${this.name} closed`);
      }
      case 'retreat': {
        // Leaving an opened drawer: ease toward the drawer face so the fingers come off
        // the bar they were pulling on before they slide up past it.
        const target: Vec3 = [this.anchor[0] + (this.open ? 0.01 : -0.05), this.anchor[1], SAFE_Z];
        if (tcp[2] > SAFE_Z - 0.03) return null;
        return act(moveTo(w, target, 0, CLOSE, 0.8), `move up away from ${this.name}`);
      }
      default:
        return null;
    }
  }
}

/**
 * The scripted expert for a world's goal. Stateful: create one per episode and call
 * nextAction once per control step.
 */
export class Expert {
  private stage = 0;
  private skill: Skill | null = null;

  constructor(private readonly world: World) {}

  /** Index of the goal predicate being worked on (for two-stage tasks). */
  get currentStage(): number {
    return this.stage;
  }

  nextAction(): ExpertAction {
    const w = this.world;
    const goal = w.goal;
    for (let guard = 0; guard < goal.length + 2; guard++) {
      if (this.stage >= goal.length) break;
      if (!this.skill) {
        const g = goal[this.stage];
        if (evalPredicate(w.task, w.physics, g) && g.pred !== 'Up') {
          this.stage++;
          continue;
        }
        this.skill =
          g.pred === 'Open' || g.pred === 'Close' ? new DrawerSkill(w, g.args[0], g.pred === 'Open') : g.pred === 'Touch' ? new TouchSkill(w, g) : new PickPlace(w, g);
      }
      const a = this.skill.next(w);
      if (a) return a;
      this.skill = null;
      this.stage++;
    }
    const tcp = w.physics.tcpPos();
    const closed = goal.some((g) => g.pred === 'Up' || g.pred === 'Touch');
    return {
      action: moveTo(w, tcp, toolYaw(w), closed ? CLOSE : OPEN, 0.1),
      phase: 'done',
      description: 'stay still',
    };
  }
}
