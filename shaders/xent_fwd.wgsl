// Softmax cross-entropy, per row of [rows, V] logits, one workgroup per row. Writes the
// row's logsumexp (kept for the backward), its weighted loss w * (lse - logit[target])
// and its weight w. A row counts (w = weight or 1) only when 0 <= target < V; an
// out-of-range target (-1 by convention) gives w = 0. Without a weight vector the TS
// side binds `targets` in its place, and HAS_W = false never reads it.
override HAS_W: bool = false;
override WG: u32 = 64u;

struct P { rows: u32, V: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<vec2f>;   // (w * nll, w)
@group(0) @binding(5) var<uniform> p: P;

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
  if (t == 0u) {
    let l = m + log(s);
    lse[row] = l;
    let tgt = targets[row];
    var w = 0.0;
    var nll = 0.0;
    if (tgt >= 0 && u32(tgt) < p.V) {
      w = 1.0;
      if (HAS_W) { w = weights[row]; }
      nll = l - logits[base + u32(tgt)];
    }
    rowLoss[row] = vec2f(w * nll, w);
  }
}
