// Batched C[z] = op(A[z]) * op(B[z]), vec4 path (rows read or written as vec4 have
// lengths that are multiples of 4; checked on the TS side). Tile edges are bounds-checked.
//
// A workgroup of WG_X x WG_Y threads computes a (4 WG_Y) x (4 WG_X) tile of C; each thread
// owns a 4x4 block held in four vec4 registers written out explicitly: indexing a
// register array with a loop variable makes compilers (SwiftShader's in particular)
// keep it in memory. K advances in slices of TK staged in workgroup memory in the
// layout each operand arrives in, so tiles are copied with plain vec4 loads and stores:
//   A untransposed: As[m][k/4]   A transposed: As[k][m/4]
//   B untransposed: Bs[k][n/4]   B transposed: Bs[n][k/4]
// and the inner product has one form per combination (TRANS_A, TRANS_B are
// specialisation constants, so each pipeline contains only its own branch).

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
override TK4: u32 = TK / 4u;
override A_TILE: u32 = TM * TK4;   // vec4s
override B_TILE: u32 = TN * TK4;

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

var<workgroup> As: array<vec4f, A_TILE>;
var<workgroup> Bs: array<vec4f, B_TILE>;

fn loadTiles(tid: u32, nThreads: u32, z: u32, m0: u32, n0: u32, k0: u32) {
  let K4 = d.K / 4u;
  let baseA = z * d.strideA;
  for (var i = tid; i < A_TILE; i += nThreads) {
    var v = vec4f(0.0);
    if (TRANS_A) {
      let M4 = d.M / 4u;
      let TM4 = TM / 4u;
      let k = k0 + i / TM4;
      let mv = m0 / 4u + i % TM4;
      if (k < d.K && mv < M4) { v = A[baseA + k * M4 + mv]; }
    } else {
      let m = m0 + i / TK4;
      let kv = k0 / 4u + i % TK4;
      if (m < d.M && kv < K4) { v = A[baseA + m * K4 + kv]; }
    }
    As[i] = v;
  }
  let baseB = z * d.strideB;
  for (var i = tid; i < B_TILE; i += nThreads) {
    var v = vec4f(0.0);
    if (TRANS_B) {
      let n = n0 + i / TK4;
      let kv = k0 / 4u + i % TK4;
      if (n < d.N && kv < K4) { v = B[baseB + n * K4 + kv]; }
    } else {
      let N4 = d.N / 4u;
      let TN4 = TN / 4u;
      let k = k0 + i / TN4;
      let nv = n0 / 4u + i % TN4;
      if (k < d.K && nv < N4) { v = B[baseB + k * N4 + nv]; }
    }
    Bs[i] = v;
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tid = lid.y * WG_X + lid.x;
  let nThreads = WG_X * WG_Y;
  let z = wid.z;
  let m0 = wid.y * TM;
  let n0 = wid.x * TN;
  let TM4 = TM / 4u;
  let TN4 = TN / 4u;
  let r0 = lid.y * 4u;    // first of this thread's 4 rows within the tile
  let c4 = lid.x;         // this thread's vec4 column within the tile

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);

  for (var k0 = 0u; k0 < d.K; k0 += TK) {
    loadTiles(tid, nThreads, z, m0, n0, k0);
    workgroupBarrier();
    if (TRANS_A && !TRANS_B) {
      // a = 4 rows at one k, b = 4 columns at the same k: an outer product.
      for (var k = 0u; k < TK; k++) {
        let a = As[k * TM4 + lid.y];
        let b = Bs[k * TN4 + c4];
        acc0 = fma(vec4f(a.x), b, acc0);
        acc1 = fma(vec4f(a.y), b, acc1);
        acc2 = fma(vec4f(a.z), b, acc2);
        acc3 = fma(vec4f(a.w), b, acc3);
      }
    } else {
      for (var kq = 0u; kq < TK4; kq++) {
        // Four rows of A, each a vec4 over 4 consecutive k.
        var a0: vec4f;
        var a1: vec4f;
        var a2: vec4f;
        var a3: vec4f;
        if (TRANS_A) {
          // As[k][m/4]: gather the 4x4 block and transpose it in registers.
          let t0 = As[(kq * 4u) * TM4 + lid.y];
          let t1 = As[(kq * 4u + 1u) * TM4 + lid.y];
          let t2 = As[(kq * 4u + 2u) * TM4 + lid.y];
          let t3 = As[(kq * 4u + 3u) * TM4 + lid.y];
          a0 = vec4f(t0.x, t1.x, t2.x, t3.x);
          a1 = vec4f(t0.y, t1.y, t2.y, t3.y);
          a2 = vec4f(t0.z, t1.z, t2.z, t3.z);
          a3 = vec4f(t0.w, t1.w, t2.w, t3.w);
        } else {
          a0 = As[r0 * TK4 + kq];
          a1 = As[(r0 + 1u) * TK4 + kq];
          a2 = As[(r0 + 2u) * TK4 + kq];
          a3 = As[(r0 + 3u) * TK4 + kq];
        }
        if (TRANS_B) {
          // Bs[n][k/4]: the 4 columns are vec4s over the same 4 k; dot products.
          let b0 = Bs[(c4 * 4u) * TK4 + kq];
          let b1 = Bs[(c4 * 4u + 1u) * TK4 + kq];
          let b2 = Bs[(c4 * 4u + 2u) * TK4 + kq];
          let b3 = Bs[(c4 * 4u + 3u) * TK4 + kq];
          acc0 += vec4f(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
          acc1 += vec4f(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
          acc2 += vec4f(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
          acc3 += vec4f(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
        } else {
          // Bs[k][n/4]: 4 rows of B (one per k), each a vec4 over this thread's columns.
          let b0 = Bs[(kq * 4u) * TN4 + c4];
          let b1 = Bs[(kq * 4u + 1u) * TN4 + c4];
          let b2 = Bs[(kq * 4u + 2u) * TN4 + c4];
          let b3 = Bs[(kq * 4u + 3u) * TN4 + c4];
          acc0 = fma(vec4f(a0.x), b0, fma(vec4f(a0.y), b1, fma(vec4f(a0.z), b2, fma(vec4f(a0.w), b3, acc0))));
          acc1 = fma(vec4f(a1.x), b0, fma(vec4f(a1.y), b1, fma(vec4f(a1.z), b2, fma(vec4f(a1.w), b3, acc1))));
          acc2 = fma(vec4f(a2.x), b0, fma(vec4f(a2.y), b1, fma(vec4f(a2.z), b2, fma(vec4f(a2.w), b3, acc2))));
          acc3 = fma(vec4f(a3.x), b0, fma(vec4f(a3.y), b1, fma(vec4f(a3.z), b2, fma(vec4f(a3.w), b3, acc3))));
        }
      }
    }
    workgroupBarrier();
  }

  let N4 = d.N / 4u;
  let nv = n0 / 4u + c4;
  if (nv >= N4) { return; }
  let base = z * d.strideC + nv;
  let m = m0 + r0;
  if (m < d.M) { let i = base + m * N4; C[i] = epi(i, nv, acc0); }
  if (m + 1u < d.M) { let i = base + (m + 1u) * N4; C[i] = epi(i, nv, acc1); }
  if (m + 2u < d.M) { let i = base + (m + 2u) * N4; C[i] = epi(i, nv, acc2); }
  if (m + 3u < d.M) { let i = base + (m + 3u) * N4; C[i] = epi(i, nv, acc3); }
}
