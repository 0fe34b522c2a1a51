// Backward of row L2 normalisation, one thread per row: the row-thread twin of
// norm_l2_grad.wgsl (see there for the formula, and norm_fwd_rows.wgsl for why).
struct P { rows: u32, D: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> inv: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = gid.x + gid.y * nw.x * 64u;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  let r = inv[row];
  var s = 0.0;
  for (var j = 0u; j < p.D; j++) { s += g[base + j] * x[base + j] * r; }
  let clamped = r >= 1.0 / p.eps;
  let dot = select(s, 0.0, clamped);
  for (var j = 0u; j < p.D; j++) { dx[base + j] = r * (g[base + j] - x[base + j] * r * dot); }
}
