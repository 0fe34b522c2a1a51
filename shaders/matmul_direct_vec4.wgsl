// Batched C[z] = op(A[z]) * op(B[z]) for software adapters, like matmul_direct.wgsl (no
// workgroup memory, no barriers) but reading and writing vec4s, for shapes where every
// row read or written as vec4 is a multiple of 4 long (ops/matmul.ts checks; other
// shapes use matmul_direct.wgsl). TRANS_A and TRANS_B both set is not supported.
//
// On SwiftShader a load at a run-time index is a per-lane gather, and those dominate the
// cost, so what matters is loads per multiply-add. A thread owns an 8 x 16 block of C
// (ROWS rows, COLS vec4 columns) and per four steps of k loads 8 + 16 vec4s for 512
// multiply-adds, against 48 scalar loads for 128 in matmul_direct.wgsl's 4 x 8 block.
// Measured on SwiftShader at training shapes ([736, 64] x [64, 256] and the transposed
// products of the backward pass; CPU time, paired with the scalar kernel): 0.55-0.69 of
// its cost in all three layouts; 4 x 8 vec4 blocks gained only 0.8-1.0, 16 x 16 gained
// more on NN/NT but lost on TN (too few threads when M is 64) and compiles 2x slower.
//
// Layouts (vec4 along the contiguous dimension):
//   NN: A [M, K] as vec4 along k, B [K, N] along n: acc += a.x * B[k] + ... + a.w * B[k+3]
//   NT: A [M, K] and B [N, K] both along k: acc = (dot(a, b_n0), ..., dot(a, b_n3))
//   TN: A [K, M] along m (a thread's 8 rows are two vec4s), B [K, N] along n, one k per
//       step, so K needs no multiple of 4.
// Rows and columns past the end read a clamped, valid address; their stores are dropped.
//
// Template (ops/unroll.ts): lines with `$c` repeat per vec4 column (COLS), `$r` per row
// (ROWS), `$a` per vec4 of rows (ROWS / 4); accumulators are named registers because a
// private array indexed by a loop variable is per-lane memory on SwiftShader.

const ROWS: u32 = 8u;
const COLS: u32 = 4u;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
// EPI (the epilogue, what is added to the product as it is stored; it saves the separate
// elementwise pass a residual or a bias would cost): 0 nothing, 1 R has C's layout (a
// residual), 2 R is one row of N broadcast over the rows (a bias). R is always bound (to a
// dummy when EPI is 0) because the layout is derived from the code, not the constant.
override EPI: u32 = 0u;

struct Dims {
  M: u32, N: u32, K: u32,
  strideA: u32, strideB: u32, strideC: u32,   // batch strides in vec4s (0 broadcasts)
}

@group(0) @binding(0) var<storage, read> A: array<vec4f>;
@group(0) @binding(1) var<storage, read> B: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4f>;
@group(0) @binding(3) var<storage, read> R: array<vec4f>;
@group(0) @binding(4) var<uniform> d: Dims;

// The stored value of C's vec4 `i`, in vec4 column `nv`.
fn epi(i: u32, nv: u32, v: vec4f) -> vec4f {
  if (EPI == 1u) { return v + R[i]; }
  if (EPI == 2u) { return v + R[nv]; }
  return v;
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let z = wid.z;
  let N4 = d.N / 4u;
  let n4 = (wid.x * WG_X + lid.x) * COLS;
  let m = (wid.y * WG_Y + lid.y) * ROWS;
  if (m >= d.M || n4 >= N4) { return; }
  let nc$c = min(n4 + $cu, N4 - 1u);
  let baseA = z * d.strideA;
  let baseB = z * d.strideB;
  var acc$r_$c = vec4f(0.0);
  if (TRANS_A) {
    let M4 = d.M / 4u;
    let mq$a = min(m / 4u + $au, M4 - 1u);
    for (var k = 0u; k < d.K; k++) {
      let at$a = A[baseA + k * M4 + mq$a];
      let b$c = B[baseB + k * N4 + nc$c];
      acc$r_$c += at$r/4[$r%4] * b$c;
    }
  } else {
    let K4 = d.K / 4u;
    let mr$r = min(m + $ru, d.M - 1u);
    for (var k4 = 0u; k4 < K4; k4++) {
      let a$r = A[baseA + mr$r * K4 + k4];
      if (TRANS_B) {
        let bt0_$c = B[baseB + (4u * nc$c) * K4 + k4];
        let bt1_$c = B[baseB + (4u * nc$c + 1u) * K4 + k4];
        let bt2_$c = B[baseB + (4u * nc$c + 2u) * K4 + k4];
        let bt3_$c = B[baseB + (4u * nc$c + 3u) * K4 + k4];
        acc$r_$c += vec4f(dot(a$r, bt0_$c), dot(a$r, bt1_$c), dot(a$r, bt2_$c), dot(a$r, bt3_$c));
      } else {
        let rb = baseB + k4 * 4u * N4;
        let b0_$c = B[rb + nc$c];
        let b1_$c = B[rb + N4 + nc$c];
        let b2_$c = B[rb + 2u * N4 + nc$c];
        let b3_$c = B[rb + 3u * N4 + nc$c];
        acc$r_$c += a$r.x * b0_$c + a$r.y * b1_$c + a$r.z * b2_$c + a$r.w * b3_$c;
      }
    }
  }
  let base = z * d.strideC;
  if (m + $ru < d.M && n4 + $cu < N4) { let i$r_$c = base + (m + $ru) * N4 + n4 + $cu; C[i$r_$c] = epi(i$r_$c, n4 + $cu, acc$r_$c); }
}
