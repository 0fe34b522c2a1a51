/**
 * The overfit check at the size CI affords (issue 10; src/train/overfit.ts): one expert
 * demonstration of reach/touch_red with the cpu preset, pre-trained until the AR policy
 * reproduces it from the same initial state, then a DiT post-trained on that backbone
 * until it does too. Both must succeed closed loop in the simulator: a defect anywhere
 * between the dataset and the simulator (normalisation, chunk alignment, observation
 * timing, decoding) fails it. `npm run check:overfit` runs the 1- and 4-demonstration stages.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime.ts';
import { PRESETS, type WorkbenchConfig } from '../../../src/model/config.ts';
import { actionErrorCurve, runOverfitCheck, type OverfitReport } from '../../../src/train/overfit.ts';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

describe('actionErrorCurve', () => {
  test('mean |a - a_demo| over the 7 channels per step, averaged over the episodes that reach the step', () => {
    const a = (v: number) => Array(7).fill(v);
    expect(actionErrorCurve([[a(1), a(2)], [a(0)]], [[a(0), a(0), a(0)], [a(0.5)]])).toEqual([0.75, 2]);
    expect(actionErrorCurve([], [])).toEqual([]);
  });
});

describe('overfit check', () => {
  let report: OverfitReport;
  test('one demonstration: the AR and the DiT policy both reproduce it closed loop', async () => {
    const base = PRESETS.cpu;
    const config: WorkbenchConfig = { ...base, name: 'cpu-overfit', train: { ...base.train, lambdaCrl: 0, seed: 0 } };
    const lines: string[] = [];
    report = await runOverfitCheck(rt, { task: 'reach/touch_red', demos: [1], config, maxPretrainSteps: 300, maxPosttrainSteps: 300, evalEvery: 50, onLog: (l) => lines.push(l) });
    const [stage] = report.stages;
    const why = lines.join('\n');
    expect(stage.demos).toBe(1);
    expect(stage.ar.success, why).toBe(1);
    expect(stage.dit.success, why).toBe(1);
    expect(report).toMatchObject({ success_ar: 1, success_dit: 1 });
    // Solved means every check after training stopped at the first all-success check.
    for (const r of [stage.ar, stage.dit]) {
      expect(r.solvedAt).toBe(r.steps);
      expect(r.checks.at(-1)).toMatchObject({ step: r.steps, successes: 1, episodes: 1 });
      expect(r.perStepError.length).toBeGreaterThan(0);
      expect(r.perStepError.every((e) => Number.isFinite(e) && e >= 0)).toBe(true);
      expect(r.rollouts).toEqual([expect.objectContaining({ initState: 0, success: true, demoSteps: stage.demoFrames })]);
    }
  }, 900_000);
});
