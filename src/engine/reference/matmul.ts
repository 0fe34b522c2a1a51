/**
 * Float64 reference for batched matmul with transposes (the contract of ops/matmul.ts):
 * a [batchA..., M, K] or its transpose, b likewise; a 2-D operand is shared by the batch.
 */
export interface RefMatmulShapes {
  aShape: readonly number[];
  bShape: readonly number[];
  transA?: boolean;
  transB?: boolean;
}

export function refMatmul(a: ArrayLike<number>, b: ArrayLike<number>, s: RefMatmulShapes): { out: Float64Array; shape: number[] } {
  const { aShape, bShape } = s;
  const ra = aShape.length;
  const rb = bShape.length;
  const M = s.transA ? aShape[ra - 1] : aShape[ra - 2];
  const K = s.transA ? aShape[ra - 2] : aShape[ra - 1];
  const N = s.transB ? bShape[rb - 2] : bShape[rb - 1];
  const batchDims = ra > 2 ? aShape.slice(0, -2) : bShape.slice(0, -2);
  const batch = batchDims.reduce((x, y) => x * y, 1);
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const oa = ra > 2 ? z * M * K : 0;
    const ob = rb > 2 ? z * K * N : 0;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = s.transA ? a[oa + k * M + m] : a[oa + m * K + k];
          const bv = s.transB ? b[ob + n * K + k] : b[ob + k * N + n];
          acc += av * bv;
        }
        out[z * M * N + m * N + n] = acc;
      }
    }
  }
  return { out, shape: [...batchDims, M, N] };
}
