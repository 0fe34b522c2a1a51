/**
 * One PRTS-checkpoint episode in the simulation, recorded for the Sim tab's viewer
 * (worker/jobs/rollout.ts runs it in the GPU worker). The episode goes through the
 * evaluation harness's loop (rolloutEpisode in eval-rollout.ts: receding-horizon execution,
 * termination at the first success or the step limit), so what the tab shows is what
 * `npm run eval` would score for the same scene and seed.
 *
 * Determinism: the scene is the Sim tab's (task, initial state, perturbation record drawn
 * from perturbSeed), the DiT noise is seeded from `seed`, AR decoding is greedy; the same
 * spec on the same checkpoint gives the same rollout (tests/unit/train/rollout.test.ts).
 */
import type { Runtime } from '../engine/runtime.ts';
import type { CheckpointData } from './checkpoint.ts';
import { rolloutEpisode } from './eval-rollout.ts';
import { InferenceError, prtsPolicyFromCheckpoint } from './inference.ts';
import type { Policy } from './policy.ts';
import { checkRolloutSpec, policyImageSize, ROLLOUT_SCHEMA, rolloutProblems, simPerturbation, type RolloutFrame, type RolloutResult, type RolloutSpec } from './rollout-record.ts';
import { ACTION_DIM } from '../sim/index.ts';

export interface RolloutHooks {
  /** The checkpoint's name for the result. */
  label: string;
  /** After reset (step 0) and every control step; awaited (pause / cancel between steps). */
  onStep?: (step: number, maxSteps: number) => void | Promise<void>;
  /** The checkpoint spec.critic names (its CRL critic scores the proposals). */
  critic?: CheckpointData;
}

/** Passes act() through, keeping the images of every observation the policy planned from. */
function recordInputs(policy: Policy, frames: RolloutFrame[]): Policy {
  return {
    name: policy.name,
    chunkSize: policy.chunkSize,
    // The checkpoint's re-planning interval (model.executeSteps): without it the executor
    // would run whole chunks, unlike the evaluation the Sim tab's rollout should repeat.
    executeSteps: policy.executeSteps,
    episodeIssues: policy.episodeIssues?.bind(policy),
    needsImages: policy.needsImages,
    privileged: policy.privileged,
    reset: (eps) => policy.reset(eps),
    act: (inputs) => {
      for (const x of inputs) {
        const im = x.obs.images;
        if (im) frames.push({ step: x.obs.step, agentview: im.agentview.slice(), wrist: im.wrist.slice() });
      }
      return policy.act(inputs);
    },
  };
}

export async function runRollout(rt: Runtime, data: CheckpointData, spec: RolloutSpec, hooks: RolloutHooks): Promise<RolloutResult> {
  checkRolloutSpec(spec);
  const problems = rolloutProblems(data.config, !!data.dit, spec.mode);
  if (problems.length) throw new InferenceError(`checkpoint "${hooks.label}" cannot roll out here: ${problems.join('; ')}`);
  const perturbation = simPerturbation(spec.task, spec.initState, spec.perturb, spec.perturbSeed);
  if ((spec.critic === undefined) !== (hooks.critic === undefined)) throw new InferenceError(spec.critic === undefined ? 'rollout: a critic checkpoint was given but the spec names none (spec.critic)' : `rollout: the spec names critic "${spec.critic}" but its checkpoint was not given`);
  const policy = await prtsPolicyFromCheckpoint(data, { mode: spec.mode, rt, candidates: spec.candidates, selectCalls: spec.selectCalls, coherent: spec.coherent, executeSteps: spec.executeSteps, critic: hooks.critic });
  const frames: RolloutFrame[] = [];
  const qpos: Float64Array[] = [];
  const size = policyImageSize(data.config);
  let limit = 0;
  try {
    const out = await rolloutEpisode(
      recordInputs(policy, frames),
      { taskId: spec.task, initState: spec.initState, perturbation, axis: spec.perturb.length ? spec.perturb.join('+') : 'nominal', seed: spec.seed },
      {
        maxSteps: spec.maxSteps,
        executeSteps: spec.executeSteps,
        camera: { width: size, height: size, device: rt.device },
        observe: async (step, env) => {
          qpos.push(new Float64Array(env.worlds[0].physics.data.qpos as Float64Array));
          limit ||= spec.maxSteps ?? env.configs()[0].task.maxSteps;
          await hooks.onStep?.(step, limit);
        },
      },
    );
    const r = out.record;
    const nq = qpos[0].length;
    const flat = new Float64Array(qpos.length * nq);
    qpos.forEach((q, i) => flat.set(q, i * nq));
    const actions = new Float32Array(r.steps * ACTION_DIM);
    r.actions.forEach((a, i) => actions.set(a, i * ACTION_DIM));
    const stats = policy.inference.stats;
    return {
      schema: ROLLOUT_SCHEMA,
      checkpoint: hooks.label,
      policy: policy.name,
      spec: { ...spec, perturb: [...spec.perturb] },
      instruction: r.instruction,
      perturbation: r.perturbation,
      chunkSize: policy.chunkSize,
      executeSteps: out.executeSteps,
      actCalls: out.actCalls,
      arFailures: stats.arFailures,
      lastArFailure: stats.lastFailure,
      steps: r.steps,
      maxSteps: out.maxSteps,
      success: r.success,
      successStep: r.success ? r.steps : null,
      finalStateHash: r.finalStateHash,
      nq,
      qpos: flat,
      actions,
      imageSize: size,
      frames,
    };
  } finally {
    policy.dispose();
  }
}
