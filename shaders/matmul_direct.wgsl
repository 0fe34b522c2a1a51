// Batched C[z] = op(A[z]) * op(B[z]) for any sizes, with no workgroup memory and no
// barriers: each thread reads its operands straight from the storage buffers. This is
// the software-adapter kernel (ops/matmul.ts): on a CPU implementation such as
// SwiftShader the caches already do what the tiles of matmul.wgsl do in workgroup
// memory, while every barrier suspends and resumes each thread of the workgroup, which
// cost more than the arithmetic at training sizes.
//
// On such implementations a thread's load from a storage buffer at a run-time index is
// a per-lane gather whatever the addresses, so the cost is the number of loads per
// multiply-add: a thread owns a 4x8 block of C (12 loads for 32 FMAs per k; 4x4 measured
// ~2x slower, and larger blocks would spill the accumulators).
//
// A workgroup of WG_X x WG_Y threads covers a (4 WG_Y) x (8 WG_X) block of C. A thread
// owns rows m + WG_Y i (i < 4) and columns n + WG_X j (j < 8), strided so that
// neighbouring threads touch neighbouring addresses (coalesced, should a GPU run it).
// The accumulators are eight explicit vec4 registers (a register array indexed by a
// loop variable would live in memory). Out-of-range rows and columns read a clamped,
// valid address so the inner loop has no branches; the stores drop their results.

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
  strideA: u32, strideB: u32, strideC: u32,   // batch strides in elements (0 broadcasts)
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<storage, read> R: array<f32>;
@group(0) @binding(4) var<uniform> d: Dims;

// Stores v as C's element `i`, in column `n`, plus the epilogue.
fn put(i: u32, n: u32, v: f32) {
  if (EPI == 1u) { C[i] = v + R[i]; } else if (EPI == 2u) { C[i] = v + R[n]; } else { C[i] = v; }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let z = wid.z;
  let m = wid.y * 4u * WG_Y + lid.y;
  let n = wid.x * 8u * WG_X + lid.x;
  if (m >= d.M || n >= d.N) { return; }
  let mLast = d.M - 1u;
  let nLast = d.N - 1u;
  let m1 = min(m + WG_Y, mLast);
  let m2 = min(m + 2u * WG_Y, mLast);
  let m3 = min(m + 3u * WG_Y, mLast);
  let n1 = min(n + WG_X, nLast);
  let n2 = min(n + 2u * WG_X, nLast);
  let n3 = min(n + 3u * WG_X, nLast);
  let n4 = min(n + 4u * WG_X, nLast);
  let n5 = min(n + 5u * WG_X, nLast);
  let n6 = min(n + 6u * WG_X, nLast);
  let n7 = min(n + 7u * WG_X, nLast);
  let baseA = z * d.strideA;
  let baseB = z * d.strideB;

  var l0 = vec4f(0.0);
  var l1 = vec4f(0.0);
  var l2 = vec4f(0.0);
  var l3 = vec4f(0.0);
  var h0 = vec4f(0.0);
  var h1 = vec4f(0.0);
  var h2 = vec4f(0.0);
  var h3 = vec4f(0.0);
  for (var k = 0u; k < d.K; k++) {
    var a: vec4f;
    var bl: vec4f;
    var bh: vec4f;
    if (TRANS_A) {
      let r = baseA + k * d.M;
      a = vec4f(A[r + m], A[r + m1], A[r + m2], A[r + m3]);
    } else {
      let r = baseA + k;
      a = vec4f(A[r + m * d.K], A[r + m1 * d.K], A[r + m2 * d.K], A[r + m3 * d.K]);
    }
    if (TRANS_B) {
      let r = baseB + k;
      bl = vec4f(B[r + n * d.K], B[r + n1 * d.K], B[r + n2 * d.K], B[r + n3 * d.K]);
      bh = vec4f(B[r + n4 * d.K], B[r + n5 * d.K], B[r + n6 * d.K], B[r + n7 * d.K]);
    } else {
      let r = baseB + k * d.N;
      bl = vec4f(B[r + n], B[r + n1], B[r + n2], B[r + n3]);
      bh = vec4f(B[r + n4], B[r + n5], B[r + n6], B[r + n7]);
    }
    l0 = fma(vec4f(a.x), bl, l0);
    l1 = fma(vec4f(a.y), bl, l1);
    l2 = fma(vec4f(a.z), bl, l2);
    l3 = fma(vec4f(a.w), bl, l3);
    h0 = fma(vec4f(a.x), bh, h0);
    h1 = fma(vec4f(a.y), bh, h1);
    h2 = fma(vec4f(a.z), bh, h2);
    h3 = fma(vec4f(a.w), bh, h3);
  }

  let base = z * d.strideC;
  store(base, m, n, l0, h0);
  if (m + WG_Y < d.M) { store(base, m + WG_Y, n, l1, h1); }
  if (m + 2u * WG_Y < d.M) { store(base, m + 2u * WG_Y, n, l2, h2); }
  if (m + 3u * WG_Y < d.M) { store(base, m + 3u * WG_Y, n, l3, h3); }
}

// Row `row` of C at this thread's eight columns n, n + WG_X, ... (those inside N).
fn store(base: u32, row: u32, n: u32, lo: vec4f, hi: vec4f) {
  let o = base + row * d.N + n;
  put(o, n, lo.x);
  if (n + WG_X < d.N) { put(o + WG_X, n + WG_X, lo.y); }
  if (n + 2u * WG_X < d.N) { put(o + 2u * WG_X, n + 2u * WG_X, lo.z); }
  if (n + 3u * WG_X < d.N) { put(o + 3u * WG_X, n + 3u * WG_X, lo.w); }
  if (n + 4u * WG_X < d.N) { put(o + 4u * WG_X, n + 4u * WG_X, hi.x); }
  if (n + 5u * WG_X < d.N) { put(o + 5u * WG_X, n + 5u * WG_X, hi.y); }
  if (n + 6u * WG_X < d.N) { put(o + 6u * WG_X, n + 6u * WG_X, hi.z); }
  if (n + 7u * WG_X < d.N) { put(o + 7u * WG_X, n + 7u * WG_X, hi.w); }
}
