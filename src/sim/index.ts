/**
 * Public API of the simulation (DESIGN.md 5). Everything other layers need:
 *
 *   const env = await SimEnv.create({ task: 'goal/open_drawer', initState: 3, camera: { width: 64 } });
 *   let obs = await env.reset();
 *   const expert = createExpert(env);
 *   for (;;) { const a = expert.nextAction(); const r = await env.step(a.action, a); if (r.done) break; }
 *
 * Actions are Float32Array(7): [dx, dy, dz, rx, ry, rz, gripper] in [-1, 1] (5 cm and
 * 0.5 rad per 20 Hz step at full scale; gripper -1 open, +1 close), as in LIBERO.
 */
export { SimEnv, BatchEnv, createExpert, replayEpisode, CAMERA_NAMES } from './env';
export type { EnvOptions, CameraOptions, Observation, StepResult, EpisodeRecord, ActionAnnotation } from './env';
export { World, type Proprio } from './world';
export { Physics, hashFloat64 } from './physics';
export { loadMujoco, setMujocoWasmUrl } from './mujoco';
export { Expert, PHASES, type Phase, type ExpertAction } from './experts/expert';
export { runExpert, type ExpertRollout } from './experts/rollout';
export { listSuites, listTasks, getTask } from './tasks/suites';
export { getInitState, sampleInitState, INIT_STATES_PER_TASK, MAX_INIT_STATES_PER_TASK, type InitState, type ObjectPose } from './tasks/init';
export { evalPredicate, goalSatisfied, THRESHOLDS, type WorldState } from './tasks/predicates';
export { SUITES, COLORS, validateTask, describe as describeObject } from './tasks/spec';
export type { TaskSpec, Suite, ObjectSpec, FixtureSpec, RegionSpec, Predicate, PredicateName, Vec3 } from './tasks/spec';
export { PERTURBATION_KINDS, samplePerturbation, applyPerturbation, instructionFor, type Perturbation, type PerturbationKind, type EpisodeConfig } from './perturb';
export { GpuCamera, MAX_IMAGE_SIZE } from './camera/gpu';
export { renderReference } from './camera/reference';
export { ACTION_DIM, POS_SCALE, ROT_SCALE } from './controller';
export { CONTROL_HZ, TIMESTEP, SUBSTEPS } from './scene';
