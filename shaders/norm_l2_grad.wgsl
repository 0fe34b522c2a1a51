// Backward of y = x / max(|x|, eps): dx = r * (g - y * (g . y)) with r = 1/|x| where
// the norm is above eps; below it the scale is the constant 1/eps, so dx = r * g.
override WG: u32 = 64u;

struct P { rows: u32, D: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> inv: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= p.rows) { return; }
  let t = lid.x;
  let base = row * p.D;
  let r = inv[row];
  var s = 0.0;
  for (var j = t; j < p.D; j += WG) { s += g[base + j] * x[base + j] * r; }
  part[t] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  let clamped = r >= 1.0 / p.eps;
  let dot = select(part[0], 0.0, clamped);
  for (var j = t; j < p.D; j += WG) { dx[base + j] = r * (g[base + j] - x[base + j] * r * dot); }
}
