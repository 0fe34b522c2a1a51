/**
 * One MuJoCo world: the model compiled from a scene's MJCF, its data, and name-resolved
 * addresses for the robot, objects and drawers. Views into wasm memory are fetched on
 * every access because the heap can grow and detach old views.
 */
import { loadMujoco, type Mujoco } from './mujoco';
import type { MjData, MjModel, DoubleBuffer } from '@mujoco/mujoco';
import { ARM_JOINTS, FINGER_JOINTS } from './robot';
import { buildMjcf, objectBodyName, SUBSTEPS, type SceneSpec } from './scene';
import { drawerJointName } from './fixtures';
import type { Vec3 } from './tasks/spec';

export interface ObjectAddr {
  body: number;
  qpos: number;
  dof: number;
}

export class Physics {
  readonly nq: number;
  readonly nv: number;
  readonly armQpos: number[];
  readonly armDof: number[];
  readonly fingerQpos: number[];
  readonly armAct: number[];
  readonly fingerAct: number[];
  readonly tcpSite: number;
  readonly wristCamSite: number;
  readonly handBody: number;
  readonly objects = new Map<string, ObjectAddr>();
  readonly drawers = new Map<string, number>();
  private readonly jacp: DoubleBuffer;
  private readonly jacr: DoubleBuffer;
  private deleted = false;

  private constructor(
    readonly mj: Mujoco,
    readonly model: MjModel,
    readonly data: MjData,
    readonly scene: SceneSpec,
    readonly xml: string,
  ) {
    this.nq = model.nq;
    this.nv = model.nv;
    const id = (type: number, name: string, what: string) => {
      const i = mj.mj_name2id(model, type, name);
      if (i < 0) throw new Error(`MJCF has no ${what} named '${name}'`);
      return i;
    };
    const JNT = mj.mjtObj.mjOBJ_JOINT.value;
    const ACT = mj.mjtObj.mjOBJ_ACTUATOR.value;
    const qposadr = model.jnt_qposadr as Int32Array;
    const dofadr = model.jnt_dofadr as Int32Array;
    const armJ = ARM_JOINTS.map((j) => id(JNT, j, 'joint'));
    this.armQpos = armJ.map((j) => qposadr[j]);
    this.armDof = armJ.map((j) => dofadr[j]);
    this.fingerQpos = FINGER_JOINTS.map((j) => qposadr[id(JNT, j, 'joint')]);
    this.armAct = ARM_JOINTS.map((j) => id(ACT, `act_${j}`, 'actuator'));
    this.fingerAct = FINGER_JOINTS.map((j) => id(ACT, `act_${j}`, 'actuator'));
    this.tcpSite = id(mj.mjtObj.mjOBJ_SITE.value, 'tcp', 'site');
    this.wristCamSite = id(mj.mjtObj.mjOBJ_SITE.value, 'wrist_cam', 'site');
    this.handBody = id(mj.mjtObj.mjOBJ_BODY.value, 'hand', 'body');
    for (const o of scene.objects) {
      const body = id(mj.mjtObj.mjOBJ_BODY.value, objectBodyName(o.name), 'body');
      const j = id(JNT, objectBodyName(o.name), 'joint');
      this.objects.set(o.name, { body, qpos: qposadr[j], dof: dofadr[j] });
    }
    for (const f of scene.fixtures) this.drawers.set(f.name, qposadr[id(JNT, drawerJointName(f), 'joint')]);
    this.jacp = new mj.DoubleBuffer(3 * this.nv);
    this.jacr = new mj.DoubleBuffer(3 * this.nv);
  }

  static async create(scene: SceneSpec): Promise<Physics> {
    const mj = await loadMujoco();
    const xml = buildMjcf(scene);
    let model: MjModel;
    try {
      model = mj.MjModel.from_xml_string(xml);
    } catch (e) {
      throw new Error(`MuJoCo rejected the generated MJCF: ${e instanceof Error ? e.message : String(e)}`);
    }
    return new Physics(mj, model, new mj.MjData(model), scene, xml);
  }

  get qpos(): Float64Array {
    return this.data.qpos as Float64Array;
  }
  get qvel(): Float64Array {
    return this.data.qvel as Float64Array;
  }
  get ctrl(): Float64Array {
    return this.data.ctrl as Float64Array;
  }
  get time(): number {
    return this.data.time as number;
  }

  /** Back to the model's defaults with zero velocities, time and warm start. */
  resetData(): void {
    this.mj.mj_resetData(this.model, this.data);
  }

  forward(): void {
    this.mj.mj_forward(this.model, this.data);
  }

  /** Advances `n` physics steps (default: one control period). */
  step(n = SUBSTEPS): void {
    for (let i = 0; i < n; i++) this.mj.mj_step(this.model, this.data);
  }

  armQ(): number[] {
    const q = this.qpos;
    return this.armQpos.map((a) => q[a]);
  }

  /** Opening between the finger pads (m). */
  gripperOpening(): number {
    const q = this.qpos;
    return q[this.fingerQpos[0]] + q[this.fingerQpos[1]];
  }

  tcpPos(): Vec3 {
    const p = this.data.site_xpos as Float64Array;
    const i = 3 * this.tcpSite;
    return [p[i], p[i + 1], p[i + 2]];
  }

  /** Row-major 3x3 rotation of the tool frame (columns are its axes in world). */
  tcpMat(): number[] {
    const m = this.data.site_xmat as Float64Array;
    return Array.from(m.subarray(9 * this.tcpSite, 9 * this.tcpSite + 9));
  }

  /** Site Jacobian (3 x nv each, row-major) for `data` (default: the live data). */
  siteJacobian(site: number, data: MjData = this.data): { jacp: Float64Array; jacr: Float64Array } {
    this.mj.mj_jacSite(this.model, data, this.jacp, this.jacr, site);
    return { jacp: this.jacp.GetView() as Float64Array, jacr: this.jacr.GetView() as Float64Array };
  }

  objectPos(name: string): Vec3 {
    const a = this.objectAddr(name);
    const q = this.qpos;
    return [q[a.qpos], q[a.qpos + 1], q[a.qpos + 2]];
  }

  /** Quaternion (w, x, y, z). */
  objectQuat(name: string): [number, number, number, number] {
    const a = this.objectAddr(name);
    const q = this.qpos;
    return [q[a.qpos + 3], q[a.qpos + 4], q[a.qpos + 5], q[a.qpos + 6]];
  }

  objectVel(name: string): Vec3 {
    const a = this.objectAddr(name);
    const v = this.qvel;
    return [v[a.dof], v[a.dof + 1], v[a.dof + 2]];
  }

  setObjectPose(name: string, pos: Vec3, quat: readonly number[] = [1, 0, 0, 0]): void {
    const a = this.objectAddr(name);
    const q = this.qpos;
    q.set(pos, a.qpos);
    q.set(quat, a.qpos + 3);
    this.qvel.fill(0, a.dof, a.dof + 6);
  }

  drawerOpening(name: string): number {
    const adr = this.drawers.get(name);
    if (adr === undefined) throw new Error(`no drawer named '${name}'`);
    return this.qpos[adr];
  }

  setDrawerOpening(name: string, v: number): void {
    const adr = this.drawers.get(name);
    if (adr === undefined) throw new Error(`no drawer named '${name}'`);
    this.qpos[adr] = v;
  }

  objectAddr(name: string): ObjectAddr {
    const a = this.objects.get(name);
    if (!a) throw new Error(`no object named '${name}' in the scene (have: ${[...this.objects.keys()].join(', ')})`);
    return a;
  }

  /** Full physical state (time, qpos, qvel, ctrl) as a copy. */
  getState(): Float64Array {
    const s = new Float64Array(1 + this.nq + this.nv + this.model.nu);
    s[0] = this.time;
    s.set(this.qpos, 1);
    s.set(this.qvel, 1 + this.nq);
    s.set(this.ctrl, 1 + this.nq + this.nv);
    return s;
  }

  /**
   * 64-bit FNV-1a (as two 32-bit lanes) over the bit patterns of time, qpos, qvel and
   * ctrl: equal hashes mean bit-identical states, across hosts too.
   */
  stateHash(): string {
    return hashFloat64(this.getState());
  }

  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.jacp.delete();
    this.jacr.delete();
    this.data.delete();
    this.model.delete();
  }
}

export function hashFloat64(values: Float64Array): string {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i], 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ bytes[bytes.length - 1 - i], 0x01000193) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
