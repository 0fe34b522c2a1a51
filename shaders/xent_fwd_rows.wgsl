// Softmax cross-entropy forward for software adapters: one thread per row, no
// workgroup memory and no barriers. SwiftShader runs a workgroup's threads as
// coroutines and every barrier of xent_fwd.wgsl's tree reduction swaps all of them out:
// ~20 ms for the [127, 397] BC logits of a training step. Same results (xent_common.wgsl).

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = id.x + id.y * nw.x * 64u;
  if (row >= p.rows) { return; }
  let base = row * p.V;
  var m = -3.0e38;
  for (var j = 0u; j < p.V; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.V; j++) { s += exp(logits[base + j] - m); }
  writeRow(row, m + log(s));
}
