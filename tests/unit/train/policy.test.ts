import { describe, expect, test } from 'vitest';
import { ACTION_DIM, type Observation } from '../../../src/sim/index';
import {
  ModelPolicy,
  RandomPolicy,
  RecedingHorizonExecutor,
  ReplayPolicy,
  perSample,
  validateChunks,
  type EpisodeStart,
  type Policy,
  type PolicyInput,
} from '../../../src/train/policy';

const fakeObs = (step = 0): Observation =>
  ({ proprio: {} as Observation['proprio'], instruction: 'do it', step }) as Observation;
const inputs = (ids: number[], step = 0): PolicyInput[] => ids.map((envId) => ({ envId, obs: fakeObs(step), instruction: 'do it', taskId: 't' }));
const starts = (ids: number[], seedOf = (i: number) => 100 + i): EpisodeStart[] =>
  ids.map((envId) => ({ envId, taskId: 't', instruction: 'do it', initState: envId, perturbation: 'nominal', seed: seedOf(envId) }));

/** A policy whose action k of its c-th chunk for env e is [e, c, k, 0, 0, 0, 0]. */
class CountingPolicy implements Policy {
  readonly name = 'counting';
  calls: number[][] = [];
  private count = new Map<number, number>();
  constructor(readonly chunkSize: number) {}
  reset(eps: EpisodeStart[]): void {
    for (const e of eps) this.count.set(e.envId, 0);
  }
  async act(xs: PolicyInput[]): Promise<Float32Array[]> {
    this.calls.push(xs.map((x) => x.envId));
    return xs.map((x) => {
      const c = this.count.get(x.envId)!;
      this.count.set(x.envId, c + 1);
      const out = new Float32Array(this.chunkSize * ACTION_DIM);
      for (let k = 0; k < this.chunkSize; k++) out.set([x.envId, c, k], k * ACTION_DIM);
      return out;
    });
  }
}

describe('receding-horizon executor', () => {
  test('executes exactly executeSteps actions of each chunk, then re-plans all empty slots in one call', async () => {
    const policy = new CountingPolicy(5);
    const ex = new RecedingHorizonExecutor(policy, { executeSteps: 3 });
    await ex.reset(starts([0, 1]));
    const executed: number[][][] = [[], []];
    for (let t = 0; t < 10; t++) {
      const acts = await ex.next(inputs([0, 1], t));
      acts.forEach((a, i) => {
        expect(a.length).toBe(ACTION_DIM);
        executed[i].push([a[0], a[1], a[2]]);
      });
    }
    for (const e of [0, 1]) {
      // step t runs action (t mod 3) of chunk floor(t / 3): actions 3 and 4 are never run
      expect(executed[e]).toEqual(Array.from({ length: 10 }, (_, t) => [e, Math.floor(t / 3), t % 3]));
    }
    expect(ex.actCalls).toBe(Math.ceil(10 / 3));
    expect(policy.calls).toEqual([[0, 1], [0, 1], [0, 1], [0, 1]]);
  });

  test('a slot that finishes drops its queue; a new episode in it starts with a fresh chunk', async () => {
    const policy = new CountingPolicy(4);
    const ex = new RecedingHorizonExecutor(policy, { executeSteps: 4 });
    await ex.reset(starts([0, 1]));
    await ex.next(inputs([0, 1]));
    ex.finish(1);
    const [a0, a1] = await ex.next(inputs([0, 1]));
    expect([a0[1], a0[2]]).toEqual([0, 1]); // env 0 continues its first chunk
    expect([a1[1], a1[2]]).toEqual([1, 0]); // env 1 re-planned
    expect(policy.calls.at(-1)).toEqual([1]);
  });

  test('executeSteps defaults to the chunk size and is range-checked', () => {
    expect(new RecedingHorizonExecutor(new CountingPolicy(8)).executeSteps).toBe(8);
    expect(() => new RecedingHorizonExecutor(new CountingPolicy(4), { executeSteps: 5 })).toThrow(/executeSteps must be an integer in \[1, chunkSize = 4\]/);
    expect(() => new RecedingHorizonExecutor(new CountingPolicy(4), { executeSteps: 0 })).toThrow(/executeSteps/);
  });
});

describe('policies', () => {
  test('validateChunks names the policy, env and problem', () => {
    const p = { name: 'm', chunkSize: 2 };
    const xs = inputs([7]);
    expect(() => validateChunks(p, xs, [])).toThrow(/returned 0 chunks for 1 inputs/);
    expect(() => validateChunks(p, xs, [new Float32Array(7)])).toThrow(/env 7 must be a Float32Array of chunkSize\*7 = 14 values, got 7/);
    const bad = new Float32Array(14);
    bad[9] = NaN;
    expect(() => validateChunks(p, xs, [bad])).toThrow(/env 7 has a non-finite value at step 1, dim 2/);
    expect(() => validateChunks(p, xs, [new Float32Array(14)])).not.toThrow();
  });

  test('RandomPolicy draws per episode seed, not per slot, and stays in range', async () => {
    const p = new RandomPolicy({ seed: 3, chunkSize: 2 });
    // the same two episodes in swapped slots
    p.reset(starts([0, 1], (i) => 100 + i));
    const [x0, x1] = await p.act(inputs([0, 1]));
    const q = new RandomPolicy({ seed: 3, chunkSize: 2 });
    q.reset(starts([0, 1], (i) => 101 - i));
    const [y0, y1] = await q.act(inputs([0, 1]));
    expect(Array.from(y1)).toEqual(Array.from(x0));
    expect(Array.from(y0)).toEqual(Array.from(x1));
    expect(Array.from(x0)).not.toEqual(Array.from(x1));
    expect(x0.every((v) => v >= -1 && v <= 1)).toBe(true);
    const other = new RandomPolicy({ seed: 4, chunkSize: 2 });
    other.reset(starts([0]));
    expect(Array.from((await other.act(inputs([0])))[0])).not.toEqual(Array.from(x0));
  });

  test('ReplayPolicy plays the recording, then holds with the last gripper command', async () => {
    const rec = [
      [0.1, 0, 0, 0, 0, 0, -1],
      [0.2, 0, 0, 0, 0, 0, 1],
    ];
    const p = new ReplayPolicy(() => rec);
    p.reset(starts([0]));
    const out: number[][] = [];
    for (let t = 0; t < 3; t++) out.push(Array.from((await p.act(inputs([0])))[0]));
    expect(out[0][0]).toBeCloseTo(0.1);
    expect(out[1][0]).toBeCloseTo(0.2);
    expect(out[2]).toEqual([0, 0, 0, 0, 0, 0, 1]);
    expect(() => new ReplayPolicy(() => undefined, 'empty').reset(starts([0]))).toThrow(/ReplayPolicy 'empty': no recording for t init 0/);
  });

  test('ModelPolicy adapts a per-sample (obs, instruction) -> chunk function and checks its output', async () => {
    const seen: string[] = [];
    const m = new ModelPolicy({
      name: 'toy',
      chunkSize: 3,
      needsImages: false,
      predict: perSample((obs, instruction) => {
        seen.push(`${instruction}@${obs.step}`);
        return new Float32Array(3 * ACTION_DIM).fill(obs.step / 10);
      }),
    });
    const out = await m.act(inputs([0, 1], 4));
    expect(out.map((c) => c[0])).toEqual([Math.fround(0.4), Math.fround(0.4)]);
    expect(seen).toEqual(['do it@4', 'do it@4']);
    const broken = new ModelPolicy({ name: 'broken', chunkSize: 3, predict: async (xs) => xs.map(() => new Float32Array(7)) });
    await expect(broken.act(inputs([0]))).rejects.toThrow(/policy 'broken': chunk for env 0 must be a Float32Array of chunkSize\*7 = 21 values/);
    expect(() => new ModelPolicy({ name: 'x', chunkSize: 0, predict: async () => [] })).toThrow(/'x': chunkSize must be a positive integer/);
  });
});
