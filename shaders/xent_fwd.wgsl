// Softmax cross-entropy, per row of [rows, V] logits, one workgroup per row (a tree
// reduction in workgroup memory, for GPUs; xent_fwd_rows.wgsl is the software-adapter
// kernel). Writes the row's logsumexp, weighted loss and weight (xent_common.wgsl).
override WG: u32 = 64u;

var<workgroup> part: array<f32, WG>;

fn reduceWorkgroup(t: u32, v: f32, isMax: bool) -> f32 {
  part[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (t < s) {
      if (isMax) { part[t] = max(part[t], part[t + s]); } else { part[t] = part[t] + part[t + s]; }
    }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= p.rows) { return; }
  let t = lid.x;
  let base = row * p.V;
  var m = -3.0e38;
  for (var j = t; j < p.V; j += WG) { m = max(m, logits[base + j]); }
  m = reduceWorkgroup(t, m, true);
  var s = 0.0;
  for (var j = t; j < p.V; j += WG) { s += exp(logits[base + j] - m); }
  s = reduceWorkgroup(t, s, false);
  if (t == 0u) { writeRow(row, m + log(s)); }
}
