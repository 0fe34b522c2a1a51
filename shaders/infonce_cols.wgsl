// InfoNCE column statistics (the l->sa direction: softmax of each goal over all B samples).
// One thread per goal column, looping over samples in order; neighbouring threads read
// neighbouring addresses of each logits row, and there are no barriers (see
// infonce_rows.wgsl). colStats[g] = (logsumexp_i Z[i,g], CE_g) with
// CE_g = lse_g - sum_{i in S(g)} q_i Z[i,g] (the soft targets q sum to one over S(g));
// goals without samples get a CE the finalize step multiplies by c_g = 0.

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> info: array<u32>;
@group(0) @binding(2) var<storage, read_write> colStats: array<vec2f>;
struct P { B: u32, G: u32, pad0: u32, pad1: u32 }
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * 64u;
  if (g >= p.G) { return; }
  var m = logits[g];
  for (var i = 1u; i < p.B; i++) { m = max(m, logits[i * p.G + g]); }
  var se = 0.0;
  var qz = 0.0;
  for (var i = 0u; i < p.B; i++) {
    let z = logits[i * p.G + g];
    se += exp(z - m);
    if (info[i] == g) { qz += bitcast<f32>(info[2u * p.B + i]) * z; }
  }
  let lse = m + log(se);
  colStats[g] = vec2f(lse, lse - qz);
}
