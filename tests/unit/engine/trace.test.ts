import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, tidy } from '../../../src/engine/tensor';
import { add, mul } from '../../../src/engine/ops/elementwise';
import { matmul } from '../../../src/engine/ops/matmul';
import { formatTrace, gpuByFamily, kernelFamily, meanTrace, traceCall } from '../../../src/engine/trace';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

describe('step trace', () => {
  test('kernel families are the first part of the kernel name', () => {
    expect(kernelFamily('matmul.direct')).toBe('matmul');
    expect(kernelFamily('attention.bwd.dq')).toBe('attention');
    expect(kernelFamily('rope')).toBe('rope');
    const fam = gpuByFamily([
      { kernel: 'matmul.direct', calls: 2, ms: 3 },
      { kernel: 'rope', calls: 1, ms: 4 },
      { kernel: 'matmul.vec4', calls: 1, ms: 2 },
    ]);
    expect(fam).toEqual([
      { family: 'matmul', calls: 3, ms: 5 },
      { family: 'rope', calls: 1, ms: 4 },
    ]);
  });

  test('counts the dispatches of a call, times its synchronous part, and profiles it per kernel', async () => {
    const x = fromArray(rt, new Float32Array(64).fill(1), [8, 8]);
    const work = async () => {
      const y = tidy(() => add(mul(matmul(x, x), x), x));
      const out = await y.toFloat32();
      y.dispose();
      return out[0];
    };
    const plain = await traceCall(rt, work);
    expect(plain.result).toBe(9);
    expect(plain.trace.dispatches).toBe(3);
    expect(plain.trace.submits).toBeGreaterThanOrEqual(1);
    // Once warm (buffers freed by a call return to the pool at a later submit), the same
    // work compiles nothing and allocates only from the pool.
    await traceCall(rt, work);
    const again = await traceCall(rt, work);
    expect(again.trace).toMatchObject({ dispatches: 3, pipelinesCreated: 0, buffersCreated: 0 });
    expect(plain.trace.encodeMs).toBeGreaterThanOrEqual(0);
    expect(plain.trace.wallMs).toBeGreaterThanOrEqual(plain.trace.encodeMs);
    expect(plain.trace.gpu).toBeNull();

    const profiled = await traceCall(rt, work, { profile: true });
    expect(profiled.trace.dispatches).toBe(3);
    if (rt.hasTimestamps) {
      const gpu = profiled.trace.gpu ?? [];
      expect(gpu.reduce((s, k) => s + k.calls, 0)).toBe(3);
      expect(gpuByFamily(gpu).map((f) => f.family).sort()).toEqual(['elementwise', 'matmul']);
      expect(formatTrace(profiled.trace)).toMatch(/GPU .* ms by family:[\s\S]*elementwise[\s\S]*by kernel:/);
    } else {
      expect(profiled.trace.gpu).toBeNull();
    }
    x.dispose();
  });

  test('a failing call stops profiling, so the next trace starts clean', async () => {
    const boom = () => Promise.reject(new Error('boom'));
    await expect(traceCall(rt, boom, { profile: true })).rejects.toThrow('boom');
    const again = await traceCall(rt, async () => 1);
    expect(again.trace.dispatches).toBe(0);
  });

  test('meanTrace averages counts and per-kernel times', () => {
    const m = meanTrace([
      { dispatches: 4, submits: 1, buffersCreated: 2, pipelinesCreated: 1, encodeMs: 2, wallMs: 10, gpu: [{ kernel: 'a.x', calls: 2, ms: 4 }] },
      { dispatches: 6, submits: 3, buffersCreated: 0, pipelinesCreated: 0, encodeMs: 4, wallMs: 20, gpu: [{ kernel: 'a.x', calls: 2, ms: 2 }, { kernel: 'b', calls: 1, ms: 6 }] },
    ]);
    expect(m).toEqual({
      dispatches: 5,
      submits: 2,
      buffersCreated: 1,
      pipelinesCreated: 0.5,
      encodeMs: 3,
      wallMs: 15,
      gpu: [
        { kernel: 'a.x', calls: 2, ms: 3 },
        { kernel: 'b', calls: 0.5, ms: 3 },
      ],
    });
    expect(meanTrace([{ dispatches: 1, submits: 1, buffersCreated: 0, pipelinesCreated: 0, encodeMs: 1, wallMs: 1, gpu: null }]).gpu).toBeNull();
  });
});
