// Input gradient of RMSNorm / LayerNorm per row, from the saved (mean, rstd):
//   xhat = (x - mean) * rstd,  gw = g * w
//   RMSNorm:   dx = rstd * (gw - xhat * mean(gw * xhat))
//   LayerNorm: dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
// rowSum2 comes from norm_sum_tree.wgsl or norm_sum_sg.wgsl, prepended by ops/norm.ts.
override LAYER: bool = false;
override WG: u32 = 64u;

struct P { rows: u32, D: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= p.rows) { return; }
  let t = lid.x;
  let base = row * p.D;
  let st = stats[row];
  // (sum gw, sum gw * xhat) reduced together.
  var s = vec2f(0.0);
  for (var j = t; j < p.D; j += WG) {
    let gw = g[base + j] * w[j];
    s += vec2f(gw, gw * (x[base + j] - st.x) * st.y);
  }
  let total = rowSum2(t, s);
  let invD = 1.0 / f32(p.D);
  var meanGw = 0.0;
  if (LAYER) { meanGw = total.x * invD; }
  let meanGwX = total.y * invD;
  for (var j = t; j < p.D; j += WG) {
    let xhat = (x[base + j] - st.x) * st.y;
    dx[base + j] = st.y * (g[base + j] * w[j] - meanGw - xhat * meanGwX);
  }
}
