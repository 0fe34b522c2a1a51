// Row L2 normalisation y = x / max(|x|, eps), one workgroup per row; saves 1/max(|x|, eps).
override WG: u32 = 64u;

struct P { rows: u32, D: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> inv: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= p.rows) { return; }
  let t = lid.x;
  let base = row * p.D;
  var q = 0.0;
  for (var j = t; j < p.D; j += WG) { let v = x[base + j]; q += v * v; }
  part[t] = q;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  let r = 1.0 / max(sqrt(part[0]), p.eps);
  for (var j = t; j < p.D; j += WG) { y[base + j] = x[base + j] * r; }
  if (t == 0u) { inv[row] = r; }
}
