// InfoNCE row statistics (the sa->l direction: softmax of each sample over the G goals).
// One workgroup per sample row; threads stride over goals, then a fixed-shape tree
// reduction, so the result does not depend on scheduling.
// rowStats[i] = (logsumexp_g Z[i,g], Z[i, goal_i], argmax_g Z[i,g] == goal_i, sum_g Z[i,g]).
// info (u32): [goalOf (B) | a_i bits (B) | q_i bits (B) | c_g bits (G)].

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> info: array<u32>;
@group(0) @binding(2) var<storage, read_write> rowStats: array<vec4f>;
struct P { B: u32, G: u32, pad0: u32, pad1: u32 }
@group(0) @binding(3) var<uniform> p: P;

const WG = 64u;
const NEG_BIG = -3.0e38;
var<workgroup> smax: array<f32, WG>;
var<workgroup> sarg: array<u32, WG>;
var<workgroup> ssum: array<f32, WG>;
var<workgroup> stot: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = wg.x + wg.y * nwg.x;
  if (i >= p.B) { return; }
  let base = i * p.G;
  var m = NEG_BIG;
  var arg = 0xffffffffu;
  var tot = 0.0;
  for (var g = lid; g < p.G; g += WG) {
    let z = logits[base + g];
    if (z > m) { m = z; arg = g; }
    tot += z;
  }
  smax[lid] = m;
  sarg[lid] = arg;
  stot[lid] = tot;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let om = smax[lid + s];
      let oa = sarg[lid + s];
      // Ties go to the smaller goal index, as argmax does in the reference.
      if (om > smax[lid] || (om == smax[lid] && oa < sarg[lid])) { smax[lid] = om; sarg[lid] = oa; }
      stot[lid] += stot[lid + s];
    }
    workgroupBarrier();
  }
  let rowMax = smax[0];
  var se = 0.0;
  for (var g = lid; g < p.G; g += WG) { se += exp(logits[base + g] - rowMax); }
  ssum[lid] = se;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { ssum[lid] += ssum[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let goal = info[i];
    let correct = select(0.0, 1.0, sarg[0] == goal);
    rowStats[i] = vec4f(rowMax + log(ssum[0]), logits[base + goal], correct, stot[0]);
  }
}
