import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { Scope, fromArray, parameter, tidy } from '../../../src/engine/tensor';
import { backward } from '../../../src/engine/autograd';
import { Rng } from '../../../src/engine/random';
import { RowIndex, embedding, gatherRows } from '../../../src/engine/ops/embedding';
import { refGatherRows } from '../../../src/engine/reference/embedding';
import { expectClose, numericGrad, randInt, randn } from './check';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

describe('embedding', () => {
  test('gather by token ids and the scatter-add gradient (repeated and unused ids)', async () => {
    const rng = new Rng(1);
    const [V, D, N] = [37, 13, 150];
    const table = randn(rng, V * D);
    // Ids from the first 30 rows only: rows 30..36 must get an exact zero gradient.
    const ids = randInt(rng, N, 30);
    const g = randn(rng, N * D);
    const f = ([t]: Float64Array[]) => refGatherRows(t, ids, D);
    const [dt] = numericGrad(f, [table], g);
    const p = parameter(rt, table, [V, D]);
    const y = tidy(() => {
      const out = embedding(p, ids);
      backward(out, fromArray(rt, g, out.shape));
      return out;
    });
    expect(y.shape).toEqual([N, D]);
    expectClose(await y.read(), f([Float64Array.from(table)]), { atol: 0, rtol: 0 });
    const got = await p.grad!.read();
    expectClose(got, dt, { atol: 1e-4, rtol: 1e-4 });
    expect(Array.from(got.slice(30 * D))).toEqual(new Array(7 * D).fill(0));
    y.dispose();
    p.grad!.dispose();
    p.dispose();
  });

  test('a RowIndex is reusable across steps and keeps the ids shape', async () => {
    const rng = new Rng(2);
    const [V, D] = [11, 4];
    const ids = new Int32Array([3, 3, 0, 10, 3, 7]);
    const index = new RowIndex(rt, ids, V, [2, 3]);
    const p = parameter(rt, randn(rng, V * D), [V, D]);
    for (let step = 0; step < 2; step++) {
      tidy(() => {
        const out = embedding(p, index);
        expect(out.shape).toEqual([2, 3, D]);
        backward(out, fromArray(rt, new Float32Array(6 * D).fill(1), out.shape));
      });
    }
    const grad = await p.grad!.read();
    // Two steps of all-ones gradients: row 3 was gathered three times per step.
    expect(grad[3 * D]).toBe(6);
    expect(grad[0]).toBe(2);
    expect(grad[1 * D]).toBe(0);
    index.dispose();
    p.grad!.dispose();
    p.dispose();
  });

  test('out-of-range ids name the id and its position', () => {
    const scope = new Scope();
    scope.run(() => {
      const t = fromArray(rt, new Float32Array(8), [4, 2]);
      expect(() => embedding(t, new Int32Array([1, 4]))).toThrow(/id 4 at position 1 is outside \[0, 4\)/);
      expect(() => embedding(t, new Int32Array([-1]))).toThrow(/id -1 at position 0/);
      const idx = new RowIndex(rt, new Int32Array([0]), 5);
      expect(() => embedding(t, idx)).toThrow(/built for 5 rows but the source \[4, 2\] has 4/);
    });
    scope.dispose();
  });
});

describe('gatherRows', () => {
  test('rows of a rank-3 activation, forward and gradient', async () => {
    const rng = new Rng(3);
    const [N, A, B, M] = [9, 3, 5, 7];
    const x = randn(rng, N * A * B);
    const ids = randInt(rng, M, N);
    const g = randn(rng, M * A * B);
    const f = ([t]: Float64Array[]) => refGatherRows(t, ids, A * B);
    const [dx] = numericGrad(f, [x], g);
    const p = parameter(rt, x, [N, A, B]);
    const y = tidy(() => {
      const out = gatherRows(p, ids);
      backward(out, fromArray(rt, g, out.shape));
      return out;
    });
    expect(y.shape).toEqual([M, A, B]);
    expectClose(await y.read(), f([Float64Array.from(x)]), { atol: 0, rtol: 0 });
    expectClose(await p.grad!.read(), dx, { atol: 1e-4, rtol: 1e-4 });
    y.dispose();
    p.grad!.dispose();
    p.dispose();
  });
});
