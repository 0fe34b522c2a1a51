// Batched C[z] = op(A[z]) * op(B[z]) for any sizes: the same tiling as matmul.wgsl
// (see there), but global memory is read and written one f32 at a time with
// per-element bounds checks, for rows whose length is not a multiple of 4.

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override RM: u32 = 4u;
override CN: u32 = 1u;
override TK: u32 = 16u;
override TRANS_A: bool = false;
override TRANS_B: bool = false;

override TM4: u32 = WG_Y * RM / 4u;
override TN4: u32 = WG_X * CN;
override A_TILE: u32 = TK * TM4;
override B_TILE: u32 = TK * TN4;

struct Dims {
  M: u32, N: u32, K: u32,
  strideA: u32, strideB: u32, strideC: u32,   // batch strides in elements (0 broadcasts)
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> d: Dims;

var<workgroup> As: array<vec4f, A_TILE>;
var<workgroup> Bs: array<vec4f, B_TILE>;

const MAX_R4 = 2u;
const MAX_CN = 2u;

fn loadTiles(tid: u32, nThreads: u32, z: u32, m0: u32, n0: u32, k0: u32) {
  let TM = TM4 * 4u;
  let TN = TN4 * 4u;
  let baseA = z * d.strideA;
  for (var i = tid; i < A_TILE * 4u; i += nThreads) {
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
    As[kk * TM4 + m / 4u][m % 4u] = v;
  }
  let baseB = z * d.strideB;
  for (var i = tid; i < B_TILE * 4u; i += nThreads) {
    var n: u32;
    var kk: u32;
    if (TRANS_B) { n = i / TK; kk = i % TK; } else { kk = i / TN; n = i % TN; }
    let gn = n0 + n;
    let gk = k0 + kk;
    var v = 0.0;
    if (gn < d.N && gk < d.K) {
      if (TRANS_B) { v = B[baseB + gn * d.K + gk]; } else { v = B[baseB + gk * d.N + gn]; }
    }
    Bs[kk * TN4 + n / 4u][n % 4u] = v;
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tid = lid.y * WG_X + lid.x;
  let nThreads = WG_X * WG_Y;
  let z = wid.z;
  let m0 = wid.y * TM4 * 4u;
  let n0 = wid.x * TN4 * 4u;
  let R4 = RM / 4u;

  var acc: array<array<vec4f, MAX_CN>, 4u * MAX_R4>;
  for (var r = 0u; r < RM; r++) {
    for (var c = 0u; c < CN; c++) { acc[r][c] = vec4f(0.0); }
  }

  for (var k0 = 0u; k0 < d.K; k0 += TK) {
    loadTiles(tid, nThreads, z, m0, n0, k0);
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      var a: array<vec4f, MAX_R4>;
      var b: array<vec4f, MAX_CN>;
      for (var r4 = 0u; r4 < R4; r4++) { a[r4] = As[k * TM4 + lid.y * R4 + r4]; }
      for (var c = 0u; c < CN; c++) { b[c] = Bs[k * TN4 + lid.x + c * WG_X]; }
      for (var r4 = 0u; r4 < R4; r4++) {
        for (var c = 0u; c < CN; c++) {
          acc[r4 * 4u][c] = fma(vec4f(a[r4].x), b[c], acc[r4 * 4u][c]);
          acc[r4 * 4u + 1u][c] = fma(vec4f(a[r4].y), b[c], acc[r4 * 4u + 1u][c]);
          acc[r4 * 4u + 2u][c] = fma(vec4f(a[r4].z), b[c], acc[r4 * 4u + 2u][c]);
          acc[r4 * 4u + 3u][c] = fma(vec4f(a[r4].w), b[c], acc[r4 * 4u + 3u][c]);
        }
      }
    }
    workgroupBarrier();
  }

  let base = z * d.strideC;
  for (var r = 0u; r < RM; r++) {
    let m = m0 + lid.y * RM + r;
    if (m >= d.M) { break; }
    for (var c = 0u; c < CN; c++) {
      let n = n0 + (lid.x + c * WG_X) * 4u;
      let v = acc[r][c];
      let o = base + m * d.N + n;
      if (n < d.N) { C[o] = v.x; }
      if (n + 1u < d.N) { C[o + 1u] = v.y; }
      if (n + 2u < d.N) { C[o + 2u] = v.z; }
      if (n + 3u < d.N) { C[o + 3u] = v.w; }
    }
  }
}
