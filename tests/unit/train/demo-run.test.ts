/**
 * The demo run that ships in public/demo (src/train/demo-run.ts, made by
 * `npm run demo:train`): the weights-only archive loads, and rolled out with the
 * record's own options (head, value-guided selection, seed, re-planning, camera) it reproduces the recorded
 * evaluation episode by episode: the same successes. Not the final physics states: a
 * demo made on another machine (and engine revision) and replayed here matched every
 * success and step count but not every final-state hash; another CPU or kernel choice
 * rounds the policy's float reductions differently and a rollout amplifies the last bit.
 * Episode seeds do not depend on batching (docs/evaluation.md), so a subset of
 * the recorded episodes is an exact check; CI affords two initial states per task plus
 * every recorded success.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime.ts';
import { loadCheckpoint } from '../../../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../../../src/train/checkpoint-node.ts';
import { DEMO_ARCHIVE, DEMO_DIR, DEMO_NAME, DEMO_RECORD, demoModeOf, demoPolicyOptions, parseDemoRecord, type DemoRecord } from '../../../src/train/demo-run.ts';
import { evaluate } from '../../../src/train/eval.ts';
import { prtsPolicyFromCheckpoint } from '../../../src/train/inference.ts';

let rt: Runtime;
let record: DemoRecord;
beforeAll(async () => {
  for (const f of [DEMO_ARCHIVE, DEMO_RECORD]) {
    if (!existsSync(join(DEMO_DIR, f))) throw new Error(`${join(DEMO_DIR, f)} is missing: the demo run ships with the app (npm run demo:train makes it)`);
  }
  record = parseDemoRecord(JSON.parse(readFileSync(join(DEMO_DIR, DEMO_RECORD), 'utf8')));
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

describe('the shipped demo run', () => {
  test('its record describes the archive beside it and a complete evaluation', () => {
    expect(record).toMatchObject({ name: DEMO_NAME, archive: DEMO_ARCHIVE, command: 'npm run demo:train' });
    const e = record.eval;
    expect(e.episodes).toHaveLength(e.n);
    expect(e.episodes.filter((x) => x.success)).toHaveLength(e.successes);
    expect(e.rate).toBeCloseTo(e.successes / e.n, 12);
    expect(new Set(e.episodes.map((x) => `${x.taskId}#${x.initState}`)).size).toBe(e.n);
    // The shipped way of acting is one of those compared, with the same count.
    if (e.compared) expect(e.compared.find((c) => c.mode === demoModeOf(record) && JSON.stringify(c.select ?? null) === JSON.stringify(e.select ?? null) && !!c.pair === !!record.proposer)?.successes).toBe(e.successes);
    if (record.proposer) expect(existsSync(join(DEMO_DIR, record.proposer.archive))).toBe(true);
  });

  test('the weights-only archive reproduces the recorded evaluation: the same success on every episode', async () => {
    const data = await loadCheckpoint(await nodeCheckpointIO(join(DEMO_DIR, DEMO_ARCHIVE), { create: false }));
    expect(data.optimizer).toEqual([]);
    // A pair: the proposer acts, the archive's critic chooses.
    const proposer = record.proposer ? await loadCheckpoint(await nodeCheckpointIO(join(DEMO_DIR, record.proposer.archive), { create: false })) : null;
    if (proposer) {
      expect(proposer.optimizer).toEqual([]);
      expect(proposer.trainer.withCrl).toBe(false);
      expect({ model: proposer.config.model, train: proposer.config.train }).toEqual({ model: record.proposer!.config.model, train: record.proposer!.config.train });
    }
    const e = record.eval;
    // Every task from states 0-1, and the states of (up to) two recorded successes.
    const states = [...new Set([0, 1, ...e.episodes.filter((x) => x.success).slice(0, 2).map((x) => x.initState)])];
    const picked = e.episodes.filter((x) => states.includes(x.initState));
    const policy = proposer ? await prtsPolicyFromCheckpoint(proposer, { rt, ...demoPolicyOptions(record), critic: data }) : await prtsPolicyFromCheckpoint(data, { rt, ...demoPolicyOptions(record) });
    let res;
    try {
      res = await evaluate(policy, {
        tasks: [...new Set(picked.map((x) => x.taskId))],
        initStates: states,
        perturbations: e.options.perturbations,
        seed: e.options.seed,
        executeSteps: e.options.executeSteps,
        maxSteps: e.options.maxSteps ?? undefined,
        envsPerBatch: 8,
        camera: e.options.camera ? { ...e.options.camera, device: rt.device } : undefined,
      });
    } finally {
      policy.dispose();
    }
    const key = (x: { taskId: string; initState: number }) => `${x.taskId}#${x.initState}`;
    const recorded = new Map(e.episodes.map((x) => [key(x), x]));
    expect(res.episodes).toHaveLength(picked.length);
    for (const ep of res.episodes) {
      const want = recorded.get(key(ep))!;
      expect({ episode: key(ep), success: ep.success }).toEqual({ episode: key(want), success: want.success });
    }
  }, 900_000);
});
