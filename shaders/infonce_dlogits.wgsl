// InfoNCE backward, gradient of the logits. One thread per sample row (no barriers, see
// infonce_rows.wgsl):
//   dZ[i,g] = gSa a_i (softmax_g(Z[i,:])_g - [g = goal_i])
//           + gLSa c_g (softmax_i(Z[:,g])_i - q_i [g = goal_i])
// with the upstream scalar read from a GPU buffer (gSa = up[0] * mSa, gLSa = up[0] * mLSa),
// so one rule serves L_sa->l, L_l->sa and their weighted sum without a readback. Each row
// also writes sum_g dZ[i,g] Z[i,g], its share of d/ds (dZ/ds = Z when not clamped).

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> rowStats: array<vec4f>;
@group(0) @binding(2) var<storage, read> colStats: array<vec2f>;
@group(0) @binding(3) var<storage, read> info: array<u32>;
@group(0) @binding(4) var<storage, read> up: array<f32>;
@group(0) @binding(5) var<storage, read_write> dZ: array<f32>;
@group(0) @binding(6) var<storage, read_write> rowPart: array<f32>;
struct P { B: u32, G: u32, mSa: f32, mLSa: f32 }
@group(0) @binding(7) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.B) { return; }
  let gSa = up[0] * p.mSa;
  let gLSa = up[0] * p.mLSa;
  let goal = info[i];
  let ai = gSa * bitcast<f32>(info[p.B + i]);
  let qi = bitcast<f32>(info[2u * p.B + i]);
  let lse = rowStats[i].x;
  let base = i * p.G;
  var part = 0.0;
  for (var g = 0u; g < p.G; g++) {
    let z = logits[base + g];
    let own = g == goal;
    let cg = gLSa * bitcast<f32>(info[3u * p.B + g]);
    let v = ai * (exp(z - lse) - select(0.0, 1.0, own)) + cg * (exp(z - colStats[g].x) - select(0.0, qi, own));
    dZ[base + g] = v;
    part += v * z;
  }
  rowPart[i] = part;
}
