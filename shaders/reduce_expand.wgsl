// Backward of a row reduction: dx[i] = g[i / cols] * scale (the row's gradient spread
// over the row). With cols = n it broadcasts a scalar gradient.
struct P { n: u32, cols: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i < p.n) { dx[i] = g[i / p.cols] * p.scale; }
}
