/**
 * Matmul throughput of the engine against @tensorflow/tfjs-backend-webgpu on the same
 * WebGPU adapter, in one process and one run, so the ratio is meaningful even on a
 * shared or software (SwiftShader) device. Shapes: square products and the transformer
 * shapes of a training step (projections forward, and the transposed products of their
 * backward). Each implementation is timed for several rounds, interleaved with the
 * other, each round being `iters` products followed by a small reduction read back
 * (the same completion wait for both); the best round counts, as the least disturbed
 * by other processes. Human-readable lines first, then exactly one JSON line.
 *
 *   node scripts/run.mjs bench/matmul.ts [--quick]
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineCli } from '../src/cli/args';
import { autotuneMatmul } from '../src/engine/autotune';
import { Runtime } from '../src/engine/runtime';
import { Tensor, fromArray } from '../src/engine/tensor';
import { matmul } from '../src/engine/ops/matmul';
import { sum } from '../src/engine/ops/reduce';
import { Rng } from '../src/engine/random';

interface Shape {
  name: string;
  /** Stored operand shapes (already transposed where trans* is set). */
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
}

const { quick } = defineCli({
  name: 'bench:matmul',
  command: 'npm run bench:matmul --',
  description: "Matmul throughput of the engine against tfjs-backend-webgpu on the same adapter; ends with one JSON line.",
  options: { quick: { type: 'boolean', help: 'fewer shapes and rounds' } },
}).parse();
const rt = await Runtime.create();
const software = rt.info.software;
// The adapter's tuned tiles (cached per adapter; skipped on software adapters, which run
// the direct kernels), as every CLI opens its device.
const tune = await autotuneMatmul(rt, { retune: process.env.PRTS_AUTOTUNE === 'retune' });
console.error(`matmul tiles: ${tune.source} (large ${JSON.stringify(tune.tiles.large)}, small ${JSON.stringify(tune.tiles.small)})`);

// tfjs-webgpu looks for navigator.gpu when its module is evaluated, so it is imported
// only after Dawn's GPU object is installed there.
const webgpuPkg = 'webgpu';
const dawn = (await import(/* @vite-ignore */ webgpuPkg)) as { create: (o: string[]) => GPU; globals: object };
Object.assign(globalThis, dawn.globals);
Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]), userAgent: 'node' }, configurable: true });
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not initialise its webgpu backend on this adapter');
await tf.ready();

const T = 1024;
const SHAPES: Shape[] = [
  { name: 'square 256', a: [256, 256], b: [256, 256] },
  { name: 'square 512', a: [512, 512], b: [512, 512] },
  { name: 'square 1024', a: [1024, 1024], b: [1024, 1024] },
  ...(software ? [] : [{ name: 'square 2048', a: [2048, 2048], b: [2048, 2048] }]),
  // Forward projections x W with x [T, d]: d 256 -> 1024 (MLP up), 1024 -> 256 (down).
  { name: `[${T},256]x[256,1024]`, a: [T, 256], b: [256, 1024] },
  { name: `[${T},1024]x[1024,256]`, a: [T, 1024], b: [1024, 256] },
  // Backward of the up projection: dX = dY W^T and dW = X^T dY.
  { name: `[${T},1024]x[256,1024]^T (dX)`, a: [T, 1024], b: [256, 1024], transB: true },
  { name: `[${T},256]^T x[${T},1024] (dW)`, a: [T, 256], b: [T, 1024], transA: true },
  // Attention-like batched scores: 8 heads, Q K^T with head dim 64.
  { name: '[8,256,64]x[8,256,64]^T (QK^T)', a: [8, 256, 64], b: [8, 256, 64], transB: true },
];
const skipped: Record<string, string> = software
  ? {
      'square 2048':
        'software adapter (SwiftShader on a shared CPU): 17 GFLOP per product is minutes per measurement at well under 1 GFLOP/s',
    }
  : {};

function flops(s: Shape): number {
  const ra = s.a.length;
  const M = s.transA ? s.a[ra - 1] : s.a[ra - 2];
  const K = s.transA ? s.a[ra - 2] : s.a[ra - 1];
  const N = s.transB ? s.b[s.b.length - 2] : s.b[s.b.length - 1];
  const batch = s.a.slice(0, -2).reduce((x, y) => x * y, 1);
  return 2 * batch * M * N * K;
}

async function timeOurs(a: Tensor, b: Tensor, s: Shape, iters: number): Promise<number> {
  const t0 = performance.now();
  let last: Tensor | null = null;
  for (let i = 0; i < iters; i++) {
    last?.dispose();
    last = matmul(a, b, s);
  }
  const r = sum(last!);
  await r.item();
  r.dispose();
  last!.dispose();
  return (performance.now() - t0) / iters;
}

async function timeTfjs(a: tf.Tensor, b: tf.Tensor, s: Shape, iters: number): Promise<number> {
  const t0 = performance.now();
  let last: tf.Tensor | null = null;
  for (let i = 0; i < iters; i++) {
    last?.dispose();
    last = tf.matMul(a, b, !!s.transA, !!s.transB);
  }
  const r = tf.sum(last!);
  await r.data();
  r.dispose();
  last!.dispose();
  return (performance.now() - t0) / iters;
}

const rounds = quick ? 2 : 3;
const targetMs = software ? 300 : 200;
const gflops: Record<string, number> = {};
const gflopsTfjs: Record<string, number> = {};
const ratio: Record<string, number> = {};
const maxAbsDiff: Record<string, number> = {};
const rng = new Rng(1);
const shapes = quick ? SHAPES.filter((s) => !s.name.startsWith('square 1024')) : SHAPES;

for (const s of shapes) {
  const na = s.a.reduce((x, y) => x * y, 1);
  const nb = s.b.reduce((x, y) => x * y, 1);
  const av = new Float32Array(na).map(() => rng.uniform(-1, 1));
  const bv = new Float32Array(nb).map(() => rng.uniform(-1, 1));
  const a = fromArray(rt, av, s.a);
  const b = fromArray(rt, bv, s.b);
  const ta = tf.tensor(av, s.a);
  const tb = tf.tensor(bv, s.b);

  // Same inputs, same product: check agreement before timing anything.
  const mine = (await matmul(a, b, s).read()) as Float32Array;
  const theirs = tf.matMul(ta, tb, !!s.transA, !!s.transB);
  const ref = (await theirs.data()) as Float32Array;
  theirs.dispose();
  let diff = 0;
  for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(mine[i] - ref[i]));
  maxAbsDiff[s.name] = diff;

  // Warm-up (pipeline compilation) doubles as the estimate for the iteration count.
  const est = Math.max(await timeOurs(a, b, s, 1), await timeTfjs(ta, tb, s, 1));
  const iters = Math.max(1, Math.min(50, Math.round(targetMs / est)));
  let best = Infinity;
  let bestTfjs = Infinity;
  for (let r = 0; r < rounds; r++) {
    best = Math.min(best, await timeOurs(a, b, s, iters));
    bestTfjs = Math.min(bestTfjs, await timeTfjs(ta, tb, s, iters));
  }
  const f = flops(s);
  gflops[s.name] = f / best / 1e6;
  gflopsTfjs[s.name] = f / bestTfjs / 1e6;
  ratio[s.name] = bestTfjs / best;
  console.log(
    `${s.name.padEnd(34)} ours ${gflops[s.name].toFixed(3).padStart(8)} GFLOP/s  tfjs ${gflopsTfjs[s.name]
      .toFixed(3)
      .padStart(8)} GFLOP/s  ratio ${ratio[s.name].toFixed(2)}  (${iters} iters x ${rounds} rounds, max |diff| ${diff.toExponential(1)})`,
  );
  a.dispose();
  b.dispose();
  ta.dispose();
  tb.dispose();
}

const values = Object.values(ratio);
const geomean = Math.exp(values.reduce((acc, r) => acc + Math.log(r), 0) / values.length);
for (const [name, why] of Object.entries(skipped)) console.log(`${name.padEnd(34)} skipped: ${why}`);
console.log(`geometric mean ratio vs tfjs-webgpu: ${geomean.toFixed(2)} (target >= 1.5)`);

const result = {
  bench: 'matmul',
  adapter: {
    vendor: rt.info.vendor,
    architecture: rt.info.architecture,
    device: rt.info.device,
    description: rt.info.description,
    software,
    features: rt.info.features,
  },
  method: `best of ${rounds} interleaved rounds; each round n products then a sum read back`,
  autotune: { source: tune.source, tiles: tune.tiles, ms: Number(tune.ms.toFixed(1)), variant_ms: tune.tuned?.ms ?? null },
  gflops,
  gflops_tfjs: gflopsTfjs,
  ratio_vs_tfjs: { ...ratio, geomean },
  max_abs_diff_vs_tfjs: maxAbsDiff,
  skipped,
};
rt.destroy();
console.log(JSON.stringify(result));
