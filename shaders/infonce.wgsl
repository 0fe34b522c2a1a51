// InfoNCE scaled matmul: C[M, N] = min(exp(s), maxScale) * op(A)[M, K] * op(B)[K, N].
// One kernel serves the three products of the loss:
//   logits = c * phi psi^T          (TRANS_B: psi is stored [G, d])
//   dphi   = c * dZ psi             (no transposes)
//   dpsi   = c * dZ^T phi           (TRANS_A: dZ is stored [B, G])
// The scale is read from the log-scale buffer on the GPU so a learnable temperature
// never forces a readback. Each workgroup owns a 64x64 output tile, each thread a 4x4
// block, the K loop walks 16-wide slabs staged in workgroup memory. Every output is a
// sum in a fixed order, so results are bit-identical run to run.

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> logScale: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
struct P { M: u32, N: u32, K: u32, maxScale: f32 }
@group(0) @binding(4) var<uniform> p: P;

const TILE = 64u;
const KT = 16u;
// Tiles are stored k-major as vec4s of 4 consecutive rows (A) or columns (B), so the
// inner product reads one vec4 of each and does four vec4 FMAs into registers.
var<workgroup> As: array<vec4f, 256>; // [KT][TILE / 4]
var<workgroup> Bs: array<vec4f, 256>; // [KT][TILE / 4]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * TILE;
  let col0 = wg.x * TILE;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k0 = 0u; k0 < p.K; k0 += KT) {
    for (var e = 0u; e < 4u; e++) {
      let idx = li + e * 256u;
      // Pick the index split so that consecutive threads read consecutive addresses.
      var kk: u32;
      var m: u32;
      if (TRANS_A) { kk = idx / TILE; m = idx % TILE; } else { m = idx / KT; kk = idx % KT; }
      var gm = row0 + m;
      var gk = k0 + kk;
      var v = 0.0;
      if (gm < p.M && gk < p.K) {
        if (TRANS_A) { v = a[gk * p.M + gm]; } else { v = a[gm * p.K + gk]; }
      }
      As[kk * 16u + m / 4u][m % 4u] = v;

      var n: u32;
      if (TRANS_B) { n = idx / KT; kk = idx % KT; } else { kk = idx / TILE; n = idx % TILE; }
      let gn = col0 + n;
      gk = k0 + kk;
      v = 0.0;
      if (gn < p.N && gk < p.K) {
        if (TRANS_B) { v = b[gn * p.K + gk]; } else { v = b[gk * p.N + gn]; }
      }
      Bs[kk * 16u + n / 4u][n % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT; kk++) {
      let av = As[kk * 16u + lid.y];
      let bv = Bs[kk * 16u + lid.x];
      acc0 = fma(vec4f(av.x), bv, acc0);
      acc1 = fma(vec4f(av.y), bv, acc1);
      acc2 = fma(vec4f(av.z), bv, acc2);
      acc3 = fma(vec4f(av.w), bv, acc3);
    }
    workgroupBarrier();
  }
  let scale = min(exp(logScale[0]), p.maxScale);
  let acc = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r++) {
    let gm = row0 + lid.y * 4u + r;
    if (gm >= p.M) { break; }
    for (var q = 0u; q < 4u; q++) {
      let gn = col0 + lid.x * 4u + q;
      if (gn < p.N) { c[gm * p.N + gn] = scale * acc[r][q]; }
    }
  }
}
