import { describe, expect, test } from 'vitest';
import { wilsonInterval } from '../../../src/train/intervals';
import { ACTION_DIM, getInitState, getTask, runExpert, World } from '../../../src/sim/index';
import { evaluate } from '../../../src/train/eval';
import { planEpisodes } from '../../../src/train/eval-plan';
import type { EpisodeResult } from '../../../src/train/eval-results';
import { ExpertPolicy, ModelPolicy, RandomPolicy, ReplayPolicy, type PolicyInput } from '../../../src/train/policy';

/**
 * An observation-dependent policy (so sensor noise and batching could show): drives the
 * tool toward a point picked from the instruction, with the gripper closing on the way.
 */
function reachPolicy(chunkSize = 4): ModelPolicy {
  return new ModelPolicy({
    name: 'reach',
    chunkSize,
    needsImages: false,
    predict: async (xs: PolicyInput[]) =>
      xs.map((x) => {
        const h = [...x.instruction].reduce((s, c) => (s * 31 + c.charCodeAt(0)) >>> 0, 7);
        const target = [-0.1 + (h % 7) * 0.03, -0.2 + (h % 11) * 0.04, 0.08];
        const ee = x.obs.proprio.eePos;
        const out = new Float32Array(chunkSize * ACTION_DIM);
        for (let k = 0; k < chunkSize; k++) {
          for (let d = 0; d < 3; d++) out[k * ACTION_DIM + d] = Math.max(-1, Math.min(1, (target[d] - ee[d]) * 8));
          out[k * ACTION_DIM + 6] = x.obs.step > 10 ? 1 : -1;
        }
        return out;
      }),
  });
}

const strip = (e: EpisodeResult[]) => e.map(({ index, ...rest }) => rest);

describe('evaluation harness', () => {
  test('the expert through the harness matches the scripted expert run alone; its records replay exactly', async () => {
    const tasks = ['goal/red_on_plate', 'spatial/left'];
    const states = [0, 1];
    const res = await evaluate(new ExpertPolicy(), { tasks, initStates: states, envsPerBatch: 4, keepActions: true });
    expect(res.episodes).toHaveLength(4);
    for (const id of tasks) {
      const task = getTask(id);
      const w = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
      const alone = states.map((s) => runExpert(w, getInitState(task, s)).success);
      w.delete();
      const cell = res.cells.find((c) => c.taskId === id && c.perturbation === 'nominal')!;
      expect(cell.successes).toBe(alone.filter(Boolean).length);
      expect(cell.n).toBe(2);
    }
    expect(res.aggregates.find((a) => a.suite === 'all' && a.perturbation === 'nominal')!.rate).toBe(1);
    for (const e of res.episodes) {
      expect(e.steps).toBeLessThan(e.maxSteps); // ended on success, not on the limit
      expect(e.actions).toHaveLength(e.steps);
    }
    // Open-loop replay of the recorded actions reaches the same physics state.
    const replay = await evaluate(
      ReplayPolicy.fromRecords(res.episodes),
      { tasks, initStates: states, envsPerBatch: 3 },
    );
    expect(replay.episodes.map((e) => [e.success, e.steps, e.finalStateHash])).toEqual(res.episodes.map((e) => [e.success, e.steps, e.finalStateHash]));
  });

  test('the random policy fails and runs to the step limit', async () => {
    const res = await evaluate(new RandomPolicy({ seed: 1 }), { tasks: ['goal/red_on_plate'], initStates: [0, 1, 2], maxSteps: 60, envsPerBatch: 3 });
    expect(res.cells[0].successes).toBe(0);
    expect(res.episodes.every((e) => e.steps === 60 && !e.success)).toBe(true);
    expect(res.timing.envSteps).toBe(180);
  });

  test('reproducible from the seed, and batching N envs gives the per-episode results of one-by-one runs', async () => {
    const opts = {
      tasks: ['goal/blue_in_tray'],
      initStates: [0, 3],
      perturbations: ['nominal', 'sensor_noise', 'position_swap'] as const,
      maxSteps: 24,
      executeSteps: 2,
      keepActions: true,
      seed: 5,
    };
    const a = await evaluate(reachPolicy(), { ...opts, perturbations: [...opts.perturbations], envsPerBatch: 6 });
    const b = await evaluate(reachPolicy(), { ...opts, perturbations: [...opts.perturbations], envsPerBatch: 6 });
    const one = await evaluate(reachPolicy(), { ...opts, perturbations: [...opts.perturbations], envsPerBatch: 1 });
    const { timing: _ta, ...ra } = a;
    const { timing: _tb, ...rb } = b;
    expect(rb).toEqual(ra);
    expect(strip(one.episodes)).toEqual(strip(a.episodes));
    expect(one.cells).toEqual(a.cells);
    // sensor noise reaches the policy: its actions differ from the nominal episode's
    const act = (axis: string) => a.episodes.find((e) => e.perturbation === axis && e.initState === 0)!.actions!;
    expect(act('sensor_noise')).not.toEqual(act('nominal'));
    // another seed draws other perturbations
    const c = await evaluate(reachPolicy(), { ...opts, perturbations: ['sensor_noise'], envsPerBatch: 2, seed: 6 });
    expect(c.episodes[0].perturbationRecord).not.toEqual(a.episodes.find((e) => e.perturbation === 'sensor_noise' && e.initState === 0)!.perturbationRecord);
  });

  test('perturbations are drawn per episode, applied, and logged; the policy sees the perturbed instruction', async () => {
    const plan = planEpisodes({ tasks: ['goal/red_on_plate'], initStates: [0, 1], perturbations: ['nominal', 'novel_task', 'paraphrase', 'position_swap'], seed: 2 });
    expect(plan.episodes).toHaveLength(8);
    expect(new Set(plan.episodes.map((e) => e.seed)).size).toBe(8);
    for (const e of plan.episodes) {
      if (e.perturbation === 'nominal') expect(e.record).toBeNull();
      else expect(e.record!.kinds).toEqual([e.perturbation]);
    }
    const seen = new Map<number, string>();
    const spy = new ModelPolicy({
      name: 'spy',
      chunkSize: 1,
      needsImages: false,
      onReset: (eps) => eps.forEach((ep) => seen.set(ep.envId, ep.instruction)),
      predict: async (xs) => xs.map((x) => (expect(x.instruction).toBe(seen.get(x.envId)), new Float32Array(ACTION_DIM))),
    });
    const res = await evaluate(spy, { tasks: ['goal/red_on_plate'], initStates: [0, 1], perturbations: ['nominal', 'novel_task', 'paraphrase', 'position_swap'], seed: 2, maxSteps: 2, envsPerBatch: 8 });
    const nominal = getTask('goal/red_on_plate').instruction;
    for (const e of res.episodes) {
      const p = plan.episodes.find((x) => x.taskId === e.taskId && x.initState === e.initState && x.perturbation === e.perturbation)!;
      expect(e.perturbationRecord).toEqual(p.record);
      if (e.perturbation === 'nominal' || e.perturbation === 'position_swap') expect(e.instruction).toBe(nominal);
      if (e.perturbation === 'novel_task') expect(e.instruction).toBe(p.record!.novelTask!.instruction);
      if (e.perturbation === 'paraphrase') expect(e.instruction).toBe(p.record!.paraphrase!.instruction);
      expect(e.instruction === nominal).toBe(e.perturbation === 'nominal' || e.perturbation === 'position_swap');
    }
    expect([...seen.values()]).toEqual(res.episodes.map((e) => e.instruction));
  });

  test('rates carry the Wilson intervals of src/analysis; aggregates pool the cells', async () => {
    const res = await evaluate(new ExpertPolicy(), { tasks: ['goal/pick_up_blue', 'object/red_block'], initStates: [0], perturbations: ['nominal', 'robot_init'], envsPerBatch: 4 });
    for (const r of [...res.cells, ...res.aggregates]) {
      const w = wilsonInterval(r.successes, r.n, 0.95);
      expect([r.rate, r.lo, r.hi]).toEqual([w.estimate, w.lo, w.hi]);
    }
    const all = res.aggregates.find((a) => a.suite === 'all' && a.perturbation === 'all')!;
    expect(all.n).toBe(4);
    expect(all.successes).toBe(res.cells.reduce((s, c) => s + c.successes, 0));
    const goalRobot = res.aggregates.find((a) => a.suite === 'goal' && a.perturbation === 'robot_init')!;
    expect(goalRobot.n).toBe(1);
  });

  test('a policy that needs images gets both cameras at the requested size', async () => {
    const sizes: number[] = [];
    const p = new ModelPolicy({
      name: 'eyes',
      chunkSize: 2,
      predict: async (xs) =>
        xs.map((x) => {
          sizes.push(x.obs.images!.agentview.length, x.obs.images!.wrist.length);
          return new Float32Array(2 * ACTION_DIM);
        }),
    });
    const res = await evaluate(p, { tasks: ['goal/open_drawer'], initStates: [0, 1], maxSteps: 3, camera: { width: 16, height: 12 } });
    expect(res.config.camera).toEqual({ width: 16, height: 12 });
    expect(res.timing.actCalls).toBe(2);
    expect(sizes).toEqual(Array(8).fill(16 * 12 * 3));
  });

  test('training-only initial states (50-999) evaluate too: the expert succeeds from them, and the results record them', async () => {
    const res = await evaluate(new ExpertPolicy(), { tasks: ['reach/touch_red'], initStates: [50, 999], envsPerBatch: 2 });
    expect(res.episodes.map((e) => e.initState)).toEqual([50, 999]);
    expect(res.episodes.every((e) => e.success)).toBe(true);
  });

  test('bad options name the field', async () => {
    expect(() => planEpisodes({ tasks: ['goal/nope'] })).toThrow(/tasks: unknown task 'goal\/nope'/);
    expect(() => planEpisodes({ initStates: [1000] })).toThrow(/initStates: 1000 is not an index in \[0, 999\]/);
    expect(() => planEpisodes({ perturbations: ['rain' as never] })).toThrow(/perturbations: unknown axis 'rain'/);
    await expect(evaluate(new RandomPolicy(), { tasks: ['goal/open_drawer'], initStates: [0], envsPerBatch: 0 })).rejects.toThrow(/envsPerBatch must be a positive integer/);
  });
});
