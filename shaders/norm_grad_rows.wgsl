// Input gradient of RMSNorm / LayerNorm, one thread per row: the row-thread twin of
// norm_grad.wgsl (see there for the formulas, and norm_fwd_rows.wgsl for why).
override LAYER: bool = false;

struct P { rows: u32, D: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = gid.x + gid.y * nw.x * 64u;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  let st = stats[row];
  // (sum gw, sum gw * xhat) in one pass.
  var s = vec2f(0.0);
  for (var j = 0u; j < p.D; j++) {
    let gw = g[base + j] * w[j];
    s += vec2f(gw, gw * (x[base + j] - st.x) * st.y);
  }
  let invD = 1.0 / f32(p.D);
  var meanGw = 0.0;
  if (LAYER) { meanGw = s.x * invD; }
  let meanGwX = s.y * invD;
  for (var j = 0u; j < p.D; j++) {
    let xhat = (x[base + j] - st.x) * st.y;
    dx[base + j] = st.y * (g[base + j] * w[j] - meanGw - xhat * meanGwX);
  }
}
