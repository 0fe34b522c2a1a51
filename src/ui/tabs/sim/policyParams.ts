/**
 * The Sim tab's policy choice in the URL (#/sim?...&policy=&mode=&steps=&pseed=&exec=&cand=&selcalls=&coh=&critic=),
 * beside the scene (simParams.ts), and the pure rules around it: which modes a
 * checkpoint offers and the rollout job's spec. Unit-tested in
 * tests/unit/ui/sim-rollout.test.ts; a shared link reproduces the same rollout.
 */
import type { RunSummary } from '../../../../worker/jobs/runs.ts';
import { getTask } from '../../../sim/index.ts';
import { DEMO_EVAL } from '../../../train/demo-run.ts';
import { episodeSeed } from '../../../train/eval-plan.ts';
import type { DemoDefaults } from '../../lib/demoRun.ts';
import { enumParam, intParam } from '../../lib/route.ts';
import { rolloutProblems, type CheckpointPeek, type RolloutMode, type RolloutSpec } from '../../../train/rollout-record.ts';
import { DROPPED_PREFIX } from '../value/checkpoints.ts';
import { simParamUpdates, type SimSelection } from './simParams.ts';

export interface PolicySelection {
  /** '' = the scripted expert; else a browser run's name or a dropped checkpoint's id. */
  policy: string;
  /** null = the best the checkpoint has ('dit' when post-trained, else 'ar'). */
  mode: RolloutMode | null;
  /** Step limit; 0 = the task's. */
  steps: number;
  /** Episode seed of the rollout (the DiT's sampling noise). */
  pseed: number;
  /** Actions executed per chunk before re-planning; 0 = the whole chunk. */
  exec: number;
  /** Value-guided selection: proposals per re-plan; 0 or 1 = the plain policy. */
  cand: number;
  /** With cand > 1: select on the first this-many re-plans; 0 = every re-plan. */
  selcalls: number;
  /** With selcalls: afterwards the proposal that best continues the previous plan (else the plain policy). */
  coh: boolean;
  /** With cand > 1: another checkpoint (run name or dropped id) whose CRL critic scores the proposals; '' = the policy's own. */
  critic: string;
}

/** The rollout spec's range: evaluation episode seeds are 32-bit hashes (episodeSeed). */
const MAX_SEED = 0xffffffff;

export function parsePolicyParams(params: Record<string, string>): PolicySelection {
  const mode = enumParam(params, 'mode', ['dit', 'ar', ''] as const, '');
  return {
    policy: params.policy ?? '',
    mode: mode || null,
    steps: intParam(params, 'steps', 0, 0, 10_000),
    pseed: intParam(params, 'pseed', 0, 0, MAX_SEED),
    exec: intParam(params, 'exec', 0, 0, 256),
    cand: intParam(params, 'cand', 0, 0, 64),
    selcalls: intParam(params, 'selcalls', 0, 0, 10_000),
    coh: params.coh === '1',
    critic: params.critic ?? '',
  };
}

/**
 * Whether the settings ask a CRL critic: proposals chosen by value on the first `selcalls`
 * re-plans, or on every one (selcalls 0). With selcalls 0 and coherent, no proposal is
 * chosen by value (coherent selection alone, PrtsPolicyOptions.selectCalls 0), so a
 * BC-only checkpoint needs no critic.
 */
export function usesCritic(p: Pick<PolicySelection, 'cand' | 'selcalls' | 'coh'>): boolean {
  return p.cand > 1 && !(p.selcalls === 0 && p.coh);
}

export function policyParamUpdates(p: PolicySelection): Record<string, string | number | null> {
  return { policy: p.policy || null, mode: p.mode, steps: p.steps || null, pseed: p.pseed || null, exec: p.exec || null, cand: p.cand > 1 ? p.cand : null, selcalls: p.cand > 1 && p.selcalls ? p.selcalls : null, coh: p.cand > 1 && p.coh ? 1 : null, critic: usesCritic(p) && p.critic ? p.critic : null };
}

export interface ModeChoice {
  /** The mode a rollout would use. */
  mode: RolloutMode;
  /** Why 'dit' cannot be chosen (null when it can). */
  ditUnavailable: string | null;
  /** Why this checkpoint cannot roll out in this mode (empty when it can). */
  problems: string[];
}

/**
 * What a browser run's summary says of its checkpoint, as peekCheckpointFiles would read
 * it from the files (a post-training checkpoint always carries its DiT); null for runs
 * saved before summaries recorded the config, whose files must be read.
 */
export function runPeek(s: RunSummary): CheckpointPeek | null {
  return s.config ? { kind: s.kind, step: s.steps, hasDit: s.kind === 'posttrain', config: s.config } : null;
}

/** The mode to run and what stands in the way, from what the checkpoint's files say. */
export function modeChoice(peek: CheckpointPeek, wanted: RolloutMode | null): ModeChoice {
  const ditUnavailable = peek.hasDit ? null : `this ${peek.kind} checkpoint (step ${peek.step}) has no DiT action expert: post-train it to sample actions with the DiT; 'ar' decodes FAST tokens with the LM head`;
  const mode: RolloutMode = wanted ?? (peek.hasDit ? 'dit' : 'ar');
  return { mode, ditUnavailable, problems: rolloutProblems(peek.config, peek.hasDit, mode) };
}

/** The rollout job's spec for the scene and policy settings (the checkpoints travel beside it; the worker labels the critic). */
export function rolloutSpecFor(sel: SimSelection, p: PolicySelection, mode: RolloutMode): RolloutSpec {
  return {
    mode,
    task: sel.task,
    initState: sel.state,
    perturb: [...sel.perturb],
    perturbSeed: sel.seed,
    seed: p.pseed,
    ...(p.steps ? { maxSteps: p.steps } : {}),
    ...(p.exec ? { executeSteps: p.exec } : {}),
    ...(p.cand > 1 ? { candidates: p.cand, ...(p.selcalls ? { selectCalls: p.selcalls, ...(p.coh ? { coherent: true } : {}) } : p.coh ? { selectCalls: 0, coherent: true } : {}) } : {}),
  };
}

/** The label a rollout result carries for a policy id (describeSource: a dropped folder's label has no prefix). */
export function checkpointLabel(policy: string): string {
  return policy.startsWith(DROPPED_PREFIX) ? policy.slice(DROPPED_PREFIX.length) : policy;
}

/**
 * Whether a finished rollout is the one the current selection asks for (same checkpoint,
 * scene and settings); anything else needs a new rollout rather than an old replay.
 */
export function rolloutMatches(r: { checkpoint: string; spec: RolloutSpec }, sel: SimSelection, p: PolicySelection): boolean {
  const want = rolloutSpecFor(sel, p, p.mode ?? r.spec.mode);
  const a = r.spec;
  return (
    r.checkpoint === checkpointLabel(p.policy) &&
    a.mode === want.mode &&
    a.task === want.task &&
    a.initState === want.initState &&
    a.perturb.join() === want.perturb.join() &&
    a.perturbSeed === want.perturbSeed &&
    a.seed === want.seed &&
    a.maxSteps === want.maxSteps &&
    a.executeSteps === want.executeSteps &&
    a.candidates === want.candidates &&
    a.selectCalls === want.selectCalls &&
    (a.coherent ?? false) === (want.coherent ?? false) &&
    (a.critic ?? '') === (usesCritic(p) && p.critic ? checkpointLabel(p.critic) : '')
  );
}

/**
 * The Sim tab's URL for the shipped demo run: its recorded episode (task, initial state,
 * nominal scene) and the recorded evaluation's seed for that episode, so "Roll out" runs
 * the episode `npm run demo:train` scored (same harness loop, same head, same DiT noise).
 */
export function demoSimParams(d: DemoDefaults): Record<string, string | number | null> {
  const pseed = episodeSeed(DEMO_EVAL.seed, d.task, d.state, 'nominal');
  return {
    ...simParamUpdates({ suite: getTask(d.task).suite, task: d.task, state: d.state, perturb: [], seed: 0 }),
    ...policyParamUpdates({ policy: d.policyRun ?? d.run, mode: d.mode ?? null, steps: 0, pseed, exec: 0, cand: d.candidates ?? 0, selcalls: d.selectCalls ?? 0, coh: d.coherent ?? false, critic: d.policyRun ? d.run : '' }),
  };
}
