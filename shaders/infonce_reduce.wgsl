// InfoNCE finalize: one workgroup reduces the row and column statistics into the two
// losses, their weighted sum and the diagnostics, in a fixed order (no float atomics).
//   L_sa->l = sum_i a_i (lse_i - Z[i, goal_i])      a_i = w_i / sum w  (or w_i / B)
//   L_l->sa = sum_g c_g CE_g                        c_g = 1 / #goals with samples (or |S(g)| / B)
// diag = (accuracy, mean positive logit, mean negative logit, temperature, clamped).

@group(0) @binding(0) var<storage, read> rowStats: array<vec4f>;
@group(0) @binding(1) var<storage, read> colStats: array<vec2f>;
@group(0) @binding(2) var<storage, read> info: array<u32>;
@group(0) @binding(3) var<storage, read> logScale: array<f32>;
@group(0) @binding(4) var<storage, read_write> lossSaL: array<f32>;
@group(0) @binding(5) var<storage, read_write> lossLSa: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;
@group(0) @binding(7) var<storage, read_write> diag: array<f32>;
struct P { B: u32, G: u32, maxScale: f32, wSaL: f32, wLSa: f32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(8) var<uniform> p: P;

const WG = 256u;
var<workgroup> r0: array<f32, WG>;
var<workgroup> r1: array<f32, WG>;
var<workgroup> r2: array<f32, WG>;
var<workgroup> r3: array<f32, WG>;
var<workgroup> r4: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var ls = 0.0;
  var acc = 0.0;
  var pos = 0.0;
  var tot = 0.0;
  for (var i = lid; i < p.B; i += WG) {
    let st = rowStats[i];
    ls += bitcast<f32>(info[p.B + i]) * (st.x - st.y);
    pos += st.y;
    acc += st.z;
    tot += st.w;
  }
  var ll = 0.0;
  for (var g = lid; g < p.G; g += WG) { ll += bitcast<f32>(info[3u * p.B + g]) * colStats[g].y; }
  r0[lid] = ls;
  r1[lid] = acc;
  r2[lid] = pos;
  r3[lid] = tot;
  r4[lid] = ll;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      r0[lid] += r0[lid + s];
      r1[lid] += r1[lid + s];
      r2[lid] += r2[lid + s];
      r3[lid] += r3[lid + s];
      r4[lid] += r4[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let fb = f32(p.B);
    lossSaL[0] = r0[0];
    lossLSa[0] = r4[0];
    loss[0] = p.wSaL * r0[0] + p.wLSa * r4[0];
    let raw = exp(logScale[0]);
    let scale = min(raw, p.maxScale);
    diag[0] = r1[0] / fb;
    diag[1] = r2[0] / fb;
    diag[2] = select(0.0, (r3[0] - r2[0]) / (fb * f32(p.G - 1u)), p.G > 1u);
    diag[3] = 1.0 / scale;
    diag[4] = select(0.0, 1.0, raw > p.maxScale);
  }
}
