/**
 * model.actionStartGoal (src/model/action-start-goal.ts): the plan that pools each
 * document's instruction tokens into its <|action_start|>, and the engine composition
 * against a float64 reference, values and finite-difference gradients.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { Role } from '../../../src/engine/roles';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, parameter, tidy } from '../../../src/engine/tensor';
import { instructionMeans, planActionStartGoal, type ActionStartGoalPlan } from '../../../src/model/action-start-goal';
import { SPECIAL } from '../../../src/model/tokenizers/vocab';
import { expectClose, numericGrad, randn } from '../engine/check';

const { VISION_STATE: V, INSTRUCTION: I, AR_ACTION: A, CRL_ACTION: C, CRL_GOAL: G } = Role;
const S = SPECIAL.actionStart;

/** Float64 reference: out[r] = mean of table[ids[j]] over j of role INSTRUCTION in r's document, for the first <|action_start|> r of each document. */
function reference(table: ArrayLike<number>, D: number, ids: Int32Array, roles: Uint8Array, docs: Int32Array): Float64Array {
  const n = ids.length;
  const out = new Float64Array(n * D);
  const seen = new Set<number>();
  for (let r = 0; r < n; r++) {
    if (roles[r] !== A || ids[r] !== S || seen.has(docs[r])) continue;
    seen.add(docs[r]);
    const words = [...ids.keys()].filter((j) => roles[j] === I && docs[j] === docs[r]);
    for (const j of words) for (let k = 0; k < D; k++) out[r * D + k] += table[ids[j] * D + k] / words.length;
  }
  return out;
}

/** A random packed batch: documents of [vision, instruction, <|action_start|> FAST.., CRL copy, goal copy], some without an instruction or an action span. */
function randomLayout(rng: Rng, vocab: number) {
  const ids: number[] = [];
  const roles: number[] = [];
  const docs: number[] = [];
  const push = (id: number, role: number, doc: number) => { ids.push(id); roles.push(role); docs.push(doc); };
  const nDocs = 1 + Math.floor(rng.uniform() * 5);
  for (let d = 0; d < nDocs; d++) {
    const tok = () => 3 + Math.floor(rng.uniform() * (vocab - 3));
    for (let i = 0, v = 1 + Math.floor(rng.uniform() * 6); i < v; i++) push(tok(), V, d);
    const words = rng.uniform() < 0.2 ? 0 : 1 + Math.floor(rng.uniform() * 7);
    for (let i = 0; i < words; i++) push(tok(), I, d);
    if (rng.uniform() < 0.85) {
      push(S, A, d);
      for (let i = 0, f = Math.floor(rng.uniform() * 5); i < f; i++) push(tok(), A, d);
      for (let i = 0, f = Math.floor(rng.uniform() * 4); i < f; i++) push(tok(), C, d);
      for (let i = 0; i < words; i++) push(tok(), G, d);
    }
  }
  return { ids: Int32Array.from(ids), roles: Uint8Array.from(roles), docs: Int32Array.from(docs) };
}

describe('planActionStartGoal', () => {
  test('two documents: each start averages its own instruction, every other row adds the zero row', () => {
    //              doc 0: V  V  I  I  I  A(S) A   | doc 1: V  I  I  A(S) A  C  G
    const ids = new Int32Array([9, 9, 10, 11, 12, S, 20, 9, 13, 14, S, 21, 22, 13]);
    const roles = new Uint8Array([V, V, I, I, I, A, A, V, I, I, A, A, C, G]);
    const docs = new Int32Array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    const p = planActionStartGoal(ids, roles, docs)!;
    expect(p.starts).toBe(2);
    expect(Array.from(p.instructionIds)).toEqual([10, 11, 12, 13, 14]);
    const third = Math.fround(1 / 3);
    expect(Array.from(p.pool)).toEqual([third, third, third, 0, 0, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0]);
    expect(Array.from(p.rowOf)).toEqual([2, 2, 2, 2, 2, 0, 2, 2, 2, 2, 1, 2, 2, 2]);
  });

  test('nothing to add without an <|action_start|> or without instruction tokens; a start id outside the AR span is ignored', () => {
    const docs = new Int32Array([0, 0, 0]);
    expect(planActionStartGoal(new Int32Array([9, 10, 11]), new Uint8Array([V, I, A]), docs)).toBeNull();
    expect(planActionStartGoal(new Int32Array([9, 9, S]), new Uint8Array([V, V, A]), docs)).toBeNull();
    expect(planActionStartGoal(new Int32Array([9, 10, S]), new Uint8Array([V, I, C]), docs)).toBeNull();
    expect(() => planActionStartGoal(new Int32Array(3), new Uint8Array(2), docs)).toThrow(/one entry per token, got 3, 2, 3/);
  });

  test('property, random packed layouts: rows are averages over the same document only, and only first starts add', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 200; trial++) {
      const { ids, roles, docs } = randomLayout(rng, 40);
      const p = planActionStartGoal(ids, roles, docs);
      const instr = [...ids.keys()].filter((j) => roles[j] === I);
      if (!p) {
        expect(instr.length === 0 || !ids.some((id, r) => id === S && roles[r] === A)).toBe(true);
        continue;
      }
      const m = instr.length;
      expect(p.pool.length).toBe((p.starts + 1) * m);
      for (let r = 0; r < ids.length; r++) {
        const row = p.rowOf[r];
        const weights = p.pool.subarray(row * m, (row + 1) * m);
        const total = weights.reduce((a, b) => a + b, 0);
        if (row === p.starts) {
          expect(total).toBe(0);
          continue;
        }
        expect(ids[r]).toBe(S);
        expect(roles[r]).toBe(A);
        expect(total).toBeCloseTo(1, 5);
        instr.forEach((j, c) => expect(weights[c] > 0).toBe(docs[j] === docs[r]));
      }
      for (let k = m * p.starts; k < p.pool.length; k++) expect(p.pool[k]).toBe(0);
    }
  });
});

describe('instructionMeans on the engine', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });
  afterAll(() => rt?.destroy());

  test('random odd-sized layouts: values and the embedding-table gradient match a float64 reference', async () => {
    const rng = new Rng(11);
    for (const [vocab, D] of [[23, 5], [40, 13], [31, 64]] as const) {
      let layout = randomLayout(rng, vocab);
      let plan: ActionStartGoalPlan | null = planActionStartGoal(layout.ids, layout.roles, layout.docs);
      while (!plan) {
        layout = randomLayout(rng, vocab);
        plan = planActionStartGoal(layout.ids, layout.roles, layout.docs);
      }
      const { ids, roles, docs } = layout;
      const table = randn(rng, vocab * D);
      const gOut = randn(rng, ids.length * D);
      const f = ([t]: Float64Array[]) => reference(t, D, ids, roles, docs);
      const [dt] = numericGrad(f, [table], gOut);
      const p = parameter(rt, table, [vocab, D]);
      const y = tidy(() => {
        const out = instructionMeans(p, plan!);
        backward(out, fromArray(rt, gOut, out.shape));
        return out;
      });
      expect(y.shape).toEqual([ids.length, D]);
      expectClose(await y.read(), f([Float64Array.from(table)]), { atol: 1e-5, rtol: 1e-5 });
      expectClose(await p.grad!.read(), dt, { atol: 1e-4, rtol: 1e-4 });
      y.dispose();
      p.grad!.dispose();
      p.dispose();
    }
  });
});
