/**
 * Engine kernel self-test inside the browser's GPU worker: a representative subset of
 * the Node kernel tests (matmul with odd sizes, batched transposed matmul, softmax,
 * block-sparse role-aware attention) on seeded random inputs, each compared with the
 * engine's float64 reference. It answers "do the kernels compute the right thing on
 * this browser's WebGPU implementation", which the Node tests on Dawn cannot.
 */
import { buildBlockMap, uploadBlockMap } from '../../src/engine/blockmap.ts';
import { attentionForward } from '../../src/engine/ops/attention.ts';
import { matmul } from '../../src/engine/ops/matmul.ts';
import { softmax } from '../../src/engine/ops/reduce.ts';
import { Rng } from '../../src/engine/random.ts';
import { attentionForwardRef } from '../../src/engine/reference/attention.ts';
import { refMatmul } from '../../src/engine/reference/matmul.ts';
import { refSoftmax } from '../../src/engine/reference/reduce.ts';
import { fromArray, Scope, type Tensor } from '../../src/engine/tensor.ts';
import type { JobParams, JsonValue } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { runtime } from './gpu.ts';

export interface CaseResult {
  name: string;
  maxAbsErr: number;
  tol: number;
  pass: boolean;
}

/** Largest |gpu - ref| relative to max(1, |ref|), so the tolerance is scale-free. */
export function maxError(gpu: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (gpu.length !== ref.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < gpu.length; i++) {
    const e = Math.abs(gpu[i] - ref[i]) / Math.max(1, Math.abs(ref[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

export async function selftestJob(p: JobParams['selftest'], ctx: JobContext): Promise<JsonValue> {
  const rt = await runtime();
  const rng = new Rng(p.seed);
  const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

  const cases: { name: string; tol: number; run: () => Promise<{ gpu: ArrayLike<number>; ref: ArrayLike<number> }> }[] = [
    {
      name: 'matmul [37,29] x [29,41]',
      tol: 1e-4,
      run: async () => {
        const a = randn(37 * 29);
        const b = randn(29 * 41);
        const out = matmul(fromArray(rt, a, [37, 29]), fromArray(rt, b, [29, 41]));
        return { gpu: await out.toFloat32(), ref: refMatmul(a, b, { aShape: [37, 29], bShape: [29, 41] }).out };
      },
    },
    {
      name: 'batched matmul [3,16,24] x [20,24]^T',
      tol: 1e-4,
      run: async () => {
        const a = randn(3 * 16 * 24);
        const b = randn(20 * 24);
        const out = matmul(fromArray(rt, a, [3, 16, 24]), fromArray(rt, b, [20, 24]), { transB: true });
        return { gpu: await out.toFloat32(), ref: refMatmul(a, b, { aShape: [3, 16, 24], bShape: [20, 24], transB: true }).out };
      },
    },
    {
      name: 'softmax [13,67]',
      tol: 1e-5,
      run: async () => {
        const x = randn(13 * 67).map((v) => 4 * v);
        return { gpu: await softmax(fromArray(rt, x, [13, 67])).toFloat32(), ref: refSoftmax(x, 67) };
      },
    },
    ...([32, 64] as const).map((tile) => ({
      name: `role-aware attention, 2 docs x 75 tokens, 2 heads x 32, tile ${tile}`,
      tol: 1e-4,
      run: async () => {
        // Two packed PRTS documents: vision+state, instruction, AR action, CRL action, CRL goal.
        const runs = [30, 10, 12, 11, 12];
        const doc: number[] = [];
        const role: number[] = [];
        for (let d = 0; d < 2; d++) runs.forEach((len, r) => { for (let i = 0; i < len; i++) { doc.push(d); role.push(r); } });
        const n = doc.length;
        const [H, D] = [2, 32];
        const q = randn(n * H * D);
        const k = randn(n * H * D);
        const v = randn(n * H * D);
        const map = uploadBlockMap(rt, buildBlockMap(doc, role, { tile }));
        try {
          const { o } = attentionForward(fromArray(rt, q, [n, H, D]), fromArray(rt, k, [n, H, D]), fromArray(rt, v, [n, H, D]), map);
          return { gpu: await o.toFloat32(), ref: attentionForwardRef({ q, k, v, doc, role, heads: H }).o };
        } finally {
          map.release();
        }
      },
    })),
  ];

  const results: CaseResult[] = [];
  for (let i = 0; i < cases.length; i++) {
    await ctx.checkpoint();
    const c = cases[i];
    const scope = new Scope();
    let r: { gpu: ArrayLike<number>; ref: ArrayLike<number> };
    try {
      // Tensors made while the scope is current are freed after the comparison.
      const pending = scope.run(() => c.run());
      r = await pending;
    } finally {
      scope.dispose([] as Tensor[]);
    }
    const err = maxError(r.gpu, r.ref);
    const res = { name: c.name, maxAbsErr: err, tol: c.tol, pass: err <= c.tol };
    results.push(res);
    ctx.log(`${res.pass ? 'PASS' : 'FAIL'}  ${c.name}: max error ${err.toExponential(2)} (tolerance ${c.tol})`);
    ctx.progress({ step: i + 1, total: cases.length, losses: { maxErr: err } });
  }
  const failed = results.filter((r) => !r.pass);
  if (failed.length) throw new Error(`${failed.length} of ${results.length} kernels disagree with the reference: ${failed.map((f) => f.name).join('; ')}`);
  return { passed: results.length, results: results as unknown as JsonValue };
}
