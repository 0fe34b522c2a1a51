// RMSNorm (LAYER = false) or LayerNorm (LAYER = true), one thread per row of [rows, D]:
// the row-thread twin of norm_fwd.wgsl, same maths and the same saved (mean, rstd).
// Sequential sums and no workgroup memory or barriers: on CPU implementations
// (SwiftShader) a barrier costs far more than a short row's arithmetic, and on GPUs
// many short rows keep enough threads busy. Chosen on the TS side (ops/norm.ts).
override LAYER: bool = false;

struct P { rows: u32, D: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<vec2f>;
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = gid.x + gid.y * nw.x * 64u;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  let invD = 1.0 / f32(p.D);
  var mean = 0.0;
  if (LAYER) {
    var s = 0.0;
    for (var j = 0u; j < p.D; j++) { s += x[base + j]; }
    mean = s * invD;
  }
  // Second pass over centred values: the variance of data with a large mean stays exact.
  var q = 0.0;
  for (var j = 0u; j < p.D; j++) { let c = x[base + j] - mean; q += c * c; }
  let rstd = inverseSqrt(q * invD + p.eps);
  for (var j = 0u; j < p.D; j++) {
    var v = (x[base + j] - mean) * rstd * w[j];
    if (LAYER) { v += b[j]; }
    y[base + j] = v;
  }
  stats[row] = vec2f(mean, rstd);
}
