// Batched C[z] = op(A[z]) * op(B[z]) for any sizes: the tiling of matmul.wgsl (a 4x4
// block of C per thread in four explicit vec4 registers, see there), but global memory
// is read and written one f32 at a time with per-element bounds checks, for rows whose
// length is not a multiple of 4. Both tiles are staged k-major (As[k][m], Bs[k][n]) so
// the inner loop is an outer product whatever the transposes.

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override TK: u32 = 16u;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
// EPI (the epilogue, what is added to the product as it is stored; it saves the separate
// elementwise pass a residual or a bias would cost): 0 nothing, 1 R has C's layout (a
// residual), 2 R is one row of N broadcast over the rows (a bias). R is always bound (to a
// dummy when EPI is 0) because the layout is derived from the code, not the constant.
override EPI: u32 = 0u;

override TM: u32 = 4u * WG_Y;
override TN: u32 = 4u * WG_X;
override A_TILE: u32 = TK * TM;
override B_TILE: u32 = TK * TN;

struct Dims {
  M: u32, N: u32, K: u32,
  strideA: u32, strideB: u32, strideC: u32,   // batch strides in elements (0 broadcasts)
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<storage, read> R: array<f32>;
@group(0) @binding(4) var<uniform> d: Dims;

// The stored value of C's element `i`, in column `n`.
fn epi(i: u32, n: u32, v: f32) -> f32 {
  if (EPI == 1u) { return v + R[i]; }
  if (EPI == 2u) { return v + R[n]; }
  return v;
}

var<workgroup> As: array<f32, A_TILE>;   // As[k * TM + m]
var<workgroup> Bs: array<f32, B_TILE>;   // Bs[k * TN + n]

fn loadTiles(tid: u32, nThreads: u32, z: u32, m0: u32, n0: u32, k0: u32) {
  let baseA = z * d.strideA;
  for (var i = tid; i < A_TILE; i += nThreads) {
    // Consecutive threads take consecutive addresses along the contiguous axis.
    var m: u32;
    var kk: u32;
    if (TRANS_A) { kk = i / TM; m = i % TM; } else { m = i / TK; kk = i % TK; }
    let gm = m0 + m;
    let gk = k0 + kk;
    var v = 0.0;
    if (gm < d.M && gk < d.K) {
      if (TRANS_A) { v = A[baseA + gk * d.M + gm]; } else { v = A[baseA + gm * d.K + gk]; }
    }
    As[kk * TM + m] = v;
  }
  let baseB = z * d.strideB;
  for (var i = tid; i < B_TILE; i += nThreads) {
    var n: u32;
    var kk: u32;
    if (TRANS_B) { n = i / TK; kk = i % TK; } else { kk = i / TN; n = i % TN; }
    let gn = n0 + n;
    let gk = k0 + kk;
    var v = 0.0;
    if (gn < d.N && gk < d.K) {
      if (TRANS_B) { v = B[baseB + gn * d.K + gk]; } else { v = B[baseB + gk * d.N + gn]; }
    }
    Bs[kk * TN + n] = v;
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tid = lid.y * WG_X + lid.x;
  let nThreads = WG_X * WG_Y;
  let z = wid.z;
  let m0 = wid.y * TM;
  let n0 = wid.x * TN;
  let r0 = lid.y * 4u;
  let c0 = lid.x * 4u;

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);

  for (var k0 = 0u; k0 < d.K; k0 += TK) {
    loadTiles(tid, nThreads, z, m0, n0, k0);
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let ai = k * TM + r0;
      let bi = k * TN + c0;
      let b = vec4f(Bs[bi], Bs[bi + 1u], Bs[bi + 2u], Bs[bi + 3u]);
      acc0 = fma(vec4f(As[ai]), b, acc0);
      acc1 = fma(vec4f(As[ai + 1u]), b, acc1);
      acc2 = fma(vec4f(As[ai + 2u]), b, acc2);
      acc3 = fma(vec4f(As[ai + 3u]), b, acc3);
    }
    workgroupBarrier();
  }

  let base = z * d.strideC;
  let n = n0 + c0;
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r0 + r;
    if (m >= d.M) { return; }
    var v: vec4f;
    switch r {
      case 0u: { v = acc0; }
      case 1u: { v = acc1; }
      case 2u: { v = acc2; }
      default: { v = acc3; }
    }
    let o = base + m * d.N + n;
    if (n < d.N) { C[o] = epi(o, n, v.x); }
    if (n + 1u < d.N) { C[o + 1u] = epi(o + 1u, n + 1u, v.y); }
    if (n + 2u < d.N) { C[o + 2u] = epi(o + 2u, n + 2u, v.z); }
    if (n + 3u < d.N) { C[o + 3u] = epi(o + 3u, n + 3u, v.w); }
  }
}
