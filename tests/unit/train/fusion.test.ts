/**
 * The fused training step (issue 11): residual adds and biases in the matmul's store
 * (matmulFusion) and many parameters per norm and update dispatch (adamwKernels) must
 * change only the number of dispatches, never a loss: the same pre-training run with
 * and without them gives the same metrics to the bit, step after step. And a
 * steady-state step allocates no GPU buffer and compiles no pipeline.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { matmulFusion } from '../../../src/engine/ops/matmul.ts';
import { adamwKernels } from '../../../src/engine/optim.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { traceCall, type StepTrace } from '../../../src/engine/trace.ts';
import { Pretrainer } from '../../../src/train/pretrain.ts';
import { makeFixture, type Fixture } from '../model/batch.dataset.ts';
import { tinyConfig } from './pretrain.helpers.ts';

let rt: Runtime;
let fx: Fixture;
beforeAll(async () => {
  rt = await Runtime.create();
  fx = await makeFixture();
});
afterAll(() => rt?.destroy());

const STEPS = 5;

async function run(fused: boolean) {
  matmulFusion.enabled = fused;
  adamwKernels.sumsq = fused ? 'multi' : 'each';
  adamwKernels.update = fused ? 'multi' : 'each';
  try {
    const tr = await Pretrainer.create(rt, tinyConfig({ steps: STEPS }), fx.reader);
    const metrics = [];
    const traces: StepTrace[] = [];
    for (let i = 0; i < STEPS; i++) {
      const { result, trace } = await traceCall(rt, () => tr.step());
      const { total, bc, saL, lSa, accuracy, gradNorm, tokens } = result;
      metrics.push({ total, bc, saL, lSa, accuracy, gradNorm, tokens });
      traces.push(trace);
    }
    tr.dispose();
    return { metrics, traces };
  } finally {
    matmulFusion.enabled = true;
    adamwKernels.sumsq = 'multi';
    adamwKernels.update = 'multi';
  }
}

describe('the fused training step', () => {
  test('same losses to the bit as the unfused step, with fewer dispatches; no allocation or compilation once warm', async () => {
    const unfused = await run(false);
    const fused = await run(true);
    expect(fused.metrics).toEqual(unfused.metrics);
    fused.traces.forEach((t, i) => expect(t.dispatches, `step ${i}`).toBeLessThan(unfused.traces[i].dispatches));
    // The model has one layer: two residual adds in the projections' stores, and the
    // norm of all its gradients in a few dispatches instead of one per parameter.
    const saved = unfused.traces.at(-1)!.dispatches - fused.traces.at(-1)!.dispatches;
    expect(saved).toBeGreaterThanOrEqual(10);
    for (const t of fused.traces.slice(2)) expect(t).toMatchObject({ pipelinesCreated: 0, buffersCreated: 0 });
  }, 300_000);
});
