// Row L2 normalisation y = x / max(|x|, eps), one thread per row: the row-thread twin
// of norm_l2.wgsl (no barriers, see norm_fwd_rows.wgsl for why). Saves 1/max(|x|, eps).
struct P { rows: u32, D: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> inv: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = gid.x + gid.y * nw.x * 64u;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  var q = 0.0;
  for (var j = 0u; j < p.D; j++) { let v = x[base + j]; q += v * v; }
  let r = 1.0 / max(sqrt(q), p.eps);
  for (var j = 0u; j < p.D; j++) { y[base + j] = x[base + j] * r; }
  inv[row] = r;
}
