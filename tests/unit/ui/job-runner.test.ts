import { describe, expect, test } from 'vitest';
import type { JobEvent, JobParams } from '../../../worker/protocol.ts';
import { JobRunner, type JobContext, type JobRegistry } from '../../../worker/runner.ts';
import { cpuMlpJob } from '../../../worker/jobs/cpu-mlp.ts';

/** The service jobs (Sim, Value, Embeddings tabs) play no part in these runner tests. */
const SERVICES = { gen: { unavailable: 'not in this test' }, pretrain: { unavailable: 'not in this test' }, posttrain: { unavailable: 'not in this test' }, value: { unavailable: 'not in this test' }, tsne: { unavailable: 'not in this test' }, rollout: { unavailable: 'not in this test' } } as const;
const SERVICES_AVAILABILITY = Object.fromEntries(Object.keys(SERVICES).map((k) => [k, { available: false, reason: 'not in this test' }]));

/** A job of `steps` steps that waits on `gate` before each step so tests control its pace. */
function gatedRegistry(gate: { next: () => Promise<void> }, failAt?: number): JobRegistry {
  return {
    'cpu-mlp': async (p: JobParams['cpu-mlp'], ctx: JobContext) => {
      for (let s = 1; s <= p.steps; s++) {
        await ctx.checkpoint();
        await gate.next();
        if (s === failAt) throw new RangeError(`step ${s} exploded`);
        ctx.progress({ step: s, total: p.steps, losses: { loss: 1 / s }, items: 10 });
      }
      return { steps: p.steps };
    },
    tinycheck: { unavailable: 'not in this build' },
    selftest: { unavailable: 'needs a GPU' },
    ...SERVICES,
  };
}

const params = (steps: number): JobParams['cpu-mlp'] => ({ hidden: 4, steps, batchSize: 2, lr: 0.01, seed: 0, checkpointEvery: 0 });

function setup(steps: number, failAt?: number) {
  let clock = 0;
  const gate = { next: async () => void (clock += 100) };
  const runner = new JobRunner(gatedRegistry(gate, failAt), {
    now: () => clock,
    progressIntervalMs: 0,
    yieldEveryMs: 0,
    yieldToHost: () => new Promise((r) => setImmediate(r)),
  });
  const events: JobEvent[] = [];
  const id = runner.start({ kind: 'cpu-mlp', params: params(steps) }, (e) => events.push(e));
  const states = () => events.filter((e) => e.type === 'state').map((e) => (e as { state: string }).state);
  const progress = () => events.filter((e): e is Extract<JobEvent, { type: 'progress' }> => e.type === 'progress');
  return { runner, id, events, states, progress };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('JobRunner', () => {
  test('runs to completion with progress, throughput and ETA', async () => {
    const { runner, id, states, progress, events } = setup(5);
    await runner.whenDone(id);
    expect(states()).toEqual(['running', 'done']);
    const p = progress();
    expect(p.map((e) => e.progress.step)).toEqual([1, 2, 3, 4, 5]);
    // 100 ms of fake clock per step, 10 items per step: 100 items/s, ETA = remaining * 0.1 s.
    expect(p[2].progress.throughput).toBeCloseTo(100, 6);
    expect(p[2].progress.etaSeconds).toBeCloseTo(0.2, 6);
    expect(p[4].progress.etaSeconds).toBe(0);
    expect(events.find((e) => e.type === 'result')).toMatchObject({ result: { steps: 5 } });
    expect(runner.status(id)).toMatchObject({ state: 'done', step: 5, total: 5 });
  });

  test('pause holds the job between steps; resume continues where it stopped', async () => {
    const { runner, id, states, progress } = setup(1000);
    while (progress().length < 3) await tick();
    runner.pause(id);
    const at = runner.status(id).step;
    for (let i = 0; i < 20; i++) await tick();
    // At most the step in flight finishes after a pause.
    expect(runner.status(id).step).toBeLessThanOrEqual(at + 1);
    const frozen = runner.status(id).step;
    for (let i = 0; i < 20; i++) await tick();
    expect(runner.status(id).step).toBe(frozen);
    expect(runner.status(id).state).toBe('paused');
    runner.resume(id);
    while (runner.status(id).step < frozen + 3) await tick();
    runner.cancel(id);
    await runner.whenDone(id);
    expect(states()).toEqual(['running', 'paused', 'running', 'cancelled']);
  });

  test('cancel while paused ends the job without resuming it', async () => {
    const { runner, id, states } = setup(1000);
    await tick();
    runner.pause(id);
    const step = runner.status(id).step;
    runner.cancel(id);
    await runner.whenDone(id);
    expect(states()).toEqual(['running', 'paused', 'cancelled']);
    expect(runner.status(id).step).toBeLessThanOrEqual(step + 1);
    // Pause/resume/cancel on a finished job are no-ops, not errors.
    runner.resume(id);
    runner.cancel(id);
    expect(runner.status(id).state).toBe('cancelled');
  });

  test('a throwing job is reported failed with its message; the runner keeps working', async () => {
    const { runner, id, events } = setup(10, 3);
    await runner.whenDone(id);
    const last = events[events.length - 1];
    expect(last).toEqual({ type: 'state', jobId: id, state: 'failed', error: 'RangeError: step 3 exploded' });
    expect(runner.status(id)).toMatchObject({ state: 'failed', step: 2 });
    const id2 = runner.start({ kind: 'cpu-mlp', params: params(2) }, () => undefined);
    await runner.whenDone(id2);
    expect(runner.status(id2).state).toBe('done');
    expect(id2).not.toBe(id);
  });

  test('a listener that throws does not kill the job', async () => {
    let clock = 0;
    const runner = new JobRunner(gatedRegistry({ next: async () => void (clock += 1) }), { now: () => clock, progressIntervalMs: 0, yieldEveryMs: 0 });
    const id = runner.start({ kind: 'cpu-mlp', params: params(3) }, () => {
      throw new Error('port closed');
    });
    await runner.whenDone(id);
    expect(runner.status(id).state).toBe('done');
  });

  test('unavailable and unknown kinds are refused with the reason', () => {
    const runner = new JobRunner(gatedRegistry({ next: async () => undefined }));
    expect(runner.availability()).toEqual({
      'cpu-mlp': { available: true },
      tinycheck: { available: false, reason: 'not in this build' },
      selftest: { available: false, reason: 'needs a GPU' },
      ...SERVICES_AVAILABILITY,
    });
    expect(() => runner.start({ kind: 'tinycheck', params: {} as never }, () => undefined)).toThrow(/not available: not in this build/);
    expect(() => runner.start({ kind: 'nope' as never, params: {} as never }, () => undefined)).toThrow(/unknown job kind "nope"/);
  });

  test('progress events are rate-limited but the final step always goes out', async () => {
    let clock = 0;
    const runner = new JobRunner(gatedRegistry({ next: async () => void (clock += 1) }), { now: () => clock, progressIntervalMs: 50, yieldEveryMs: 1e9 });
    const steps: number[] = [];
    const id = runner.start({ kind: 'cpu-mlp', params: params(200) }, (e) => e.type === 'progress' && steps.push(e.progress.step));
    await runner.whenDone(id);
    expect(steps.length).toBeLessThan(10);
    expect(steps[steps.length - 1]).toBe(200);
  });

  test('paused time is excluded from the running time', async () => {
    let clock = 0;
    const gate: { release: (() => void) | null } = { release: null };
    const registry: JobRegistry = {
      'cpu-mlp': async (_p, ctx) => {
        await ctx.checkpoint();
        await new Promise<void>((r) => (gate.release = r));
        await ctx.checkpoint();
        ctx.progress({ step: 1, total: 1, losses: {} });
      },
      tinycheck: { unavailable: 'x' },
      selftest: { unavailable: 'x' },
      ...SERVICES,
    };
    const runner = new JobRunner(registry, { now: () => clock, yieldEveryMs: 1e9 });
    let elapsed = -1;
    const id = runner.start({ kind: 'cpu-mlp', params: params(1) }, (e) => e.type === 'progress' && (elapsed = e.progress.elapsedSeconds));
    while (!gate.release) await tick();
    clock = 1000;
    runner.pause(id);
    clock = 61_000;
    runner.resume(id);
    clock = 62_000;
    gate.release!();
    await runner.whenDone(id);
    expect(elapsed).toBeCloseTo(2, 6);
  });
});

describe('cpu-mlp job', () => {
  test('the loss falls, checkpoints carry the weights, and training continues from them', async () => {
    const runner = new JobRunner({ 'cpu-mlp': cpuMlpJob, tinycheck: { unavailable: 'x' }, selftest: { unavailable: 'x' }, ...SERVICES }, { progressIntervalMs: 0 });
    const losses: number[] = [];
    const ckpts: Extract<JobEvent, { type: 'checkpoint' }>[] = [];
    const p = { hidden: 16, steps: 1500, batchSize: 32, lr: 0.01, seed: 3, checkpointEvery: 500 };
    const id = runner.start({ kind: 'cpu-mlp', params: p }, (e) => {
      if (e.type === 'progress') losses.push(e.progress.losses.mse);
      if (e.type === 'checkpoint') ckpts.push(e);
    });
    await runner.whenDone(id);
    expect(runner.status(id).state).toBe('done');
    const head = losses.slice(0, 50).reduce((a, b) => a + b) / 50;
    const tail = losses.slice(-50).reduce((a, b) => a + b) / 50;
    expect(tail).toBeLessThan(head / 5);
    expect(ckpts.map((c) => c.step)).toEqual([500, 1000, 1500]);
    expect(ckpts[2].tensors.map((t) => [t.name, t.shape])).toEqual([['mlp.w1', [2, 16]], ['mlp.b1', [16]], ['mlp.w2', [16, 1]], ['mlp.b2', [1]]]);

    const cont: number[] = [];
    const id2 = runner.start({ kind: 'cpu-mlp', params: { ...p, steps: 20, init: ckpts[2].tensors } }, (e) => e.type === 'progress' && cont.push(e.progress.losses.mse));
    await runner.whenDone(id2);
    // Starting from trained weights, the first losses are already near the end of the first run.
    expect(cont[0]).toBeLessThan(head / 3);

    const bad = runner.start({ kind: 'cpu-mlp', params: { ...p, hidden: 8, init: ckpts[2].tensors } }, () => undefined);
    await runner.whenDone(bad);
    expect(runner.status(bad).error).toMatch(/"mlp.w1" has 32 values, hidden=8 needs 16/);
  });
});
