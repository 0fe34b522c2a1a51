/** Pure logic of the Sim, Value and Embeddings tabs: URL state, job state, episode lists, grouping, config fitting. */
import { describe, expect, test } from 'vitest';
import { PERTURBATION_KINDS, listSuites } from '../../../src/sim/index.ts';
import { PRESETS } from '../../../src/model/config.ts';
import { parseSimParams, simParamUpdates } from '../../../src/ui/tabs/sim/simParams.ts';
import { IDLE_JOB, jobReducer, progressFraction } from '../../../src/ui/tabs/sim/useJob.ts';
import { groupPoints, parseEpisodeList, parseTsneResult } from '../../../src/ui/tabs/embeddings/embeddings.ts';
import { checkpointRoot, sourceFor } from '../../../src/ui/tabs/value/checkpoints.ts';
import { parseValueResult } from '../../../src/ui/tabs/value/result.ts';
import { fitConfigToDataset } from '../../../worker/jobs/pretrain.ts';

describe('Sim URL state', () => {
  const suites = listSuites();
  test('defaults, clamping, unknown values and the canonical perturbation order', () => {
    const d = parseSimParams({}, suites);
    expect(d.suite).toBe(suites[0].suite);
    expect(d.task).toBe(suites[0].tasks[0]);
    expect(d).toMatchObject({ state: 0, perturb: [], seed: 0 });
    const s = parseSimParams({ suite: 'goal', task: 'goal/red_on_plate', state: '99', perturb: 'lighting,bogus,position_swap', seed: '7' }, suites);
    expect(s).toEqual({ suite: 'goal', task: 'goal/red_on_plate', state: 99, perturb: ['position_swap', 'lighting'], seed: 7 });
    // Training-only states (50-999) open too, so a policy can be watched on its own training scenes; 1000 clamps.
    expect(parseSimParams({ state: '1000' }, suites).state).toBe(999);
    // A task from another suite falls back to the suite's first task.
    expect(parseSimParams({ suite: 'spatial', task: 'goal/red_on_plate' }, suites).task).toBe(suites.find((x) => x.suite === 'spatial')!.tasks[0]);
    // task= alone selects its suite.
    expect(parseSimParams({ task: 'goal/red_on_plate' }, suites).suite).toBe('goal');
  });
  test('round trip through the URL updates; defaults are dropped', () => {
    const sel = { suite: 'goal', task: 'goal/red_on_plate', state: 3, perturb: [...PERTURBATION_KINDS].reverse(), seed: 5 };
    const u = simParamUpdates(sel);
    expect(u.perturb).toBe(PERTURBATION_KINDS.join(','));
    const back = parseSimParams(Object.fromEntries(Object.entries(u).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)])), suites);
    expect(back).toEqual({ ...sel, perturb: [...PERTURBATION_KINDS] });
    expect(simParamUpdates({ ...sel, state: 0, perturb: [], seed: 5 })).toMatchObject({ state: null, perturb: null, seed: null });
  });
});

describe('service job state', () => {
  test('events fold into state; other jobs are ignored; crashes fail live jobs only', () => {
    let s = jobReducer(IDLE_JOB, { type: 'starting' });
    expect(s.state).toBe('starting');
    s = jobReducer(s, { type: 'started', id: 'w1.job-1' });
    expect(s.state).toBe('running');
    const progress = { step: 2, total: 4, losses: {}, throughput: 0, throughputUnit: 'x', etaSeconds: 1, elapsedSeconds: 1 };
    s = jobReducer(s, { type: 'event', event: { type: 'progress', jobId: 'w1.job-1', progress } });
    expect(progressFraction(s)).toBe(0.5);
    expect(jobReducer(s, { type: 'event', event: { type: 'progress', jobId: 'w1.job-9', progress: { ...progress, step: 4 } } })).toBe(s);
    s = jobReducer(s, { type: 'event', event: { type: 'log', jobId: 'w1.job-1', message: 'hi' } });
    expect(s.logs).toEqual(['hi']);
    const failed = jobReducer(s, { type: 'crash', message: 'GPU worker crashed: x' });
    expect(failed).toMatchObject({ state: 'failed', error: 'GPU worker crashed: x' });
    s = jobReducer(s, { type: 'event', event: { type: 'result', jobId: 'w1.job-1', result: { ok: true } } });
    s = jobReducer(s, { type: 'event', event: { type: 'state', jobId: 'w1.job-1', state: 'done' } });
    expect(s).toMatchObject({ state: 'done', result: { ok: true }, error: null });
    expect(progressFraction(s)).toBe(1);
    expect(jobReducer(s, { type: 'crash', message: 'late' })).toBe(s);
    expect(jobReducer(IDLE_JOB, { type: 'start-failed', error: 'no' })).toMatchObject({ state: 'failed', error: 'no' });
  });
});

describe('Embeddings helpers', () => {
  test('episode lists: ranges, dedupe, errors name the bad part', () => {
    expect(parseEpisodeList('', 3)).toEqual({ episodes: [0, 1, 2], error: null });
    expect(parseEpisodeList('4, 0-2,1', 5)).toEqual({ episodes: [0, 1, 2, 4], error: null });
    expect(parseEpisodeList('0-9', 5).error).toMatch(/9 is past the last episode \(4\)/);
    expect(parseEpisodeList('3-1', 5).error).toMatch(/backwards/);
    expect(parseEpisodeList('a', 5).error).toMatch(/"a" is not a number/);
  });
  test('grouping by task and by phase', () => {
    const pts = [
      { episode: 0, t: 0, task: 0, instruction: 'a', phase: 0 },
      { episode: 1, t: 0, task: 1, instruction: 'b', phase: 0 },
      { episode: 0, t: 2, task: 0, instruction: 'a', phase: null },
    ];
    expect(groupPoints(pts, 'task')).toEqual([{ label: 'a', idx: [0, 2] }, { label: 'b', idx: [1] }]);
    expect(groupPoints(pts, 'phase')).toEqual([{ label: 'phase 0', idx: [0, 1] }, { label: 'no phase', idx: [2] }]);
  });
  test('malformed job results are refused with a message', () => {
    expect(() => parseTsneResult({ panels: [{ label: 'x', x: [1], y: [1], kl: 0 }], points: [], tasks: [] })).toThrow(/1 points for 0 chunks/);
    expect(() => parseValueResult({ t: [0, 1], vTrue: [0], vWrong: [0, 1], T: 2, metrics: {} })).toThrow(/malformed/);
  });
});

describe('Value tab checkpoints', () => {
  test('the root of a dropped checkpoint is the shallowest latest.json / trainer.json', () => {
    expect(checkpointRoot(['run/latest.json', 'run/step-00000003/trainer.json', 'run/step-00000003/model.safetensors'])).toBe('run/');
    expect(checkpointRoot(['step-00000003/trainer.json', 'step-00000003/config.json'])).toBe('step-00000003/');
    expect(() => checkpointRoot(['a/model.safetensors'])).toThrow(/no latest.json or trainer.json/);
  });
  test('sources: runs by name, dropped folders while they last', () => {
    expect(sourceFor('my-run', {})).toEqual({ run: 'my-run' });
    expect(sourceFor('dropped:x', {})).toBeNull();
    const files = { 'latest.json': new Uint8Array([1]) };
    expect(sourceFor('dropped:x', { 'dropped:x': files })).toEqual({ files, label: 'x' });
  });
  test('the pre-training config takes cameras, image size and dimensions from the dataset', () => {
    const img = (n: number) => ({ dtype: 'image' as const, shape: [n, n, 3], names: ['height', 'width', 'channels'] });
    const cfg = fitConfigToDataset(PRESETS.tiny, {
      'observation.state': { dtype: 'float32', shape: [3], names: null },
      'observation.images.agentview': img(8),
      'observation.images.wrist': img(8),
      action: { dtype: 'float32', shape: [2], names: null },
    });
    expect(cfg.model).toMatchObject({ cameras: ['agentview', 'wrist'], imageSize: 8, patchSize: 8, stateDim: 3, actionDim: 2 });
    expect(cfg.model.dModel).toBe(PRESETS.tiny.model.dModel);
    // 48 px with a 16 px patch keeps 16; 40 px takes the largest divisor below 16 (10).
    expect(fitConfigToDataset(PRESETS.tiny, { 'observation.state': { dtype: 'float32', shape: [8], names: null }, 'observation.images.a': img(40), action: { dtype: 'float32', shape: [7], names: null } }).model.patchSize).toBe(10);
    expect(() => fitConfigToDataset(PRESETS.tiny, { action: { dtype: 'float32', shape: [7], names: null } })).toThrow(/no observation.images/);
  });
});
