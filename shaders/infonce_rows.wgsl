// InfoNCE row statistics (the sa->l direction: softmax of each sample over the G goals).
// One thread per sample row, looping over the goals in order: G is at most a few
// hundred, and with no barriers this is also fast on CPU implementations (SwiftShader),
// where workgroup barriers cost far more than the arithmetic. Sequential sums keep the
// result bit-reproducible.
// rowStats[i] = (logsumexp_g Z[i,g], Z[i, goal_i], argmax_g Z[i,g] == goal_i, sum_g Z[i,g]).
// info (u32): [goalOf (B) | a_i bits (B) | q_i bits (B) | c_g bits (G)].

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> info: array<u32>;
@group(0) @binding(2) var<storage, read_write> rowStats: array<vec4f>;
struct P { B: u32, G: u32, pad0: u32, pad1: u32 }
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.B) { return; }
  let base = i * p.G;
  // Strict '>' keeps the first index on ties, as argmax does in the reference.
  var m = logits[base];
  var arg = 0u;
  var tot = 0.0;
  for (var g = 0u; g < p.G; g++) {
    let z = logits[base + g];
    if (z > m) { m = z; arg = g; }
    tot += z;
  }
  var se = 0.0;
  for (var g = 0u; g < p.G; g++) { se += exp(logits[base + g] - m); }
  let goal = info[i];
  rowStats[i] = vec4f(m + log(se), logits[base + goal], select(0.0, 1.0, arg == goal), tot);
}
