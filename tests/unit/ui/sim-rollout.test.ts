/** Pure logic of the Sim tab's checkpoint rollouts: URL state, mode choice, job spec, which result to replay. */
import { describe, expect, test } from 'vitest';
import { PRESETS } from '../../../src/model/config.ts';
import { decodeRollout, encodeRollout, frameAtStep, ROLLOUT_SCHEMA, type CheckpointPeek, type RolloutResult } from '../../../src/train/rollout-record.ts';
import { checkpointLabel, modeChoice, parsePolicyParams, policyParamUpdates, rolloutMatches, rolloutSpecFor, usesCritic } from '../../../src/ui/tabs/sim/policyParams.ts';

const sel = { suite: 'goal', task: 'goal/red_on_plate', state: 2, perturb: ['lighting' as const], seed: 4 };
/** A config the simulation can run: 8-D state, 7-D actions, the agentview camera. */
const simCfg = { ...PRESETS.tiny, model: { ...PRESETS.tiny.model, cameras: ['agentview'], stateDim: 8, actionDim: 7 } };
const peek = (hasDit: boolean, cfg = simCfg): CheckpointPeek => ({ kind: hasDit ? 'posttrain' : 'pretrain', step: 3, hasDit, config: cfg });

describe('policy URL state', () => {
  test('defaults, clamping, unknown modes; round trip drops defaults', () => {
    expect(parsePolicyParams({})).toEqual({ policy: '', mode: null, steps: 0, pseed: 0, exec: 0, cand: 0, selcalls: 0, coh: false, critic: '' });
    expect(parsePolicyParams({ policy: 'run-a', mode: 'fast', steps: '-3', pseed: '12', exec: '2', cand: '99', selcalls: 'x', coh: 'yes' })).toEqual({ policy: 'run-a', mode: null, steps: 0, pseed: 12, exec: 2, cand: 64, selcalls: 0, coh: false, critic: '' });
    const p = { policy: 'run-a', mode: 'ar' as const, steps: 8, pseed: 5, exec: 2, cand: 8, selcalls: 1, coh: true, critic: 'run-b' };
    const u = policyParamUpdates(p);
    expect(parsePolicyParams(Object.fromEntries(Object.entries(u).map(([k, v]) => [k, String(v)])))).toEqual(p);
    expect(policyParamUpdates({ policy: '', mode: null, steps: 0, pseed: 0, exec: 0, cand: 0, selcalls: 0, coh: false, critic: '' })).toEqual({ policy: null, mode: null, steps: null, pseed: null, exec: null, cand: null, selcalls: null, coh: null, critic: null });
    // One proposal is the plain policy: neither it nor a selection budget, coherence or critic goes into the URL.
    expect(policyParamUpdates({ ...p, cand: 1 })).toMatchObject({ cand: null, selcalls: null, coh: null, critic: null });
    // Coherence applies after a selection budget only.
    // Every re-plan by value (selcalls 0, not coherent) asks the critic; coherent selection alone asks none.
    expect(policyParamUpdates({ ...p, selcalls: 0, coh: false })).toMatchObject({ selcalls: null, coh: null, critic: 'run-b' });
    expect(policyParamUpdates({ ...p, selcalls: 0 })).toMatchObject({ selcalls: null, coh: 1, critic: null });
    expect(parsePolicyParams({ cand: '8', coh: '1' })).toMatchObject({ cand: 8, selcalls: 0, coh: true });
  });
});

describe('mode choice', () => {
  test('a pre-trained run defaults to ar and names why dit is unavailable', () => {
    const c = modeChoice(peek(false), null);
    expect(c.mode).toBe('ar');
    expect(c.ditUnavailable).toMatch(/pretrain checkpoint \(step 3\) has no DiT action expert/);
    expect(c.problems).toEqual([]);
    // Asking for dit anyway (a stale link) is a problem, not a silent switch.
    expect(modeChoice(peek(false), 'dit').problems.join()).toMatch(/no DiT action expert/);
  });
  test('a post-trained run defaults to dit; ar stays available', () => {
    expect(modeChoice(peek(true), null)).toEqual({ mode: 'dit', ditUnavailable: null, problems: [] });
    expect(modeChoice(peek(true), 'ar').mode).toBe('ar');
  });
  test('a checkpoint trained on another embodiment is refused with the mismatch', () => {
    const other = { ...simCfg, model: { ...simCfg.model, cameras: ['front'], stateDim: 3 } };
    const c = modeChoice(peek(false, other), null);
    expect(c.problems).toHaveLength(2);
    expect(c.problems[0]).toMatch(/"front"/);
    expect(c.problems[1]).toMatch(/state has 3 dimensions/);
  });
});

describe('rollout spec and replay matching', () => {
  const pol = { policy: 'dropped:ckpt', mode: null, steps: 10, pseed: 7, exec: 0, cand: 0, selcalls: 0, coh: false, critic: '' };
  test('the job spec carries the scene and the settings; 0 means the default', () => {
    expect(rolloutSpecFor(sel, pol, 'ar')).toEqual({ mode: 'ar', task: 'goal/red_on_plate', initState: 2, perturb: ['lighting'], perturbSeed: 4, seed: 7, maxSteps: 10 });
    expect(rolloutSpecFor(sel, { ...pol, steps: 0, exec: 2 }, 'dit')).toEqual({ mode: 'dit', task: 'goal/red_on_plate', initState: 2, perturb: ['lighting'], perturbSeed: 4, seed: 7, executeSteps: 2 });
    expect(rolloutSpecFor(sel, { ...pol, cand: 8, selcalls: 1 }, 'ar')).toMatchObject({ candidates: 8, selectCalls: 1 });
    expect(rolloutSpecFor(sel, { ...pol, cand: 8 }, 'ar')).not.toHaveProperty('selectCalls');
    expect(rolloutSpecFor(sel, { ...pol, cand: 1, selcalls: 3 }, 'ar')).not.toHaveProperty('candidates');
    expect(rolloutSpecFor(sel, { ...pol, cand: 8, selcalls: 1, coh: true }, 'ar')).toMatchObject({ candidates: 8, selectCalls: 1, coherent: true });
    // selcalls 0 with coherent: coherent selection alone (the spec says selectCalls 0).
    expect(rolloutSpecFor(sel, { ...pol, cand: 8, coh: true }, 'ar')).toMatchObject({ candidates: 8, selectCalls: 0, coherent: true });
    expect(rolloutSpecFor(sel, { ...pol, cand: 1, coh: true }, 'ar')).not.toHaveProperty('coherent');
    expect(usesCritic({ cand: 8, selcalls: 0, coh: true })).toBe(false);
    expect(usesCritic({ cand: 8, selcalls: 0, coh: false })).toBe(true);
    expect(usesCritic({ cand: 8, selcalls: 2, coh: true })).toBe(true);
    expect(usesCritic({ cand: 1, selcalls: 2, coh: false })).toBe(false);
    // The critic travels beside the spec (the worker labels it), not in it.
    expect(rolloutSpecFor(sel, { ...pol, cand: 8, critic: 'run-b' }, 'ar')).not.toHaveProperty('critic');
  });
  test('a result is replayed only for its checkpoint, scene and settings', () => {
    expect(checkpointLabel('dropped:ckpt')).toBe('ckpt');
    expect(checkpointLabel('run-1')).toBe('run-1');
    const r = { checkpoint: 'ckpt', spec: rolloutSpecFor(sel, pol, 'ar') };
    expect(rolloutMatches(r, sel, pol)).toBe(true);
    expect(rolloutMatches(r, sel, { ...pol, mode: 'ar' })).toBe(true);
    expect(rolloutMatches(r, sel, { ...pol, mode: 'dit' })).toBe(false);
    expect(rolloutMatches(r, sel, { ...pol, pseed: 8 })).toBe(false);
    expect(rolloutMatches(r, sel, { ...pol, policy: 'other' })).toBe(false);
    expect(rolloutMatches(r, { ...sel, state: 3 }, pol)).toBe(false);
    expect(rolloutMatches(r, { ...sel, perturb: [] }, pol)).toBe(false);
    expect(rolloutMatches(r, sel, { ...pol, cand: 8 })).toBe(false);
    const s8 = { checkpoint: 'ckpt', spec: rolloutSpecFor(sel, { ...pol, cand: 8, selcalls: 1 }, 'ar') };
    expect(rolloutMatches(s8, sel, { ...pol, cand: 8, selcalls: 1 })).toBe(true);
    expect(rolloutMatches(s8, sel, { ...pol, cand: 8, selcalls: 2 })).toBe(false);
    expect(rolloutMatches(s8, sel, { ...pol, cand: 8, selcalls: 1, coh: true })).toBe(false);
    // A rollout scored by another run's critic matches that critic only.
    const withCritic = { checkpoint: 'ckpt', spec: { ...rolloutSpecFor(sel, { ...pol, cand: 8, selcalls: 1, coh: true }, 'ar'), critic: 'crl-run' } };
    expect(rolloutMatches(withCritic, sel, { ...pol, cand: 8, selcalls: 1, coh: true, critic: 'crl-run' })).toBe(true);
    expect(rolloutMatches(withCritic, sel, { ...pol, cand: 8, selcalls: 1, coh: true, critic: 'dropped:crl-run' })).toBe(true);
    expect(rolloutMatches(withCritic, sel, { ...pol, cand: 8, selcalls: 1, coh: true })).toBe(false);
    expect(rolloutMatches(s8, sel, { ...pol, cand: 8, selcalls: 1, critic: 'crl-run' })).toBe(false);
    // Coherent selection alone ignores a critic left in the picker: it is never asked.
    const alone = { checkpoint: 'ckpt', spec: rolloutSpecFor(sel, { ...pol, cand: 8, coh: true }, 'ar') };
    expect(rolloutMatches(alone, sel, { ...pol, cand: 8, coh: true, critic: 'crl-run' })).toBe(true);
    expect(rolloutMatches(alone, sel, { ...pol, cand: 8, selcalls: 1, coh: true })).toBe(false);
  });
});

describe('rollout record', () => {
  const rec = (): RolloutResult => ({
    schema: ROLLOUT_SCHEMA,
    checkpoint: 'c',
    policy: 'p',
    spec: { mode: 'ar', task: 'goal/red_on_plate', initState: 0, perturb: [], perturbSeed: 0, seed: 0 },
    instruction: 'put it',
    perturbation: null,
    chunkSize: 2,
    executeSteps: 2,
    actCalls: 2,
    arFailures: 0,
    lastArFailure: null,
    steps: 3,
    maxSteps: 3,
    success: false,
    successStep: null,
    finalStateHash: 'abc',
    nq: 2,
    qpos: Float64Array.from({ length: 8 }, (_, i) => i / 3),
    actions: Float32Array.from({ length: 21 }, (_, i) => i / 7),
    imageSize: 8,
    frames: [0, 2].map((step) => ({ step, agentview: new Uint8Array(192).fill(step), wrist: new Uint8Array(192).fill(step + 1) })),
  });
  test('JSON round trip is exact; malformed fields are named', () => {
    const r = rec();
    const back = decodeRollout(JSON.parse(JSON.stringify(encodeRollout(r))));
    expect(Array.from(back.qpos)).toEqual(Array.from(r.qpos));
    expect(Array.from(back.actions)).toEqual(Array.from(r.actions));
    expect(back.frames[1].wrist[0]).toBe(3);
    const bad = encodeRollout(r);
    expect(() => decodeRollout({ ...bad, schema: 'x' })).toThrow(/field 'schema'/);
    expect(() => decodeRollout({ ...bad, frames: [{ step: 9, agentview: '', wrist: '' }] })).toThrow(/frames\[0\].step/);
    expect(() => decodeRollout({ ...bad, frames: [{ step: 0, agentview: 'AAAA', wrist: 'AAAA' }] })).toThrow(/frames\[0\].agentview' holds 3 bytes, expected 8x8x3/);
    expect(() => decodeRollout({ ...bad, successStep: 'x' })).toThrow(/successStep/);
  });
  test('the frame shown at a step is the last one the policy planned from', () => {
    const f = rec().frames;
    expect([0, 1, 2, 3].map((s) => frameAtStep(f, s)?.step)).toEqual([0, 0, 2, 2]);
    expect(frameAtStep([], 1)).toBeNull();
  });
});
