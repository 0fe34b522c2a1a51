// Input gradient of RMSNorm / LayerNorm per row, from the saved (mean, rstd):
//   xhat = (x - mean) * rstd,  gw = g * w
//   RMSNorm:   dx = rstd * (gw - xhat * mean(gw * xhat))
//   LayerNorm: dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
override LAYER: bool = false;
override WG: u32 = 64u;

struct P { rows: u32, D: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> p: P;

var<workgroup> part: array<vec2f, WG>;

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
  part[t] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  let invD = 1.0 / f32(p.D);
  var meanGw = 0.0;
  if (LAYER) { meanGw = part[0].x * invD; }
  let meanGwX = part[0].y * invD;
  for (var j = t; j < p.D; j += WG) {
    let xhat = (x[base + j] - st.x) * st.y;
    dx[base + j] = st.y * (g[base + j] * w[j] - meanGw - xhat * meanGwX);
  }
}
