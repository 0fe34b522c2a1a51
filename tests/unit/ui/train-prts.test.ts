/**
 * The Train tab's PRTS jobs without a GPU: form validation and job specs
 * (src/ui/tabs/train/prtsJobs.ts), how series are split into plots (series.ts), the
 * save cadence of the training loop (worker/jobs/train-loop.ts), and the runner's pace
 * restart for resumed jobs.
 */
import { describe, expect, test } from 'vitest';
import { PRESETS, validateConfig } from '../../../src/model/config.ts';
import type { CheckpointData } from '../../../src/train/checkpoint.ts';
import { continueSteps, posttrainForm, pretrainForm, uniqueRunName, type FormContext, type PosttrainSettings, type PretrainSettings } from '../../../src/ui/tabs/train/prtsJobs.ts';
import { diagnosticsPlot, lossPlot, splitSeries } from '../../../src/ui/tabs/train/series.ts';
import type { RunSummary } from '../../../worker/jobs/runs.ts';
import { runTrainLoop, type SteppedTrainer } from '../../../worker/jobs/train-loop.ts';
import type { JobEvent, JobKind } from '../../../worker/protocol.ts';
import { JobCancelledError, JobRunner, type JobContext, type JobRegistry } from '../../../worker/runner.ts';

const run = (name: string, o: Partial<RunSummary> = {}): RunSummary => ({
  name,
  createdAt: 0,
  dataset: 'demo',
  kind: 'pretrain',
  steps: 10,
  totalSteps: 10,
  withCrl: true,
  lambdaCrl: 0.1,
  bytes: 1000,
  ...o,
});

const RUNS = [run('tiny-demo'), run('half', { steps: 4, totalSteps: 10 }), run('tiny-demo-post', { kind: 'posttrain', steps: 5, totalSteps: 5, source: 'tiny-demo', freezeBackbone: true })];
const ctx = (o: Partial<FormContext> = {}): FormContext => ({ datasets: ['demo', 'other'], runs: RUNS, config: validateConfig(PRESETS.tiny), ...o });
const PRE: PretrainSettings = { mode: 'new', dataset: 'demo', steps: 3, name: '', run: '' };
const POST: PosttrainSettings = { mode: 'new', source: 'tiny-demo', dataset: '', steps: 2, seed: 0, freezeBackbone: false, name: '', run: '' };

describe('pre-training form', () => {
  test('a valid new run: the Model tab config, a unique suggested name, the save interval', () => {
    const f = pretrainForm(PRE, 50, ctx());
    expect(f.errors).toEqual({});
    expect(f.name).toBe('tiny-demo-2');
    expect(f.spec).toEqual({ kind: 'pretrain', params: { dataset: 'demo', config: PRESETS.tiny, steps: 3, name: 'tiny-demo-2', checkpointEvery: 50 } });
  });

  test('each bad field gets its own message', () => {
    const bad = validateConfig({ ...PRESETS.tiny, model: { ...PRESETS.tiny.model, heads: 3 } });
    const f = pretrainForm({ ...PRE, dataset: 'gone', steps: 0, name: 'bad name!' }, -1, ctx({ config: bad }));
    expect(f.spec).toBeNull();
    expect(f.errors.config).toMatch(/Model tab's config is invalid \(model.heads\)/);
    expect(f.errors.dataset).toMatch(/"gone" is not on the server/);
    expect(f.errors.steps).toMatch(/whole number in \[1,/);
    expect(f.errors.name).toMatch(/letters, digits/);
    expect(f.errors.checkpointEvery).toMatch(/>= 0/);
    expect(pretrainForm({ ...PRE, dataset: '' }, 0, ctx()).errors.dataset).toBe('choose a server dataset');
    expect(pretrainForm({ ...PRE, steps: 2.5 }, 0, ctx()).errors.steps).toBeDefined();
    expect(pretrainForm(PRE, NaN, ctx()).errors.checkpointEvery).toBeDefined();
  });

  test('a typed name must be new and not written by a running job', () => {
    expect(pretrainForm({ ...PRE, name: 'half' }, 0, ctx()).errors.name).toMatch(/exists: choose another name, or continue/);
    expect(pretrainForm({ ...PRE, name: 'mine' }, 0, ctx({ busy: ['mine'] })).errors.name).toMatch(/running job is writing/);
    expect(pretrainForm(PRE, 0, ctx({ busy: ['tiny-demo-2'] })).name).toBe('tiny-demo-3');
  });

  test('the dataset list may be unknown (server not answered yet): no false "not on the server"', () => {
    expect(pretrainForm(PRE, 0, ctx({ datasets: null })).errors).toEqual({});
  });

  test('continue: a pre-training run, a later step, on its own dataset, with its saved config', () => {
    const f = pretrainForm({ ...PRE, mode: 'continue', run: 'half', steps: 10 }, 5, ctx());
    expect(f.errors).toEqual({});
    expect(f.spec).toEqual({ kind: 'pretrain', params: { dataset: 'demo', steps: 10, name: 'half', checkpointEvery: 5, resume: true } });
    expect(pretrainForm({ ...PRE, mode: 'continue', run: 'half', steps: 4 }, 5, ctx()).errors.steps).toMatch(/at step 4: train until a later step/);
    expect(pretrainForm({ ...PRE, mode: 'continue', run: 'tiny-demo-post', steps: 9 }, 5, ctx()).errors.run).toMatch(/is a post-training run/);
    expect(pretrainForm({ ...PRE, mode: 'continue', run: '' }, 5, ctx()).errors.run).toMatch(/choose the pre-training run/);
    expect(pretrainForm({ ...PRE, mode: 'continue', run: 'half', steps: 10 }, 5, ctx({ busy: ['half'] })).errors.run).toMatch(/running job/);
    expect(pretrainForm({ ...PRE, mode: 'continue', run: 'half', steps: 10 }, 5, ctx({ datasets: ['other'] })).errors.dataset).toMatch(/"demo" is not on the server/);
    // An invalid Model tab config does not block continuing (the run has its own).
    const bad = validateConfig({ ...PRESETS.tiny, name: '' });
    expect(pretrainForm({ ...PRE, mode: 'continue', run: 'half', steps: 10 }, 5, ctx({ config: bad })).spec).not.toBeNull();
  });

  test('continue suggests the planned end of an interrupted run, else twice as far', () => {
    expect(continueSteps(run('a', { steps: 4, totalSteps: 10 }))).toBe(10);
    expect(continueSteps(run('a', { steps: 10, totalSteps: 10 }))).toBe(20);
    expect(continueSteps(run('a', { steps: 3, totalSteps: undefined }))).toBe(6);
  });

  test('suggested names are cleaned and deduplicated', () => {
    expect(uniqueRunName('my run/1', [])).toBe('my-run-1');
    expect(uniqueRunName('a', [run('a'), run('a-2')])).toBe('a-3');
    expect(uniqueRunName('***', [])).toBe('run');
  });
});

describe('post-training form', () => {
  test('a valid new run: the source run\'s dataset by default, its own name', () => {
    const f = posttrainForm(POST, 50, ctx());
    expect(f.errors).toEqual({});
    expect(f.spec).toEqual({ kind: 'posttrain', params: { source: 'tiny-demo', dataset: 'demo', steps: 2, seed: 0, freezeBackbone: false, name: 'tiny-demo-post-2', checkpointEvery: 50 } });
    expect(posttrainForm({ ...POST, dataset: 'other', freezeBackbone: true, name: 'x' }, 0, ctx()).spec?.params).toMatchObject({ dataset: 'other', freezeBackbone: true, name: 'x' });
  });

  test('each bad field gets its own message', () => {
    expect(posttrainForm({ ...POST, source: '' }, 0, ctx()).errors.source).toMatch(/choose the pre-training run/);
    expect(posttrainForm({ ...POST, source: 'tiny-demo-post' }, 0, ctx()).errors.source).toMatch(/is a post-training run/);
    expect(posttrainForm({ ...POST, source: 'nope' }, 0, ctx()).errors.source).toMatch(/no browser run "nope"/);
    expect(posttrainForm({ ...POST, seed: -1 }, 0, ctx()).errors.seed).toMatch(/seed/);
    expect(posttrainForm({ ...POST, seed: 2 ** 32 }, 0, ctx()).errors.seed).toMatch(/seed/);
    expect(posttrainForm({ ...POST, steps: NaN }, 0, ctx()).errors.steps).toBeDefined();
    expect(posttrainForm({ ...POST, name: 'tiny-demo' }, 0, ctx()).errors.name).toMatch(/exists/);
    expect(posttrainForm({ ...POST, dataset: 'gone' }, 0, ctx()).errors.dataset).toMatch(/not on the server/);
    expect(posttrainForm({ ...POST, source: '', dataset: '' }, 0, ctx()).errors.dataset).toMatch(/choose a server dataset/);
  });

  test('continue: the run\'s own source, freezing and dataset', () => {
    const f = posttrainForm({ ...POST, mode: 'continue', run: 'tiny-demo-post', steps: 8 }, 2, ctx());
    expect(f.errors).toEqual({});
    expect(f.spec).toEqual({ kind: 'posttrain', params: { source: 'tiny-demo', dataset: 'demo', steps: 8, seed: 0, freezeBackbone: true, name: 'tiny-demo-post', checkpointEvery: 2, resume: true } });
    expect(posttrainForm({ ...POST, mode: 'continue', run: 'tiny-demo', steps: 20 }, 2, ctx()).errors.run).toMatch(/is a pre-training run/);
    expect(posttrainForm({ ...POST, mode: 'continue', run: 'tiny-demo-post', steps: 5 }, 2, ctx()).errors.steps).toMatch(/at step 5/);
  });
});

describe('plots', () => {
  test('losses share an axis; temperature, accuracy, grad norm and lr get their own', () => {
    const names = ['total', 'bc', 'sa->l', 'l->sa', 'l->sa floor', 'temperature', 'accuracy', 'lr', 'grad norm'];
    expect(splitSeries(names)).toEqual({ losses: ['total', 'bc', 'sa->l', 'l->sa', 'l->sa floor'], diagnostics: ['temperature', 'accuracy', 'grad norm', 'lr'] });
    expect(splitSeries(['flow', 'lr', 'grad norm'])).toEqual({ losses: ['flow'], diagnostics: ['grad norm', 'lr'] });
    expect(splitSeries(['mse'])).toEqual({ losses: ['mse'], diagnostics: [] });
    // The grounding loss plots with the losses, its accuracy on a panel of its own.
    expect(splitSeries(['total', 'grounding', 'grounding acc', 'accuracy'])).toEqual({ losses: ['total', 'grounding'], diagnostics: ['accuracy', 'grounding acc'] });
  });

  test('the loss plot honours the log switch; diagnostics are stacked panels on one step axis', () => {
    const steps = [1, 2];
    const s = { bc: [3, 2], temperature: [0.2, 0.21], lr: [1e-4, 2e-4] };
    const loss = lossPlot(steps, s, ['bc'], true);
    expect((loss.layout.yaxis as { type: string }).type).toBe('log');
    expect((lossPlot(steps, s, ['bc'], false).layout.yaxis as { type: string }).type).toBe('linear');
    const d = diagnosticsPlot(steps, s, ['temperature', 'lr']);
    expect(d.data.map((t) => [(t as { name: string }).name, (t as { yaxis: string }).yaxis])).toEqual([['temperature', 'y'], ['lr', 'y2']]);
    const l = d.layout as unknown as Record<string, { domain: number[] }>;
    // Disjoint domains, top to bottom.
    expect(l.yaxis.domain[0]).toBeGreaterThanOrEqual(l.yaxis2.domain[1]);
    expect(l.yaxis.domain[1]).toBe(1);
    expect(l.yaxis2.domain[0]).toBe(0);
    expect(d.height).toBe(40 + 2 * 110);
  });
});

// ------------------------------------------------------------------ the training loop

class FakeTrainer implements SteppedTrainer<{ step: number; loss: number }> {
  w = 1;
  constructor(
    public completedSteps: number,
    readonly total: number,
    readonly failAt?: { step: number; poison: boolean },
  ) {}
  get done() {
    return this.completedSteps >= this.total;
  }
  async step() {
    if (this.failAt && this.completedSteps + 1 === this.failAt.step) {
      if (this.failAt.poison) this.w = NaN;
      throw new Error('the loss is NaN');
    }
    this.completedSteps++;
    this.w += 1;
    return { step: this.completedSteps - 1, loss: 1 / this.completedSteps };
  }
  async checkpoint() {
    return { trainer: { step: this.completedSteps }, params: [{ name: 'w', shape: [1], data: Float32Array.of(this.w) }] } as unknown as CheckpointData;
  }
}

function fakeCtx(cancelAfter?: number, trainer?: FakeTrainer) {
  const logs: string[] = [];
  const reports: number[] = [];
  let cancelled = false;
  const ctx: JobContext = {
    jobId: 'job-1',
    async checkpoint() {
      if (cancelAfter !== undefined && trainer && trainer.completedSteps >= cancelAfter) {
        cancelled = true;
        throw new JobCancelledError();
      }
    },
    progress: (r) => void reports.push(r.step),
    log: (m) => void logs.push(m),
    saveCheckpoint: () => {},
    restartPace: () => {},
    get cancelled() {
      return cancelled;
    },
  };
  return { ctx, logs, reports };
}

async function loop(t: FakeTrainer, every: number, cancelAfter?: number) {
  const saved: number[] = [];
  const { ctx, logs, reports } = fakeCtx(cancelAfter, t);
  const out = runTrainLoop(ctx, t, { every, report: (m) => ({ step: m.step + 1, total: t.total, losses: { loss: m.loss } }), save: async (d) => void saved.push(d.trainer.step) });
  return { out, saved, logs, reports };
}

describe('training loop', () => {
  test('saves every N steps and at the end, never twice at the same step', async () => {
    const a = await loop(new FakeTrainer(0, 5), 2);
    expect(await a.out).toEqual({ steps: 5, savedStep: 5, saves: 3 });
    expect(a.saved).toEqual([2, 4, 5]);
    expect(a.reports).toEqual([1, 2, 3, 4, 5]);
    const b = await loop(new FakeTrainer(0, 4), 2);
    await b.out;
    expect(b.saved).toEqual([2, 4]);
    const c = await loop(new FakeTrainer(0, 3), 0);
    await c.out;
    expect(c.saved).toEqual([3]);
  });

  test('a resumed run counts from its step and does not re-save it', async () => {
    const a = await loop(new FakeTrainer(4, 7), 2);
    await a.out;
    expect(a.saved).toEqual([6, 7]);
    expect(a.reports).toEqual([5, 6, 7]);
  });

  test('a cancel saves the steps since the last save, then propagates', async () => {
    const t = new FakeTrainer(0, 10);
    const a = await loop(t, 4, 3);
    await expect(a.out).rejects.toBeInstanceOf(JobCancelledError);
    expect(a.saved).toEqual([3]);
    expect(a.logs.join('\n')).toMatch(/cancelled after step 3: checkpoint saved/);
    // Cancelled right after a periodic save: nothing new to save.
    const b = await loop(new FakeTrainer(0, 10), 4, 4);
    await expect(b.out).rejects.toBeInstanceOf(JobCancelledError);
    expect(b.saved).toEqual([4]);
  });

  test('a failure saves finite parameters, but never poisoned ones', async () => {
    const a = await loop(new FakeTrainer(0, 10, { step: 4, poison: false }), 2);
    await expect(a.out).rejects.toThrow(/NaN/);
    expect(a.saved).toEqual([2, 3]);
    const b = await loop(new FakeTrainer(0, 10, { step: 4, poison: true }), 2);
    await expect(b.out).rejects.toThrow(/NaN/);
    expect(b.saved).toEqual([2]);
    expect(b.logs.join('\n')).toMatch(/not saving step 3: .*non-finite parameter \(w\[0\] = NaN\); the last saved checkpoint \(step 2\) stays current/);
    // A failure on the first step of a fresh run: nothing to save.
    const c = await loop(new FakeTrainer(0, 10, { step: 1, poison: false }), 2);
    await expect(c.out).rejects.toThrow();
    expect(c.saved).toEqual([]);
  });

  test('a failing save is reported, and the original error still propagates', async () => {
    const t = new FakeTrainer(0, 10);
    const { ctx, logs } = fakeCtx(2, t);
    const p = runTrainLoop(ctx, t, { every: 0, report: (m) => ({ step: m.step + 1, total: 10, losses: {} }), save: async () => Promise.reject(new Error('QuotaExceededError')) });
    await expect(p).rejects.toBeInstanceOf(JobCancelledError);
    expect(logs.join('\n')).toMatch(/could not save the checkpoint after the cancel: QuotaExceededError/);
  });
});

describe('runner pace of a resumed job', () => {
  test('restartPace: setup time and earlier steps do not count into ETA and throughput', async () => {
    let clock = 0;
    const job = async (_: unknown, ctx: JobContext) => {
      clock += 5000; // setup: loading the checkpoint, building the model
      ctx.restartPace(50);
      for (let s = 51; s <= 54; s++) {
        await ctx.checkpoint();
        clock += 200;
        ctx.progress({ step: s, total: 100, losses: {}, items: 100 });
      }
    };
    const kinds: JobKind[] = ['pretrain', 'posttrain', 'cpu-mlp', 'tinycheck', 'selftest', 'gen', 'value', 'tsne'];
    const registry = Object.fromEntries(kinds.map((k) => [k, k === 'pretrain' ? job : { unavailable: 'not in this test' }])) as unknown as JobRegistry;
    const runner = new JobRunner(registry, { now: () => clock, progressIntervalMs: 0, yieldEveryMs: 1e9 });
    const events: JobEvent[] = [];
    const id = runner.start({ kind: 'pretrain', params: { dataset: 'd', steps: 100, name: 'r' } }, (e) => events.push(e));
    await runner.whenDone(id);
    const p = events.filter((e): e is Extract<JobEvent, { type: 'progress' }> => e.type === 'progress').map((e) => e.progress);
    expect(p[0].step).toBe(51);
    // 0.2 s per step from the first report on: 49 steps left = 9.8 s; 100 tokens / 0.2 s.
    expect(p[0].etaSeconds).toBeCloseTo(49 * 0.2, 6);
    expect(p[0].throughput).toBeCloseTo(500, 6);
    expect(p[3].etaSeconds).toBeCloseTo(46 * 0.2, 6);
  });
});
