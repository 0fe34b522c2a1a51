import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DeviceLostError, Runtime } from '../../../src/engine/runtime';
import { Scope, Tensor, fromArray, parameter, tidy } from '../../../src/engine/tensor';
import { backward, record } from '../../../src/engine/autograd';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

const DOUBLE_WGSL = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
override SCALE: f32 = 2.0;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) { if (id.x < arrayLength(&a)) { o[id.x] = SCALE * a[id.x]; } }`;

function scaled(x: Tensor, s: number): Tensor {
  const out = new Tensor(x.rt, x.shape, 'f32');
  x.rt.dispatch({ kernel: 'test.scale', code: DOUBLE_WGSL, constants: { SCALE: s }, buffers: [x.buffer, out.buffer], workgroups: [Math.ceil(x.size / 64)] });
  return record('scale', out, [x], (g) => [scaled(g, s)]);
}

describe('runtime', () => {
  test('dispatch, specialization constants and readback', async () => {
    const x = fromArray(rt, [1, 2, 3, 4], [4]);
    const y = scaled(x, 3);
    expect(Array.from(await y.read())).toEqual([3, 6, 9, 12]);
    x.dispose();
    y.dispose();
  });

  test('released buffers are reused only after submit, and the pool does not grow across steps', async () => {
    const p = parameter(rt, [1, 1, 1, 1], [4]);
    const step = () =>
      tidy(() => {
        let h = p;
        for (let i = 0; i < 5; i++) h = scaled(h, 1.5);
        backward(h.reshape([4]), fromArray(rt, [1, 1, 1, 1], [4]));
      });
    step();
    await rt.sync();
    const live = rt.liveBytes;
    for (let i = 0; i < 3; i++) step();
    await rt.sync();
    expect(rt.liveBytes).toBe(live);
    const g = await p.grad!.read();
    expect(g[0]).toBeCloseTo(4 * Math.pow(1.5, 5), 3);
  });

  test('gradients of a tensor used twice accumulate', async () => {
    const scope = new Scope();
    await scope.run(async () => {
      const p = parameter(rt, [2], [1]);
      const a = scaled(p, 3);
      const b = scaled(p, 5);
      const sum = new Tensor(rt, [1], 'f32');
      // sum = a + b with a hand-written backward that hands the same gradient to both inputs
      rt.copy(a.buffer, 0, sum.buffer, 0, 4);
      const s = record('add', sum, [a, b], (g) => [g, g]);
      backward(s);
      expect((await p.grad!.read())[0]).toBeCloseTo(8, 5);
      p.grad!.dispose();
      p.dispose();
    });
    scope.dispose();
  });

  for (const n of [5, 8]) {
    test(`gradient sums and leaf accumulation over ${n} elements (${n % 4 ? 'scalar' : 'vec4'} kernels)`, async () => {
      const g = Array.from({ length: n }, (_, i) => i - 2);
      const p = parameter(rt, new Array(n).fill(1), [n]);
      for (let pass = 0; pass < 2; pass++) {
        tidy(() => {
          // p feeds two nodes (their gradients are summed), and the second pass adds to p.grad.
          const y = scaled(p, 3);
          const z = scaled(p, 5);
          const s = new Tensor(rt, [n], 'f32');
          rt.copy(y.buffer, 0, s.buffer, 0, 4 * n);
          backward(record('pair', s, [y, z], (gg) => [gg, gg]), fromArray(rt, g, [n]));
        });
      }
      expect(Array.from(await p.grad!.read())).toEqual(g.map((v) => 16 * v));
      p.grad!.dispose();
      p.dispose();
    });
  }

  test('profiling reports per-kernel GPU time', async () => {
    if (!rt.hasTimestamps) return;
    rt.startProfiling();
    const x = fromArray(rt, new Float32Array(1000), [1000]);
    scaled(scaled(x, 2), 2);
    const prof = await rt.stopProfiling();
    expect(prof.find((p) => p.kernel === 'test.scale')?.calls).toBe(2);
  });
});

describe('scopes', () => {
  test('tidy keeps a returned reshape view alive (its owner is kept with it)', async () => {
    const v = tidy(() => fromArray(rt, [1, 2, 3, 4], [4]).reshape([2, 2]));
    expect(v.isDisposed).toBe(false);
    expect(Array.from(await v.read())).toEqual([1, 2, 3, 4]);
    v.owner.dispose();
  });
});

describe('command batching and device loss', () => {
  test('many dispatches go out in one command buffer', async () => {
    const x = fromArray(rt, [1, 2, 3], [3]);
    await rt.sync();
    const before = rt.submitCount;
    let y = x;
    for (let i = 0; i < 20; i++) y = scaled(y, 1);
    await y.read();
    expect(rt.submitCount - before).toBe(1);
  });

  test('a lost device gives a clear DeviceLostError instead of silent garbage', async () => {
    const own = await Runtime.create();
    own.device.destroy();
    await own.device.lost;
    expect(() => fromArray(own, [1], [1])).toThrow(DeviceLostError);
    expect(() => fromArray(own, [1], [1])).toThrow(/device was lost.*restart the run from the last checkpoint/);
  });
});
