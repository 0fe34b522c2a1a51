// logsumexp backward: dx[i] = g[row] * exp(x[i] - lse[row]) (the row's softmax).
struct P { n: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> lse: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i < p.n) {
    let r = i / p.cols;
    dx[i] = g[r] * exp(x[i] - lse[r]);
  }
}
