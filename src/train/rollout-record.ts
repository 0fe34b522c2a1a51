/**
 * A single PRTS-checkpoint rollout as the Sim tab watches it (worker/jobs/rollout.ts runs
 * it, src/train/rollout.ts holds the loop): what is asked (RolloutSpec), whether a
 * checkpoint can run in the simulation at all, and the recorded episode that comes back
 * (RolloutResult), with its JSON form for the worker's result event.
 *
 * Pure and GPU-free, so the UI thread imports it to check a checkpoint before starting a
 * job and to decode the result. Per-step physics state travels as qpos (the viewer
 * recomputes geom poses with mj_forward: geom poses are a function of qpos in these
 * scenes, which have no mocap bodies); the policy's camera frames travel only for the
 * steps at which it re-planned, which are exactly the frames the model looked at.
 * Binary arrays go as base64 strings because job results are JSON (worker/protocol.ts).
 */
import { validateConfig, type WorkbenchConfig } from '../model/config.ts';
import { demoFeatures } from '../sim/demos.ts';
import { ACTION_DIM, CAMERA_NAMES, getInitState, getTask, MAX_IMAGE_SIZE, MAX_INIT_STATES_PER_TASK, PERTURBATION_KINDS, samplePerturbation, type Perturbation, type PerturbationKind } from '../sim/index.ts';

export const ROLLOUT_SCHEMA = 'prts-workbench/rollout@1';
export type RolloutMode = 'dit' | 'ar';

/** What to roll out (the checkpoint travels beside it, see JobParams['rollout']). */
export interface RolloutSpec {
  mode: RolloutMode;
  /** Task id, e.g. "goal/red_on_plate". */
  task: string;
  /** Fixed initial state index. */
  initState: number;
  /** Perturbation axes drawn together from perturbSeed, as the Sim tab's expert runs them. */
  perturb: PerturbationKind[];
  perturbSeed: number;
  /** Step limit; default (and at most) the task's. */
  maxSteps?: number;
  /** The episode seed: seeds the DiT's sampling noise (EpisodeStart.seed). */
  seed: number;
  /** Actions executed per chunk before re-planning (default the chunk length). */
  executeSteps?: number;
  /** Value-guided selection (src/train/value-select.ts): proposals per re-plan (default 1, the plain policy). */
  candidates?: number;
  /** With candidates > 1: select on the first this-many re-plans only (default every re-plan); 0 with coherent: coherent selection alone, no critic. */
  selectCalls?: number;
  /** With selectCalls: afterwards execute the proposal that best continues the previous plan (PrtsPolicyOptions.coherent). */
  coherent?: boolean;
  /** The label of another checkpoint whose CRL critic scores the proposals (its data travels beside the spec, as the policy's does). */
  critic?: string;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Throws naming the field and the problem. */
export function checkRolloutSpec(s: RolloutSpec): void {
  if (s.mode !== 'dit' && s.mode !== 'ar') throw new Error(`rollout mode must be 'dit' or 'ar', got ${JSON.stringify(s.mode)}`);
  let maxSteps: number;
  try {
    maxSteps = getTask(s.task).maxSteps;
  } catch {
    throw new Error(`rollout task: unknown task ${JSON.stringify(s.task)}`);
  }
  if (!isInt(s.initState) || s.initState < 0 || s.initState >= MAX_INIT_STATES_PER_TASK) throw new Error(`rollout initState must be an integer in [0, ${MAX_INIT_STATES_PER_TASK - 1}], got ${s.initState}`);
  if (!Array.isArray(s.perturb)) throw new Error('rollout perturb must be a list of perturbation kinds');
  for (const k of s.perturb) if (!PERTURBATION_KINDS.includes(k)) throw new Error(`rollout perturb: unknown kind ${JSON.stringify(k)} (known: ${PERTURBATION_KINDS.join(', ')})`);
  if (!isInt(s.perturbSeed) || s.perturbSeed < 0) throw new Error(`rollout perturbSeed must be a non-negative integer, got ${s.perturbSeed}`);
  if (s.maxSteps !== undefined && (!isInt(s.maxSteps) || s.maxSteps < 1 || s.maxSteps > maxSteps)) throw new Error(`rollout maxSteps must be an integer in [1, ${maxSteps}] (the task's step limit), got ${s.maxSteps}`);
  if (!isInt(s.seed) || s.seed < 0 || s.seed > 0xffffffff) throw new Error(`rollout seed must be an integer in [0, 2^32), got ${s.seed}`);
  if (s.executeSteps !== undefined && (!isInt(s.executeSteps) || s.executeSteps < 1)) throw new Error(`rollout executeSteps must be a positive integer, got ${s.executeSteps}`);
  if (s.candidates !== undefined && (!isInt(s.candidates) || s.candidates < 1 || s.candidates > 64)) throw new Error(`rollout candidates must be an integer in [1, 64], got ${s.candidates}`);
  if (s.selectCalls !== undefined && (!isInt(s.selectCalls) || s.selectCalls < 0)) throw new Error(`rollout selectCalls must be a non-negative integer, got ${s.selectCalls}`);
  if (s.coherent !== undefined && typeof s.coherent !== 'boolean') throw new Error(`rollout coherent must be true or false, got ${JSON.stringify(s.coherent)}`);
  if (s.selectCalls === 0 && s.coherent !== true) throw new Error('rollout selectCalls 0 is coherent selection alone: it needs coherent true (or leave selectCalls out to select by value on every re-plan)');
  if (s.selectCalls === 0 && s.critic !== undefined) throw new Error(`rollout critic: with selectCalls 0 (coherent selection alone) no proposal is chosen by value, so the critic ${JSON.stringify(s.critic)} would never be asked`);
  if (s.critic !== undefined && (typeof s.critic !== 'string' || !s.critic)) throw new Error(`rollout critic must be a checkpoint label, got ${JSON.stringify(s.critic)}`);
}

/** The Sim tab's perturbation draw for a scene: all chosen axes from one seed (null when none). */
export function simPerturbation(taskId: string, initState: number, kinds: readonly PerturbationKind[], seed: number): Perturbation | null {
  if (!kinds.length) return null;
  const spec = getTask(taskId);
  return samplePerturbation(spec, getInitState(spec, initState), [...kinds], seed);
}

/** The simulation's proprio state width (LIBERO's 8-D state), as the demonstration datasets store it. */
export const SIM_STATE_DIM = demoFeatures(8)['observation.state'].shape[0];

/** Side of the camera images a checkpoint's policy is fed: its own image size (the camera's minimum is 8). */
export function policyImageSize(cfg: WorkbenchConfig): number {
  return Math.max(8, cfg.model.imageSize);
}

/**
 * Why a checkpoint cannot roll out in the simulation in `mode` (empty when it can):
 * cameras the simulation does not render, another state or action width, an image
 * larger than the camera renders, or 'dit' without a post-trained DiT.
 */
export function rolloutProblems(cfg: WorkbenchConfig, hasDit: boolean, mode: RolloutMode): string[] {
  const m = cfg.model;
  const out: string[] = [];
  const unknown = m.cameras.filter((c) => !(CAMERA_NAMES as readonly string[]).includes(c));
  if (unknown.length) out.push(`the checkpoint's cameras ${JSON.stringify(m.cameras)} include ${unknown.map((c) => `"${c}"`).join(', ')}, which the simulation does not render (it has ${CAMERA_NAMES.join(', ')})`);
  if (m.stateDim !== SIM_STATE_DIM) out.push(`the checkpoint's state has ${m.stateDim} dimensions, the simulation's proprio state ${SIM_STATE_DIM} (end-effector position, axis-angle, two fingers)`);
  if (m.actionDim !== ACTION_DIM) out.push(`the checkpoint's actions have ${m.actionDim} dimensions, the simulation's ${ACTION_DIM} (6-D end-effector delta + gripper)`);
  if (m.imageSize > MAX_IMAGE_SIZE) out.push(`the checkpoint's image size ${m.imageSize} is larger than the simulation's cameras render (at most ${MAX_IMAGE_SIZE})`);
  if (mode === 'dit' && !hasDit) out.push("the checkpoint has no DiT action expert (it was not post-trained): use mode 'ar' (FAST decoding with the LM head)");
  return out;
}

/** What a checkpoint directory's small JSON files say, without decoding its tensors. */
export interface CheckpointPeek {
  kind: string;
  step: number;
  hasDit: boolean;
  config: WorkbenchConfig;
}

/**
 * Reads a checkpoint directory's files (a run folder with latest.json, or one step
 * folder) the way loadCheckpoint finds them, but only latest.json, trainer.json and
 * config.json: enough for the UI to offer the modes and flag a mismatch before a job.
 */
export function peekCheckpointFiles(files: Record<string, Uint8Array>): CheckpointPeek {
  const dec = new TextDecoder();
  const json = (path: string): unknown => {
    const b = files[path];
    if (!b) throw new Error(`checkpoint: ${path} is missing`);
    try {
      return JSON.parse(dec.decode(b));
    } catch (e) {
      throw new Error(`checkpoint: ${path} is not valid JSON (${(e as Error).message})`);
    }
  };
  let dir = '';
  if (files['latest.json']) {
    const latest = json('latest.json') as { dir?: unknown };
    if (typeof latest?.dir !== 'string') throw new Error('checkpoint: latest.json has no "dir" string');
    dir = `${latest.dir}/`;
  }
  const trainer = json(`${dir}trainer.json`) as { kind?: unknown; step?: unknown; files?: Record<string, unknown> };
  const cfg = validateConfig(json(`${dir}config.json`));
  if (!cfg.ok) throw new Error(`checkpoint: ${dir}config.json is not a valid config (${cfg.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})`);
  return {
    kind: typeof trainer.kind === 'string' ? trainer.kind : 'unknown',
    step: typeof trainer.step === 'number' ? trainer.step : 0,
    hasDit: !!trainer.files && 'dit.json' in trainer.files,
    config: cfg.value,
  };
}

// ------------------------------------------------------------------ the result

/** The images the policy was given when it planned a chunk (RGB, imageSize^2 * 3 each). */
export interface RolloutFrame {
  /** The control step of the observation (0 = after reset). */
  step: number;
  agentview: Uint8Array;
  wrist: Uint8Array;
}

export interface RolloutResult {
  schema: typeof ROLLOUT_SCHEMA;
  /** The checkpoint's label (run name) and the policy's name. */
  checkpoint: string;
  policy: string;
  spec: RolloutSpec;
  instruction: string;
  /** The per-episode perturbation record (null: nominal). */
  perturbation: Perturbation | null;
  chunkSize: number;
  executeSteps: number;
  /** Policy calls (one per re-planning step). */
  actCalls: number;
  /** AR chunks whose FAST tokens did not decode (executed as zero actions), and why the last one failed. */
  arFailures: number;
  lastArFailure: string | null;
  /** Control steps run, the limit, and the outcome: the episode ends at the first step its goal holds. */
  steps: number;
  maxSteps: number;
  success: boolean;
  successStep: number | null;
  finalStateHash: string;
  /** qpos after reset and after every step: (steps + 1) x nq. */
  nq: number;
  qpos: Float64Array;
  /** Executed actions: steps x ACTION_DIM. */
  actions: Float32Array;
  imageSize: number;
  frames: RolloutFrame[];
}

export type RolloutResultJson = Omit<RolloutResult, 'qpos' | 'actions' | 'frames'> & {
  qpos: string;
  actions: string;
  frames: Array<{ step: number; agentview: string; wrist: string }>;
};

export function bytesToBase64(b: Uint8Array): string {
  let s = '';
  // Chunks keep String.fromCharCode's argument list short.
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function base64ToBytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const bytesOf = (a: Float64Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function encodeRollout(r: RolloutResult): RolloutResultJson {
  return {
    ...r,
    spec: { ...r.spec, perturb: [...r.spec.perturb] },
    qpos: bytesToBase64(bytesOf(r.qpos)),
    actions: bytesToBase64(bytesOf(r.actions)),
    frames: r.frames.map((f) => ({ step: f.step, agentview: bytesToBase64(f.agentview), wrist: bytesToBase64(f.wrist) })),
  };
}

/** Checks and decodes a rollout job's result; errors name the field. */
export function decodeRollout(json: unknown): RolloutResult {
  const fail = (field: string, what: string): never => {
    throw new Error(`rollout result: field '${field}' ${what}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('(root)', 'must be an object');
  const o = json as Record<string, unknown>;
  if (o.schema !== ROLLOUT_SCHEMA) fail('schema', `must be '${ROLLOUT_SCHEMA}', got ${JSON.stringify(o.schema)}`);
  for (const f of ['steps', 'maxSteps', 'nq', 'imageSize', 'chunkSize', 'executeSteps', 'actCalls', 'arFailures'] as const) if (!isInt(o[f]) || (o[f] as number) < 0) fail(f, 'must be a non-negative integer');
  for (const f of ['checkpoint', 'policy', 'instruction', 'finalStateHash', 'qpos', 'actions'] as const) if (typeof o[f] !== 'string') fail(f, 'must be a string');
  if (typeof o.success !== 'boolean') fail('success', 'must be a boolean');
  if (!(o.successStep === null || isInt(o.successStep))) fail('successStep', 'must be an integer or null');
  if (typeof o.spec !== 'object' || o.spec === null) fail('spec', 'must be an object');
  if (!Array.isArray(o.frames)) fail('frames', 'must be an array');
  const steps = o.steps as number;
  const nq = o.nq as number;
  const size = o.imageSize as number;
  const asF64 = (b: Uint8Array) => new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const qb = base64ToBytes(o.qpos as string);
  if (qb.byteLength !== (steps + 1) * nq * 8) fail('qpos', `holds ${qb.byteLength} bytes, expected (steps + 1) x nq x 8 = ${(steps + 1) * nq * 8}`);
  const ab = base64ToBytes(o.actions as string);
  if (ab.byteLength !== steps * ACTION_DIM * 4) fail('actions', `holds ${ab.byteLength} bytes, expected steps x ${ACTION_DIM} x 4 = ${steps * ACTION_DIM * 4}`);
  const frames = (o.frames as Array<Record<string, unknown>>).map((f, i) => {
    if (!isInt(f?.step) || (f.step as number) > steps) fail(`frames[${i}].step`, `must be an integer in [0, ${steps}]`);
    const im = (k: 'agentview' | 'wrist') => {
      if (typeof f[k] !== 'string') fail(`frames[${i}].${k}`, 'must be a base64 string');
      const b = base64ToBytes(f[k] as string);
      if (b.length !== size * size * 3) fail(`frames[${i}].${k}`, `holds ${b.length} bytes, expected ${size}x${size}x3`);
      return b;
    };
    return { step: f.step as number, agentview: im('agentview'), wrist: im('wrist') };
  });
  return {
    ...(o as unknown as RolloutResultJson),
    qpos: asF64(qb),
    actions: new Float32Array(ab.buffer.slice(ab.byteOffset, ab.byteOffset + ab.byteLength)),
    frames,
  };
}

/** The frame the policy last looked at by `step` (frames are in step order); null before its first. */
export function frameAtStep(frames: readonly RolloutFrame[], step: number): RolloutFrame | null {
  let best: RolloutFrame | null = null;
  for (const f of frames) {
    if (f.step > step) break;
    best = f;
  }
  return best;
}
