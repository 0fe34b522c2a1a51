// Softmax backward per row: dx = y * (g - sum(g * y)).
override WG: u32 = 64u;

struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= p.rows) { return; }
  let t = lid.x;
  let base = row * p.cols;
  var s = 0.0;
  for (var j = t; j < p.cols; j += WG) { s += g[base + j] * y[base + j]; }
  part[t] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  let dot = part[0];
  for (var j = t; j < p.cols; j += WG) { dx[base + j] = y[base + j] * (g[base + j] - dot); }
}
