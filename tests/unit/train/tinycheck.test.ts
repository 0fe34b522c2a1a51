import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { Rng } from '../../../src/engine/random';
import { Role } from '../../../src/engine/roles';
import { DEFAULT_TINY_CHECK, TINY_CHECK_THRESHOLDS, lSaFloor, runTinyCheck } from '../../../src/train/tinycheck';
import { TinyWorld } from '../../../src/train/tinycheck-data';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

describe('engine end-to-end check', () => {
  test('synthetic batches use the PRTS layout and give every goal several positives', () => {
    const world = new TinyWorld();
    const b = world.batch(new Rng(3));
    const cfg = world.cfg;
    expect(b.samples).toBe(cfg.tasks * cfg.samplesPerTask);
    expect(b.actionEndIndex.length).toBe(b.samples);
    expect(b.goalEndIndex.length).toBe(cfg.tasks);
    for (const i of b.actionEndIndex) expect(b.roles[i]).toBe(Role.CRL_ACTION);
    for (const i of b.goalEndIndex) expect(b.roles[i]).toBe(Role.CRL_GOAL);
    for (const i of b.targetIndices) expect(b.roles[i]).toBe(Role.AR_ACTION);
    const perGoal = new Map<number, number>();
    for (const g of b.goalOf) perGoal.set(g, (perGoal.get(g) ?? 0) + 1);
    for (const c of perGoal.values()) expect(c).toBeGreaterThanOrEqual(2);
    // The BC-only layout is the CRL layout with the CRL blocks removed.
    const bcOnly = world.batch(new Rng(3), false);
    const kept = [...b.ids].filter((_, i) => b.roles[i] !== Role.CRL_ACTION && b.roles[i] !== Role.CRL_GOAL);
    expect([...bcOnly.ids]).toEqual(kept);
    // The floor of L_l->sa is the entropy of the soft targets: ln(4) for 4 equal weights.
    const eq = { ...b, t: new Int32Array(b.samples).fill(0), T: new Int32Array(b.samples).fill(5) };
    expect(lSaFloor(eq, 0.9)).toBeCloseTo(Math.log(cfg.samplesPerTask), 10);
  });

  // 150 optimiser steps: about 1-3 minutes on a GPU-less 2-core machine (SwiftShader),
  // seconds on a GPU; the generous timeout is for loaded CI machines.
  test('BC and both CRL losses fall below their thresholds', { timeout: 1_200_000 }, async () => {
    const result = await runTinyCheck(rt, DEFAULT_TINY_CHECK);
    const first = result.steps[0];
    // Losses start near chance (see the thresholds' justification in tinycheck.ts) ...
    expect(first.bc).toBeGreaterThan(2);
    expect(first.saL).toBeGreaterThan(0.9);
    expect(first.lSa - first.lSaFloor).toBeGreaterThan(0.9);
    // ... and end below the thresholds.
    expect(result.final.bc).toBeLessThan(TINY_CHECK_THRESHOLDS.bc);
    expect(result.final.saL).toBeLessThan(TINY_CHECK_THRESHOLDS.saL);
    expect(result.final.lSaGap).toBeLessThan(TINY_CHECK_THRESHOLDS.lSaGap);
    expect(result.passed).toBe(true);
    // Leaks would show up as growing live memory across steps; after the run only the
    // pool's free buffers remain.
    await rt.sync();
    expect(rt.liveBytes).toBeLessThan(1 << 20);
  });
});
