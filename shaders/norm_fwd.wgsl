// RMSNorm (LAYER = false) or LayerNorm (LAYER = true) over each row of [rows, D], one
// workgroup per row. Saves (mean, rstd) per row for the backward; RMSNorm's mean is 0.
// RMSNorm has no bias: the TS side binds the weight buffer in its place, and with
// LAYER specialised to false the bias is never read. rowSum comes from
// norm_sum_tree.wgsl or norm_sum_sg.wgsl, prepended by ops/norm.ts.
override LAYER: bool = false;
override WG: u32 = 64u;

struct P { rows: u32, D: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<vec2f>;
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= p.rows) { return; }
  let t = lid.x;
  let base = row * p.D;
  let invD = 1.0 / f32(p.D);
  var mean = 0.0;
  if (LAYER) {
    var s = 0.0;
    for (var j = t; j < p.D; j += WG) { s += x[base + j]; }
    mean = rowSum(t, s) * invD;
  }
  // Second pass over centred values: the variance of data with a large mean stays exact.
  var q = 0.0;
  for (var j = t; j < p.D; j += WG) { let c = x[base + j] - mean; q += c * c; }
  let rstd = inverseSqrt(rowSum(t, q) * invD + p.eps);
  for (var j = t; j < p.D; j += WG) {
    var v = (x[base + j] - mean) * rstd * w[j];
    if (LAYER) { v += b[j]; }
    y[base + j] = v;
  }
  if (t == 0u) { stats[row] = vec2f(mean, rstd); }
}
