/**
 * Recovery demonstrations: the policy drives an episode for a few steps (roll-in), then
 * the scripted expert takes over from wherever the policy left the robot and finishes
 * the task (roll-out); the expert's part is saved as a new episode. Trained on, these
 * episodes show the policy how to get back from the states its own mistakes lead to,
 * the states the expert's demonstrations never visit (DAgger, Ross et al. 2011).
 *
 * Why whole expert roll-outs and not DAgger's per-state relabelling: the policy
 * predicts action chunks, and a chunk label has to be a coherent stretch of expert
 * actions. Relabelling each policy-visited state with the expert's next action would
 * give chunk targets stitched from the expert's answers to states along the policy's
 * path, which the expert would never execute in a row. Rolling the expert out from the
 * takeover state gives the chunk the expert would execute from there (the roll-in /
 * roll-out scheme of LOLS and AggreVaTe).
 *
 * The episodes carry the same features as `npm run gen`'s demonstrations
 * (src/sim/demos.ts), so they append to a copy of the demonstration dataset and train
 * through the same batch builder; their metadata says where they came from
 * (source "recovery", the roll-in policy, the takeover step).
 */
import type { JsonValue, LeRobotWriter } from '../data/index.ts';
import { Rng } from '../engine/random';
import { BatchEnv, createExpert, getInitState, PHASES, type ActionAnnotation, type Observation, type TaskSpec } from '../sim/index';
import { RecedingHorizonExecutor, type EpisodeStart, type Policy, type PolicyInput } from './policy';

/** One recovery episode of a plan: the scene and when the expert takes over. */
export interface RecoveryItem {
  /** Position in the plan; stored as meta.recovery_plan_index so a rerun resumes after it. */
  planIndex: number;
  task: TaskSpec;
  /** Fixed initial state index (training states: 10 and above keep the benchmark's 0-9 held out). */
  init: number;
  /** Control steps the policy runs before the expert takes over (0: a plain demonstration). */
  takeover: number;
}

/**
 * The plan: every task x initial state, in that order, each with a takeover step drawn
 * uniformly from [takeover.min, takeover.max] by a generator seeded from `seed` and the
 * plan index, so the same arguments give the same plan however a run is resumed.
 */
export function recoveryPlan(tasks: readonly TaskSpec[], initStates: readonly number[], takeover: { min: number; max: number }, seed: number): RecoveryItem[] {
  const { min, max } = takeover;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) throw new RangeError(`takeover must be integers with 0 <= min <= max, got ${min}-${max}`);
  if (tasks.length === 0) throw new RangeError('tasks: the plan needs at least one task');
  if (initStates.length === 0) throw new RangeError('initStates: the plan needs at least one initial state');
  const plan: RecoveryItem[] = [];
  for (const task of tasks) {
    for (const init of initStates) {
      const k = plan.length;
      const rng = new Rng((seed * 1_000_003 + k * 7919 + 17) >>> 0);
      plan.push({ planIndex: k, task, init, takeover: min + rng.int(max - min + 1) });
    }
  }
  return plan;
}

/** What happened to one planned episode. */
export interface RecoveryOutcome {
  item: RecoveryItem;
  /** saved: the expert finished the task from the takeover state; policy-succeeded: the
   * goal held before the takeover (nothing to recover, nothing saved); expert-failed:
   * the expert did not finish within its budget (not saved). */
  status: 'saved' | 'policy-succeeded' | 'expert-failed';
  /** Frames of the saved episode (the expert's steps), 0 otherwise. */
  frames: number;
}

export interface RecoveryBatchOptions {
  policy: Policy;
  /** Square camera images of the dataset (and of what the policy sees). */
  size: number;
  device: GPUDevice;
  /** Expert steps allowed after the takeover (default the task's step limit). */
  expertSteps?: number;
  /** Seeds the policy's per-episode sampling (EpisodeStart.seed). */
  seed?: number;
  /** Actions executed per chunk before re-planning (default the policy's). */
  executeSteps?: number;
}

interface Slot {
  item: RecoveryItem;
  expert: { nextAction(): { action: Float32Array; phase: (typeof PHASES)[number]; description: string } } | null;
  frames: Array<{ obs: Observation; action: Float32Array; phase: number; description: string; reward: number; done: boolean }>;
  expertSteps: number;
  outcome: RecoveryOutcome['status'] | null;
}

/**
 * Runs one batch of the plan in one BatchEnv (policy and expert slots step together) and
 * saves the successful recoveries to `writer` in plan order, so a dataset always ends
 * with a whole batch and a rerun can resume after its last episode.
 */
export async function recordRecoveryBatch(writer: LeRobotWriter, items: readonly RecoveryItem[], o: RecoveryBatchOptions): Promise<RecoveryOutcome[]> {
  if (items.length === 0) return [];
  const env = await BatchEnv.create(
    items.map((it) => ({ task: it.task, initState: it.init })),
    { device: o.device, width: o.size, height: o.size, readback: true },
  );
  try {
    let obs = await env.reset();
    const worlds = env.worlds;
    const configs = env.configs();
    const slots: Slot[] = items.map((item) => ({ item, expert: null, frames: [], expertSteps: 0, outcome: null }));
    const executor = new RecedingHorizonExecutor(o.policy, { executeSteps: o.executeSteps });
    const starts: EpisodeStart[] = items.map((it, i) => ({
      envId: i,
      taskId: it.task.id,
      instruction: configs[i].instruction,
      initState: it.init,
      perturbation: 'nominal',
      seed: ((o.seed ?? 0) * 100_003 + it.planIndex) >>> 0,
      world: o.policy.privileged ? worlds[i] : undefined,
    }));
    await executor.reset(starts);
    const hold = new Float32Array(7);
    for (let t = 0; slots.some((s) => s.outcome === null); t++) {
      // Slots whose roll-in is over hand over to a fresh expert on the current state.
      slots.forEach((s, i) => {
        if (s.outcome === null && !s.expert && t >= s.item.takeover) {
          executor.finish(i);
          s.expert = createExpert(worlds[i]);
        }
      });
      const policySlots = slots.map((_, i) => i).filter((i) => slots[i].outcome === null && !slots[i].expert);
      const inputs: PolicyInput[] = policySlots.map((i) => ({ envId: i, obs: obs[i], instruction: configs[i].instruction, taskId: items[i].task.id, world: o.policy.privileged ? worlds[i] : undefined }));
      const policyActs = inputs.length ? await executor.next(inputs) : [];
      const actions: Float32Array[] = slots.map(() => hold);
      const notes: Array<ActionAnnotation | undefined> = slots.map(() => undefined);
      policySlots.forEach((i, j) => (actions[i] = policyActs[j]));
      slots.forEach((s, i) => {
        if (s.outcome !== null || !s.expert) return;
        const a = s.expert.nextAction();
        if (a.phase === 'done') {
          // The expert stops only once the goal holds; anything else is its failure.
          s.outcome = worlds[i].success() ? 'saved' : 'expert-failed';
          return;
        }
        actions[i] = a.action;
        notes[i] = a;
        s.frames.push({ obs: obs[i], action: a.action, phase: PHASES.indexOf(a.phase), description: a.description, reward: 0, done: false });
        s.expertSteps++;
      });
      const res = await env.step(actions, notes);
      slots.forEach((s, i) => {
        if (s.outcome !== null) return;
        if (!s.expert) {
          if (res[i].success) s.outcome = 'policy-succeeded';
          return;
        }
        const f = s.frames[s.frames.length - 1];
        f.reward = res[i].reward;
        const limit = o.expertSteps ?? items[i].task.maxSteps;
        if (res[i].success) {
          f.done = true;
          s.outcome = 'saved';
        } else if (s.expertSteps >= limit) {
          f.done = true;
          s.outcome = 'expert-failed';
        }
      });
      obs = res.map((r) => r.obs);
      // A policy that never gets to the takeover step cannot stall the batch: the roll-in
      // ends at the takeover step by construction, the roll-out at its step budget.
    }
    const records = env.records();
    const out: RecoveryOutcome[] = [];
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      const item = s.item;
      if (s.outcome !== 'saved' || s.frames.length === 0) {
        out.push({ item, status: s.outcome === 'saved' ? 'policy-succeeded' : s.outcome!, frames: 0 });
        continue;
      }
      for (const f of s.frames) {
        writer.addFrame({
          'observation.state': f.obs.proprio.state,
          'observation.joints': f.obs.proprio.joints,
          'observation.images.agentview': { width: o.size, height: o.size, channels: 3, data: f.obs.images!.agentview },
          'observation.images.wrist': { width: o.size, height: o.size, channels: 3, data: f.obs.images!.wrist },
          action: f.action,
          phase: f.phase,
          phase_description: f.description,
          'next.reward': f.reward,
          'next.done': f.done,
        });
      }
      const meta: Record<string, JsonValue> = {
        source: 'recovery',
        recovery_plan_index: item.planIndex,
        roll_in_policy: o.policy.name,
        takeover_step: item.takeover,
        task_id: item.task.id,
        suite: item.task.suite,
        init_index: item.init,
        success: true,
        steps: s.frames.length,
        instruction: configs[i].instruction,
        original_instruction: item.task.instruction,
        perturbation: null,
        init_state: records[i].initState as unknown as JsonValue,
        final_state_hash: records[i].finalStateHash,
        phases: [...PHASES],
      };
      await writer.saveEpisode({ task: configs[i].instruction, meta });
      out.push({ item, status: 'saved', frames: s.frames.length });
    }
    return out;
  } finally {
    env.dispose();
  }
}

/**
 * Where a rerun resumes: the plan index after the dataset's last recovery episode, or 0.
 * Checks that the episode belongs to this plan (same task, initial state and takeover
 * step) and throws otherwise, so two plans never mix in one dataset unnoticed.
 */
export function recoveryResumeIndex(plan: readonly RecoveryItem[], episodesMeta: ReadonlyArray<Record<string, JsonValue>>): number {
  for (let e = episodesMeta.length - 1; e >= 0; e--) {
    const m = episodesMeta[e];
    if (m.source !== 'recovery') continue;
    const k = m.recovery_plan_index;
    const it = typeof k === 'number' ? plan[k] : undefined;
    if (typeof k !== 'number' || !it || it.task.id !== m.task_id || it.init !== m.init_index || it.takeover !== m.takeover_step) {
      throw new Error(`the dataset's last recovery episode (task ${String(m.task_id)}, initial state ${String(m.init_index)}, takeover ${String(m.takeover_step)}, plan index ${String(k)}) is not part of this plan; use the same --tasks/--states/--takeover/--seed or another --out`);
    }
    return k + 1;
  }
  return 0;
}

/** Checks an initial state index against the task's states (clear error before any simulation). */
export function checkInitStates(tasks: readonly TaskSpec[], initStates: readonly number[]): void {
  for (const t of tasks) for (const s of initStates) getInitState(t, s);
}
