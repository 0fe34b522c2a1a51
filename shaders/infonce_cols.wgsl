// InfoNCE column statistics (the l->sa direction: softmax of each goal over all B samples).
// One workgroup per goal column; threads stride over samples in a fixed order.
// colStats[g] = (logsumexp_i Z[i,g], CE_g) with CE_g = lse_g - sum_{i in S(g)} q_i Z[i,g]
// (the soft targets q sum to one over S(g)); goals without samples get a CE the
// finalize step multiplies by c_g = 0.

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> info: array<u32>;
@group(0) @binding(2) var<storage, read_write> colStats: array<vec2f>;
struct P { B: u32, G: u32, pad0: u32, pad1: u32 }
@group(0) @binding(3) var<uniform> p: P;

const WG = 128u;
const NEG_BIG = -3.0e38;
var<workgroup> sa: array<f32, WG>;
var<workgroup> sb: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wg.x + wg.y * nwg.x;
  if (g >= p.G) { return; }
  var m = NEG_BIG;
  for (var i = lid; i < p.B; i += WG) { m = max(m, logits[i * p.G + g]); }
  sa[lid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { sa[lid] = max(sa[lid], sa[lid + s]); }
    workgroupBarrier();
  }
  let colMax = sa[0];
  workgroupBarrier();
  var se = 0.0;
  var qz = 0.0;
  for (var i = lid; i < p.B; i += WG) {
    let z = logits[i * p.G + g];
    se += exp(z - colMax);
    if (info[i] == g) { qz += bitcast<f32>(info[2u * p.B + i]) * z; }
  }
  sa[lid] = se;
  sb[lid] = qz;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      sa[lid] += sa[lid + s];
      sb[lid] += sb[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let lse = colMax + log(sa[0]);
    colStats[g] = vec2f(lse, lse - sb[0]);
  }
}
