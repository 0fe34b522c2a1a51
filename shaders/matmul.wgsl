// Batched C[z] = op(A[z]) * op(B[z]), vec4 path: every row of A, B and C that is read
// or written as vec4 has a length that is a multiple of 4 (checked on the TS side);
// tile edges (M, N, K not multiples of the tile) are bounds-checked per vec4.
//
// Each workgroup computes a TM x TN tile of C (TM = WG_Y*RM, TN = WG_X*4*CN), stepping
// through K in slices of TK that are staged in workgroup memory k-major, so the inner
// product reads one vec4 of A (4 rows) and CN vec4s of B per k and does RM*CN vec4 FMAs.
// A thread owns RM consecutive rows (its A reads are broadcasts) and CN vec4 columns
// spaced WG_X apart (neighbouring threads read neighbouring B vec4s and write
// neighbouring C vec4s, which coalesces the global store).

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override RM: u32 = 4u;      // rows per thread, a multiple of 4 (at most 8)
override CN: u32 = 1u;      // vec4 columns per thread (at most 2)
override TK: u32 = 16u;
override TRANS_A: bool = false;   // A stored [K, M] instead of [M, K]
override TRANS_B: bool = false;   // B stored [N, K] instead of [K, N]

override TM4: u32 = WG_Y * RM / 4u;   // tile height in vec4s
override TN4: u32 = WG_X * CN;        // tile width in vec4s
override A_TILE: u32 = TK * TM4;
override B_TILE: u32 = TK * TN4;

struct Dims {
  M: u32, N: u32, K: u32,
  strideA: u32, strideB: u32, strideC: u32,   // batch strides in vec4s (0 broadcasts)
}

@group(0) @binding(0) var<storage, read> A: array<vec4f>;
@group(0) @binding(1) var<storage, read> B: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4f>;
@group(0) @binding(3) var<uniform> d: Dims;

var<workgroup> As: array<vec4f, A_TILE>;   // As[k * TM4 + m / 4][m % 4]
var<workgroup> Bs: array<vec4f, B_TILE>;   // Bs[k * TN4 + n / 4][n % 4]

const MAX_R4 = 2u;    // RM / 4 <= 2
const MAX_CN = 2u;

fn loadTiles(tid: u32, nThreads: u32, z: u32, m0: u32, n0: u32, k0: u32) {
  let K4 = d.K / 4u;
  if (TRANS_A) {
    // A is [K, M]: rows of the tile are k, contiguous along m.
    let M4 = d.M / 4u;
    let base = z * d.strideA;
    for (var i = tid; i < A_TILE; i += nThreads) {
      let kk = i / TM4;
      let mq = i % TM4;
      let k = k0 + kk;
      let mv = m0 / 4u + mq;
      var v = vec4f(0.0);
      if (k < d.K && mv < M4) { v = A[base + k * M4 + mv]; }
      As[i] = v;
    }
  } else {
    // A is [M, K]: a vec4 holds 4 consecutive k of one row; transpose into As.
    let TK4 = TK / 4u;
    let base = z * d.strideA;
    for (var i = tid; i < A_TILE; i += nThreads) {
      let row = i / TK4;
      let kq = i % TK4;
      let m = m0 + row;
      let kv = k0 / 4u + kq;
      var v = vec4f(0.0);
      if (m < d.M && kv < K4) { v = A[base + m * K4 + kv]; }
      let dst = kq * 4u * TM4 + row / 4u;
      let c = row % 4u;
      As[dst][c] = v.x;
      As[dst + TM4][c] = v.y;
      As[dst + 2u * TM4][c] = v.z;
      As[dst + 3u * TM4][c] = v.w;
    }
  }
  if (TRANS_B) {
    // B is [N, K]: a vec4 holds 4 consecutive k of one column of op(B).
    let TK4 = TK / 4u;
    let base = z * d.strideB;
    for (var i = tid; i < B_TILE; i += nThreads) {
      let col = i / TK4;
      let kq = i % TK4;
      let n = n0 + col;
      let kv = k0 / 4u + kq;
      var v = vec4f(0.0);
      if (n < d.N && kv < K4) { v = B[base + n * K4 + kv]; }
      let dst = kq * 4u * TN4 + col / 4u;
      let c = col % 4u;
      Bs[dst][c] = v.x;
      Bs[dst + TN4][c] = v.y;
      Bs[dst + 2u * TN4][c] = v.z;
      Bs[dst + 3u * TN4][c] = v.w;
    }
  } else {
    let N4 = d.N / 4u;
    let base = z * d.strideB;
    for (var i = tid; i < B_TILE; i += nThreads) {
      let kk = i / TN4;
      let nq = i % TN4;
      let k = k0 + kk;
      let nv = n0 / 4u + nq;
      var v = vec4f(0.0);
      if (k < d.K && nv < N4) { v = B[base + k * N4 + nv]; }
      Bs[i] = v;
    }
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

  let N4 = d.N / 4u;
  let base = z * d.strideC;
  for (var r = 0u; r < RM; r++) {
    let m = m0 + lid.y * RM + r;
    if (m >= d.M) { break; }
    for (var c = 0u; c < CN; c++) {
      let nv = n0 / 4u + lid.x + c * WG_X;
      if (nv < N4) { C[base + m * N4 + nv] = acc[r][c]; }
    }
  }
}
