/**
 * The Sim tab's checkpoint rollout (src/train/rollout.ts) on a tiny sim-shaped
 * checkpoint: it runs through the harness loop, records qpos/actions/policy frames, the
 * same spec gives the same rollout, the record replays to the same physics state, the
 * JSON form round-trips, and checkpoints that do not fit the simulation are refused with
 * the reason.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime.ts';
import { ACTION_DIM, SimEnv } from '../../../src/sim/index.ts';
import type { CheckpointData } from '../../../src/train/checkpoint.ts';
import {
  checkRolloutSpec,
  decodeRollout,
  encodeRollout,
  frameAtStep,
  peekCheckpointFiles,
  rolloutProblems,
  simPerturbation,
  type RolloutSpec,
} from '../../../src/train/rollout-record.ts';
import { runRollout } from '../../../src/train/rollout.ts';
import { ROLLOUT_TASKS, tinySimCheckpoint } from './rollout.helpers.ts';

let rt: Runtime;
let pre: { files: Record<string, Uint8Array>; data: CheckpointData };
let post: { files: Record<string, Uint8Array>; data: CheckpointData };

beforeAll(async () => {
  rt = await Runtime.create();
  pre = await tinySimCheckpoint(rt, { steps: 2 });
  post = await tinySimCheckpoint(rt, { steps: 1, dit: true });
}, 180_000);
afterAll(() => rt?.destroy());

const spec = (over: Partial<RolloutSpec> = {}): RolloutSpec => ({ mode: 'ar', task: ROLLOUT_TASKS[0], initState: 1, perturb: [], perturbSeed: 0, maxSteps: 6, seed: 3, ...over });

describe('checkpoint compatibility', () => {
  test('peek reads kind, step, DiT and config from the run files without the tensors', () => {
    const a = peekCheckpointFiles(pre.files);
    expect(a).toMatchObject({ kind: 'pretrain', step: 2, hasDit: false });
    expect(a.config.model.stateDim).toBe(8);
    const b = peekCheckpointFiles(post.files);
    expect(b).toMatchObject({ kind: 'posttrain', step: 1, hasDit: true });
    expect(() => peekCheckpointFiles({})).toThrow(/trainer.json is missing/);
  });

  test('mismatched cameras, state/action widths and missing DiT are named', () => {
    const cfg = pre.data.config;
    expect(rolloutProblems(cfg, false, 'ar')).toEqual([]);
    expect(rolloutProblems(cfg, false, 'dit').join()).toMatch(/no DiT action expert .* use mode 'ar'/);
    const bad = { ...cfg, model: { ...cfg.model, cameras: ['agentview', 'front'], stateDim: 3, actionDim: 2 } };
    const p = rolloutProblems(bad, true, 'dit');
    expect(p).toHaveLength(3);
    expect(p[0]).toMatch(/"front", which the simulation does not render/);
    expect(p[1]).toMatch(/state has 3 dimensions, the simulation's proprio state 8/);
    expect(p[2]).toMatch(/actions have 2 dimensions, the simulation's 7/);
  });

  test('bad specs name the field', () => {
    expect(() => checkRolloutSpec(spec({ task: 'nope' }))).toThrow(/rollout task: unknown task "nope"/);
    expect(() => checkRolloutSpec(spec({ maxSteps: 10_000 }))).toThrow(/maxSteps must be an integer in \[1, \d+\]/);
    expect(() => checkRolloutSpec(spec({ initState: 1000 }))).toThrow(/rollout initState must be an integer in \[0, 999\], got 1000/);
    expect(() => checkRolloutSpec(spec({ perturb: ['wind' as never] }))).toThrow(/unknown kind "wind"/);
    expect(() => checkRolloutSpec(spec({ candidates: 0 }))).toThrow(/rollout candidates must be an integer in \[1, 64\], got 0/);
    expect(() => checkRolloutSpec(spec({ candidates: 65 }))).toThrow(/rollout candidates/);
    expect(() => checkRolloutSpec(spec({ candidates: 4, selectCalls: -1 }))).toThrow(/rollout selectCalls must be a non-negative integer, got -1/);
    expect(() => checkRolloutSpec(spec({ candidates: 4, selectCalls: 0 }))).toThrow(/rollout selectCalls 0 is coherent selection alone: it needs coherent true/);
    expect(() => checkRolloutSpec(spec({ candidates: 4, selectCalls: 0, coherent: true, critic: 'crl' }))).toThrow(/rollout critic: with selectCalls 0 \(coherent selection alone\) no proposal is chosen by value, so the critic "crl" would never be asked/);
    expect(() => checkRolloutSpec(spec({ candidates: 4, selectCalls: 0, coherent: true }))).not.toThrow();
  });

  test('a rollout of an incompatible checkpoint fails before running', async () => {
    await expect(runRollout(rt, pre.data, spec({ mode: 'dit' }), { label: 'pre' })).rejects.toThrow(/checkpoint "pre" cannot roll out here: .*no DiT/);
  });
});

describe('rollout', () => {
  test('AR mode: records every step through the harness loop; same spec -> same rollout; replays to the same state', async () => {
    const seen: number[] = [];
    const a = await runRollout(rt, pre.data, spec(), { label: 'pre', onStep: (s, max) => void seen.push(s, max) });
    expect(a.steps).toBe(6);
    expect(a.maxSteps).toBe(6);
    expect(a.success).toBe(false);
    expect(a.successStep).toBeNull();
    // onStep after reset and after each step, with the limit.
    expect(seen.filter((_, i) => i % 2 === 0)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(seen.filter((_, i) => i % 2 === 1).every((m) => m === 6)).toBe(true);
    expect(a.qpos.length).toBe(7 * a.nq);
    expect(a.actions.length).toBe(6 * ACTION_DIM);
    // Chunks of 4: the policy planned at steps 0 and 4, from 8x8 images of both cameras.
    expect(a.chunkSize).toBe(4);
    expect(a.actCalls).toBe(2);
    expect(a.frames.map((f) => f.step)).toEqual([0, 4]);
    expect(a.frames[0].agentview.length).toBe(8 * 8 * 3);
    expect(frameAtStep(a.frames, 3)?.step).toBe(0);
    expect(frameAtStep(a.frames, 5)?.step).toBe(4);
    // Undecodable AR chunks (likely from a 2-step model) are counted and run as fast.decode's
    // lenient chunk (issue 10: never a silent zero chunk), so every action is still a number.
    expect(a.arFailures).toBeLessThanOrEqual(a.actCalls);
    expect(a.actions.every((v) => Number.isFinite(v))).toBe(true);

    const b = await runRollout(rt, pre.data, spec(), { label: 'pre' });
    expect(b.finalStateHash).toBe(a.finalStateHash);
    expect(Array.from(b.actions)).toEqual(Array.from(a.actions));
    expect(Array.from(b.qpos)).toEqual(Array.from(a.qpos));

    // The recorded actions replayed open-loop reach the recorded final qpos.
    const env = await SimEnv.create({ task: spec().task, initState: 1, camera: false });
    try {
      await env.reset();
      for (let t = 0; t < a.steps; t++) env.world.step(a.actions.subarray(t * ACTION_DIM, (t + 1) * ACTION_DIM));
      expect(env.stateHash()).toBe(a.finalStateHash);
      expect(Array.from(env.world.physics.data.qpos as Float64Array)).toEqual(Array.from(a.qpos.subarray(6 * a.nq)));
    } finally {
      env.dispose();
    }

    // JSON round trip (the worker's result event).
    const back = decodeRollout(JSON.parse(JSON.stringify(encodeRollout(a))));
    expect(Array.from(back.qpos)).toEqual(Array.from(a.qpos));
    expect(Array.from(back.actions)).toEqual(Array.from(a.actions));
    expect(back.frames.map((f) => Array.from(f.wrist))).toEqual(a.frames.map((f) => Array.from(f.wrist)));
    expect({ ...back, qpos: 0, actions: 0, frames: 0 }).toEqual({ ...a, qpos: 0, actions: 0, frames: 0 });
    expect(() => decodeRollout({ ...encodeRollout(a), steps: 7 })).toThrow(/field 'qpos' holds \d+ bytes, expected/);
  });

  test('DiT mode with perturbations: the Sim tab\'s perturbation record; the seed drives the noise', async () => {
    const s = spec({ mode: 'dit', task: ROLLOUT_TASKS[1], perturb: ['lighting', 'sensor_noise'], perturbSeed: 9, maxSteps: 4, executeSteps: 2 });
    const a = await runRollout(rt, post.data, s, { label: 'post' });
    expect(a.perturbation).toEqual(simPerturbation(s.task, s.initState, s.perturb, 9));
    expect(a.perturbation?.kinds).toEqual(['lighting', 'sensor_noise']);
    expect(a.frames.map((f) => f.step)).toEqual([0, 2]);
    // The DiT samples real actions, so the arm moves and the recorded states differ.
    expect(a.actions.some((v) => v !== 0)).toBe(true);
    expect(Array.from(a.qpos.subarray(0, a.nq))).not.toEqual(Array.from(a.qpos.subarray(4 * a.nq)));
    const b = await runRollout(rt, post.data, s, { label: 'post' });
    expect(Array.from(b.actions)).toEqual(Array.from(a.actions));
    const c = await runRollout(rt, post.data, { ...s, seed: 4 }, { label: 'post' });
    expect(Array.from(c.actions)).not.toEqual(Array.from(a.actions));
  });

  test('value-guided selection: one proposal is the plain policy; selecting on the first re-plan is reproducible', async () => {
    const s = spec({ mode: 'dit', task: ROLLOUT_TASKS[1], maxSteps: 4, executeSteps: 2 });
    const plain = await runRollout(rt, post.data, s, { label: 'post' });
    const one = await runRollout(rt, post.data, { ...s, candidates: 1 }, { label: 'post' });
    expect(Array.from(one.actions)).toEqual(Array.from(plain.actions));
    const sel = { ...s, candidates: 3, selectCalls: 1 };
    const a = await runRollout(rt, post.data, sel, { label: 'post' });
    const b = await runRollout(rt, post.data, sel, { label: 'post' });
    expect(a.spec).toMatchObject({ candidates: 3, selectCalls: 1 });
    expect(a.actions.every((v) => Number.isFinite(v))).toBe(true);
    expect(Array.from(b.actions)).toEqual(Array.from(a.actions));
  });

  test("a critic checkpoint and coherent selection: its own checkpoint as the critic is self-selection; a named critic needs its data", async () => {
    const s = spec({ mode: 'dit', task: ROLLOUT_TASKS[1], maxSteps: 6, executeSteps: 2, candidates: 3, selectCalls: 1 });
    const own = await runRollout(rt, post.data, s, { label: 'post' });
    const viaCritic = await runRollout(rt, post.data, { ...s, critic: 'post' }, { label: 'post', critic: post.data });
    expect(Array.from(viaCritic.actions)).toEqual(Array.from(own.actions));
    expect(viaCritic.spec.critic).toBe('post');
    const coh = { ...s, coherent: true, critic: 'post' };
    const a = await runRollout(rt, post.data, coh, { label: 'post', critic: post.data });
    const b = await runRollout(rt, post.data, coh, { label: 'post', critic: post.data });
    expect(Array.from(b.actions)).toEqual(Array.from(a.actions));
    expect(a.spec).toMatchObject({ coherent: true, critic: 'post' });
    expect(decodeRollout(JSON.parse(JSON.stringify(encodeRollout(a)))).spec).toEqual(a.spec);
    await expect(runRollout(rt, post.data, { ...s, critic: 'other' }, { label: 'post' })).rejects.toThrow(/names critic "other" but its checkpoint was not given/);
    await expect(runRollout(rt, post.data, s, { label: 'post', critic: post.data })).rejects.toThrow(/a critic checkpoint was given but the spec names none/);
    expect(() => checkRolloutSpec(spec({ coherent: 'yes' as never }))).toThrow(/rollout coherent must be true or false/);
    expect(() => checkRolloutSpec(spec({ critic: '' }))).toThrow(/rollout critic must be a checkpoint label/);
    // Coherent selection alone (the Sim tab's "select on" 0 with coherent): no critic asked,
    // the greedy first chunk, reproducible, and its spec survives the record.
    const alone = { ...s, selectCalls: 0, coherent: true };
    const c = await runRollout(rt, post.data, alone, { label: 'post' });
    const d = await runRollout(rt, post.data, alone, { label: 'post' });
    expect(Array.from(d.actions)).toEqual(Array.from(c.actions));
    expect(decodeRollout(JSON.parse(JSON.stringify(encodeRollout(c)))).spec).toMatchObject({ candidates: 3, selectCalls: 0, coherent: true });
  });

  test("without an executeSteps of its own a rollout re-plans at the checkpoint's model.executeSteps, as the evaluation does", async () => {
    const rest = spec({ mode: 'dit', task: ROLLOUT_TASKS[1], maxSteps: 4 });
    const data = { ...post.data, config: { ...post.data.config, model: { ...post.data.config.model, executeSteps: 2 } } };
    const r = await runRollout(rt, data, rest, { label: 'post' });
    expect(r.executeSteps).toBe(2);
    expect(r.frames.map((f) => f.step)).toEqual([0, 2]);
    const whole = await runRollout(rt, post.data, rest, { label: 'post' });
    expect(whole.executeSteps).toBe(whole.chunkSize);
  });
});
