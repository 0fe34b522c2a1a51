/**
 * MJCF generation from a task's scene: table, robot, fixtures and free objects, with
 * the contact settings that let a parallel gripper hold things by friction alone
 * (elliptic cones, impratio 10, noslip iterations; DESIGN.md 5).
 */
import { ARM_DEFAULT_CLASS, robotActuatorsMjcf, robotMjcf } from './robot';
import { drawerMjcf } from './fixtures';
import { COLORS, objectSize, type FixtureSpec, type ObjectSpec, type Vec3 } from './tasks/spec';

/** Physics timestep (s) and control rate: 25 substeps of 2 ms per 20 Hz control step. */
export const TIMESTEP = 0.002;
export const CONTROL_HZ = 20;
export const SUBSTEPS = Math.round(1 / (CONTROL_HZ * TIMESTEP));

export const DEFAULT_TABLE_RGB: Vec3 = [0.78, 0.7, 0.58];

export interface SceneSpec {
  objects: ObjectSpec[];
  fixtures: FixtureSpec[];
  tableRgb?: Vec3;
}

const OBJECT_MASS: Record<ObjectSpec['kind'], number> = { block: 0.08, cylinder: 0.1, plate: 0.3, tray: 0.4 };

export function objectBodyName(name: string): string {
  return `obj:${name}`;
}

const f4 = (v: number) => v.toFixed(4);
const rgba = (c: Vec3) => `${f4(c[0])} ${f4(c[1])} ${f4(c[2])} 1`;

function objectMjcf(o: ObjectSpec): string {
  const s = objectSize(o);
  const c = rgba(COLORS[o.color]);
  const name = objectBodyName(o.name);
  const contact = 'condim="4" friction="1 0.005 0.0001"';
  let geoms: string;
  switch (o.kind) {
    case 'block':
      geoms = `<geom name="${name}" type="box" size="${s.map(f4).join(' ')}" rgba="${c}" ${contact}/>`;
      break;
    case 'cylinder':
    case 'plate':
      geoms = `<geom name="${name}" type="cylinder" size="${f4(s[0])} ${f4(s[1])}" rgba="${c}" ${contact}/>`;
      break;
    case 'tray': {
      // Floor plate plus four walls; the body origin sits at the wall mid-height.
      const [hx, hy, hw] = s;
      const t = 0.005;
      const fz = -hw + t / 2;
      geoms = [
        `<geom name="${name}" type="box" size="${f4(hx)} ${f4(hy)} ${f4(t / 2)}" pos="0 0 ${f4(fz)}" rgba="${c}" ${contact}/>`,
        `<geom type="box" size="${f4(t)} ${f4(hy)} ${f4(hw)}" pos="${f4(hx - t)} 0 0" rgba="${c}" ${contact}/>`,
        `<geom type="box" size="${f4(t)} ${f4(hy)} ${f4(hw)}" pos="${f4(-(hx - t))} 0 0" rgba="${c}" ${contact}/>`,
        `<geom type="box" size="${f4(hx - 2 * t)} ${f4(t)} ${f4(hw)}" pos="0 ${f4(hy - t)} 0" rgba="${c}" ${contact}/>`,
        `<geom type="box" size="${f4(hx - 2 * t)} ${f4(t)} ${f4(hw)}" pos="0 ${f4(-(hy - t))} 0" rgba="${c}" ${contact}/>`,
      ].join('\n      ');
      break;
    }
  }
  return `
  <body name="${name}" pos="0 0 0.5">
    <freejoint name="${name}"/>
    <inertial pos="0 0 0" mass="${OBJECT_MASS[o.kind]}" diaginertia="${inertia(o)}"/>
    ${geoms}
  </body>`;
}

function inertia(o: ObjectSpec): string {
  const s = objectSize(o);
  const m = OBJECT_MASS[o.kind];
  let i: Vec3;
  if (o.kind === 'block' || o.kind === 'tray') {
    const [a, b, c] = [2 * s[0], 2 * s[1], 2 * s[2]];
    i = [(m * (b * b + c * c)) / 12, (m * (a * a + c * c)) / 12, (m * (a * a + b * b)) / 12];
  } else {
    const r = s[0];
    const h = 2 * s[1];
    const ixx = (m * (3 * r * r + h * h)) / 12;
    i = [ixx, ixx, (m * r * r) / 2];
  }
  return i.map((v) => v.toExponential(4)).join(' ');
}

/** The complete MJCF document for a scene. */
export function buildMjcf(scene: SceneSpec): string {
  const table = scene.tableRgb ?? DEFAULT_TABLE_RGB;
  return `<mujoco model="prts_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="${TIMESTEP}" integrator="implicitfast" cone="elliptic" impratio="10" noslip_iterations="3"/>
  <default>
    <geom solref="0.01 1" solimp="0.95 0.99 0.001"/>
    ${ARM_DEFAULT_CLASS}
  </default>
  <worldbody>
  <geom name="table" type="plane" size="0 0 0.05" rgba="${rgba(table)}" friction="1 0.005 0.0001"/>
  ${robotMjcf()}
  ${scene.fixtures.map(drawerMjcf).join('\n')}
  ${scene.objects.map(objectMjcf).join('\n')}
  </worldbody>
  <contact>
    <exclude body1="finger_left" body2="finger_right"/>
    ${scene.fixtures.map((f) => `<exclude body1="${f.name}" body2="${f.name}_drawer"/>`).join('\n    ')}
  </contact>
  <actuator>
    ${robotActuatorsMjcf()}
  </actuator>
</mujoco>`;
}
