/**
 * The arm: Panda kinematics (link offsets and joint axes from Franka's published DH
 * table, arranged like MuJoCo Menagerie's panda.xml) made of primitive geoms, and a
 * parallel-jaw gripper whose two fingers are slide joints driven by position
 * actuators. Arm links are visual only: the arm never reaches into the scene with
 * its links in the scripted tasks, and leaving them out of collision halves the
 * contact work. The hand and fingers collide.
 */

export const ARM_JOINTS = ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'joint7'] as const;
export const FINGER_JOINTS = ['finger_left', 'finger_right'] as const;

/** Joint limits of the Panda arm (rad). */
export const ARM_RANGE: ReadonlyArray<readonly [number, number]> = [
  [-2.8973, 2.8973],
  [-1.7628, 1.7628],
  [-2.8973, 2.8973],
  [-3.0718, -0.0698],
  [-2.8973, 2.8973],
  [-0.0175, 3.7525],
  [-2.8973, 2.8973],
];

/** Home posture: gripper pointing down about 0.25 m above the table, fingers along world y. */
export const HOME_QPOS = [0, -0.35, 0, -2.45, 0, 2.1, Math.PI / 4];

/** Finger travel (m per finger); the opening between the pads is twice this. */
export const FINGER_MAX = 0.04;

/** Robot base position in the world (the table top is z = 0). */
export const ROBOT_BASE: readonly [number, number, number] = [-0.6, 0, 0];

const ARM_RGB = '0.92 0.92 0.95 1';
const DARK_RGB = '0.2 0.2 0.22 1';

/** MJCF fragment for the robot (goes inside <worldbody>). */
export function robotMjcf(): string {
  const vis = 'contype="0" conaffinity="0" group="1"';
  const [bx, by, bz] = ROBOT_BASE;
  // gravcomp cancels gravity on the links so the joint position servos track without
  // steady-state sag; that is what a torque-controlled Panda's controller does too.
  return `
  <body name="link0" pos="${bx} ${by} ${bz}" childclass="arm">
    <geom name="base" type="cylinder" size="0.07 0.08" pos="0 0 0.08" rgba="${DARK_RGB}" ${vis}/>
    <geom name="link0_col" type="capsule" fromto="0 0 0.1 0 0 0.28" size="0.06" rgba="${ARM_RGB}" ${vis}/>
    <body name="link1" pos="0 0 0.333" gravcomp="1">
      <inertial pos="0 0 -0.07" mass="2.5" diaginertia="0.02 0.02 0.01"/>
      <joint name="joint1" axis="0 0 1" range="${ARM_RANGE[0].join(' ')}"/>
      <geom type="capsule" fromto="0 0 -0.06 0 0 0" size="0.06" rgba="${ARM_RGB}" ${vis}/>
      <body name="link2" quat="1 -1 0 0" gravcomp="1">
        <inertial pos="0 -0.1 0" mass="2.5" diaginertia="0.02 0.01 0.02"/>
        <joint name="joint2" axis="0 0 1" range="${ARM_RANGE[1].join(' ')}"/>
        <geom type="capsule" fromto="0 0 0 0 -0.316 0" size="0.055" rgba="${ARM_RGB}" ${vis}/>
        <body name="link3" pos="0 -0.316 0" quat="1 1 0 0" gravcomp="1">
          <inertial pos="0.04 0 0" mass="2" diaginertia="0.01 0.01 0.01"/>
          <joint name="joint3" axis="0 0 1" range="${ARM_RANGE[2].join(' ')}"/>
          <geom type="capsule" fromto="0 0 0 0.0825 0 0" size="0.05" rgba="${ARM_RGB}" ${vis}/>
          <body name="link4" pos="0.0825 0 0" quat="1 1 0 0" gravcomp="1">
            <inertial pos="-0.04 0.19 0" mass="2" diaginertia="0.02 0.01 0.02"/>
            <joint name="joint4" axis="0 0 1" range="${ARM_RANGE[3].join(' ')}"/>
            <geom type="capsule" fromto="0 0 0 -0.0825 0.384 0" size="0.05" rgba="${ARM_RGB}" ${vis}/>
            <body name="link5" pos="-0.0825 0.384 0" quat="1 -1 0 0" gravcomp="1">
              <inertial pos="0 0 0" mass="1.5" diaginertia="0.01 0.01 0.005"/>
              <joint name="joint5" axis="0 0 1" range="${ARM_RANGE[4].join(' ')}"/>
              <geom type="sphere" size="0.05" rgba="${ARM_RGB}" ${vis}/>
              <body name="link6" quat="1 1 0 0" gravcomp="1">
                <inertial pos="0.04 0 0" mass="1" diaginertia="0.005 0.005 0.005"/>
                <joint name="joint6" axis="0 0 1" range="${ARM_RANGE[5].join(' ')}"/>
                <geom type="capsule" fromto="0 0 0 0.088 0 0" size="0.045" rgba="${ARM_RGB}" ${vis}/>
                <body name="link7" pos="0.088 0 0" quat="1 1 0 0" gravcomp="1">
                  <inertial pos="0 0 0.05" mass="0.6" diaginertia="0.003 0.003 0.003"/>
                  <joint name="joint7" axis="0 0 1" range="${ARM_RANGE[6].join(' ')}"/>
                  <geom type="cylinder" fromto="0 0 0 0 0 0.09" size="0.04" rgba="${DARK_RGB}" ${vis}/>
                  <body name="hand" pos="0 0 0.107" quat="0.9238795 0 0 -0.3826834" gravcomp="1">
                    <inertial pos="0 0 0.03" mass="0.6" diaginertia="0.002 0.0005 0.002"/>
                    <geom name="hand" type="box" size="0.02 0.09 0.025" pos="0 0 0.03" rgba="${ARM_RGB}" friction="0.8 0.005 0.0001"/>
                    <site name="tcp" pos="0 0 0.1034"/>
                    <site name="wrist_cam" pos="0.07 0 0.03"/>
                    <body name="finger_left" pos="0 0 0.0584" gravcomp="1">
                      <inertial pos="0 0.01 0.027" mass="0.03" diaginertia="1e-5 1e-5 1e-5"/>
                      <joint name="finger_left" type="slide" axis="0 1 0" range="0 ${FINGER_MAX}" damping="2" armature="0.01"/>
                      <geom name="finger_left" type="box" size="0.01 0.008 0.027" pos="0 0.008 0.027" rgba="${DARK_RGB}" condim="4" friction="1.5 0.01 0.0005" solref="0.008 1" priority="1"/>
                    </body>
                    <body name="finger_right" pos="0 0 0.0584" quat="0 0 0 1" gravcomp="1">
                      <inertial pos="0 0.01 0.027" mass="0.03" diaginertia="1e-5 1e-5 1e-5"/>
                      <joint name="finger_right" type="slide" axis="0 1 0" range="0 ${FINGER_MAX}" damping="2" armature="0.01"/>
                      <geom name="finger_right" type="box" size="0.01 0.008 0.027" pos="0 0.008 0.027" rgba="${DARK_RGB}" condim="4" friction="1.5 0.01 0.0005" solref="0.008 1" priority="1"/>
                    </body>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
  </body>`;
}

/** MJCF <actuator> entries: joint position servos for the arm, one per finger. */
export function robotActuatorsMjcf(): string {
  const kp = [4000, 4000, 3000, 3000, 1500, 1200, 800];
  const arm = ARM_JOINTS.map(
    (j, i) =>
      `<position name="act_${j}" joint="${j}" kp="${kp[i]}" ctrlrange="${ARM_RANGE[i].join(' ')}" forcerange="-87 87"/>`,
  ).join('\n    ');
  const fingers = FINGER_JOINTS.map(
    (j) => `<position name="act_${j}" joint="${j}" kp="600" ctrlrange="0 ${FINGER_MAX}" forcerange="-25 25"/>`,
  ).join('\n    ');
  return `${arm}\n    ${fingers}`;
}

/** The robot's default class: damped joints so the stiff servos settle without ringing. */
export const ARM_DEFAULT_CLASS = '<default class="arm"><joint damping="80" armature="0.1"/></default>';
