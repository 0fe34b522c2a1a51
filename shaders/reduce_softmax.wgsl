// Softmax over each row of a [rows, cols] view, one workgroup per row: max, then the
// sum of exp(x - max), then the normalised values.
override WG: u32 = 64u;

struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> part: array<f32, WG>;

fn reduceWorkgroup(t: u32, v: f32, isMax: bool) -> f32 {
  part[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (t < s) {
      if (isMax) { part[t] = max(part[t], part[t + s]); } else { part[t] = part[t] + part[t + s]; }
    }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= p.rows) { return; }
  let t = lid.x;
  let base = row * p.cols;
  var m = -3.0e38;
  for (var j = t; j < p.cols; j += WG) { m = max(m, x[base + j]); }
  m = reduceWorkgroup(t, m, true);
  var s = 0.0;
  for (var j = t; j < p.cols; j += WG) { s += exp(x[base + j] - m); }
  s = reduceWorkgroup(t, s, false);
  let inv = 1.0 / s;
  for (var j = t; j < p.cols; j += WG) { y[base + j] = exp(x[base + j] - m) * inv; }
}
